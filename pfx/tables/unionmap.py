"""``unionmap:{t1, t2}`` (every table's answer, comma-joined) and ``pipemap:{t1, t2}``
(each table's answer is the next table's key), Postfix's dict_union and dict_pipe.

Both open their member tables through the registry (``flags.opener``), so a member
that cannot be opened is a soft-failing surrogate and the whole lookup is a soft error.
Members must answer synchronously.
"""

from zope.interface import implementer

from pfx.errors import TableConfigError
from pfx.interfaces import ILookupTable
from pfx.tables.base import brace_content, flags_or_default, split_braced_list


def _open_members(kind, name, flags):
    flags = flags_or_default(flags)
    if flags.opener is None:
        raise TableConfigError(f"{kind}:{name}: needs a table registry to open its members")
    specs = split_braced_list(brace_content(name, f"{kind}:{name}"))
    if not specs:
        raise TableConfigError(f"{kind}:{name}: empty table list")
    # One table is allowed, for pipemap too: Postfix 3.7's postmap answers from it.
    return [flags.opener(spec) for spec in specs]


@implementer(ILookupTable)
class UnionTable:
    def __init__(self, tables):
        self.tables = tables

    def lookup(self, key):
        found = [value for value in (t.lookup(key) for t in self.tables) if value is not None]
        return ",".join(found) if found else None


@implementer(ILookupTable)
class PipeTable:
    def __init__(self, tables):
        self.tables = tables

    def lookup(self, key):
        for table in self.tables:
            key = table.lookup(key)
            if key is None:
                return None
        return key


def open_unionmap(name, flags):
    return UnionTable(_open_members("unionmap", name, flags))


def open_pipemap(name, flags):
    return PipeTable(_open_members("pipemap", name, flags))
