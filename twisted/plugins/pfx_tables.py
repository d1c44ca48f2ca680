"""The built-in lookup table types as twisted.plugin providers of pfx.interfaces.ITableType.

One module-level instance per type (``hash``, ``regexp``, ...), made from the single
list in pfx.tables.types so the two cannot drift apart. Nothing heavy is imported
here: each type loads its module when a table is opened.
"""

from pfx.tables.types import BUILTIN, LazyTableType

for _name, _description, _module, _factory in BUILTIN:
    globals()[_name] = LazyTableType(_name, _description, _module, _factory)
del _name, _description, _module, _factory
