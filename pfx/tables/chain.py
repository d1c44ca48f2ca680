"""A list of tables searched in order, as one ILookupTable (Postfix's maps.c).

The first table that knows the key answers. A soft error stops the search at once
(Postfix's maps_find does the same): answering from a later table while an earlier one
is down could give a different, wrong answer. A table may answer with a Deferred
(network tables); the chain then continues on that Deferred's callback chain, without
importing Twisted.
"""

from zope.interface import implementer

from pfx.errors import TableRetry
from pfx.interfaces import ILookupTable
from pfx.tables.base import log, split_braced_list


def safe_lookup(table, key):
    """``table.lookup(key)``, with any unexpected exception turned into a soft error.

    A bug in a (third-party) table type must defer mail, not crash the caller; the
    traceback goes to the log.
    """
    try:
        return table.lookup(key)
    except TableRetry:
        raise
    except Exception as e:
        log.exception("table %r: lookup of %r failed", table, key)
        raise TableRetry(f"{table!r}: lookup failed: {type(e).__name__}: {e}") from e


def split_table_list(text):
    """``"hash:/a, inline:{a=b, c=d} regexp:/b"`` -> specs; braces keep their commas."""
    return split_braced_list(text)


@implementer(ILookupTable)
class TableChain:
    """Search ``tables`` in order; ``names`` (same order) label them in messages."""

    def __init__(self, tables, names=None):
        self.tables = list(tables)
        self.names = list(names) if names is not None else [repr(t) for t in self.tables]

    def lookup(self, key):
        return self._from(0, key)

    def _from(self, index, key):
        for i in range(index, len(self.tables)):
            value = safe_lookup(self.tables[i], key)
            if value is None:
                continue
            if hasattr(value, "addCallback"):
                return value.addCallback(self._after_deferred, i, key)
            return value
        return None

    def _after_deferred(self, value, index, key):
        return value if value is not None else self._from(index + 1, key)

    def __len__(self):
        return len(self.tables)
