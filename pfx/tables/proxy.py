"""``proxy:type:name``: accepted and passed straight to the inner table.

Postfix's proxymap exists to share one open table among chrooted processes; pfx runs
as one process, so the inner table is simply opened here (through the registry, so it
fails soft like any other).
"""

from pfx.errors import TableConfigError
from pfx.tables.base import flags_or_default


def open_proxy(name, flags):
    flags = flags_or_default(flags)
    if flags.opener is None:
        raise TableConfigError(f"proxy:{name}: needs a table registry to open the inner table")
    if ":" not in name:
        raise TableConfigError(f'proxy:{name}: need "proxy:type:name" form')
    return flags.opener(name)
