"""``fail:name``: a table that reliably fails every lookup (Postfix's dict_fail, for tests)."""

from zope.interface import implementer

from pfx.errors import TableRetry
from pfx.interfaces import ILookupTable


@implementer(ILookupTable)
class FailTable:
    def __init__(self, name):
        self.name = name

    def lookup(self, key):
        raise TableRetry(f"fail:{self.name}: Application error")


def open_fail(name, flags):
    return FailTable(name)
