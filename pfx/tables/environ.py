"""``environ:name``: look keys up in this process's environment (the name is not used).

As Postfix's dict_env, the key is folded to lower case first unless the table was opened
without folding (``postmap -f``): with the default flags ``environ:x`` finds ``tz`` but
never ``TZ`` (checked with Postfix 3.7's postmap)."""

import os

from zope.interface import implementer

from pfx.interfaces import ILookupTable
from pfx.tables.base import flags_or_default, fold_key


@implementer(ILookupTable)
class EnvironTable:
    def __init__(self, environ=None, fold=True):
        # Read live: Postfix's dict_env uses getenv() at lookup time.
        self._environ = os.environ if environ is None else environ
        self.fold = fold

    def lookup(self, key):
        return self._environ.get(fold_key(key) if self.fold else key)


def open_environ(name, flags):
    return EnvironTable(fold=flags_or_default(flags).fold)
