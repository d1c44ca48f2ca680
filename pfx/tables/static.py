"""``static:value`` and ``static:{ value with spaces }``: every key finds the same value."""

from zope.interface import implementer

from pfx.interfaces import ILookupTable


@implementer(ILookupTable)
class StaticTable:
    def __init__(self, value):
        self.value = value

    def lookup(self, key):
        return self.value


def open_static(name, flags):
    name = name.strip()
    if name.startswith("{") and name.endswith("}"):
        name = name[1:-1].strip()
    return StaticTable(name)
