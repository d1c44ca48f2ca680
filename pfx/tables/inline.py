"""``inline:{ key=value, { key = text with spaces } }``: a table written in main.cf."""

from zope.interface import implementer

from pfx.errors import TableConfigError
from pfx.interfaces import ILookupTable
from pfx.tables.base import brace_content, flags_or_default, fold_key, split_braced_list


@implementer(ILookupTable)
class DictTable:
    """A plain in-memory table; keys were folded when it was built if ``fold``."""

    def __init__(self, entries, fold=True):
        self.entries = entries
        self.fold = fold

    def lookup(self, key):
        return self.entries.get(fold_key(key) if self.fold else key)

    def items(self):
        return self.entries.items()


def parse_inline(name, fold=True):
    """The ``{...}`` text -> {key: value}; Postfix's split_qnameval per element."""
    body = brace_content(name, f"inline:{name}")
    entries = {}
    for element in split_braced_list(body):
        if element.startswith("{"):
            element = brace_content(element, f"inline:{name}")
        key, sep, value = element.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise TableConfigError(
                f'inline:{name}: "{element}": missing \'=\' after attribute name')
        entries.setdefault(fold_key(key) if fold else key, value)
    if not entries:
        raise TableConfigError(f"inline:{name}: empty table")
    return entries


def open_inline(name, flags):
    fold = flags_or_default(flags).fold
    return DictTable(parse_inline(name, fold), fold)
