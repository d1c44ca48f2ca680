"""``environ:name``: look keys up in this process's environment (the name is not used)."""

import os

from zope.interface import implementer

from pfx.interfaces import ILookupTable


@implementer(ILookupTable)
class EnvironTable:
    def __init__(self, environ=None):
        # Read live: Postfix's dict_env uses getenv() at lookup time.
        self._environ = os.environ if environ is None else environ

    def lookup(self, key):
        return self._environ.get(key)


def open_environ(name, flags):
    return EnvironTable()
