"""``type:name`` -> ILookupTable through the installed ITableType plugins (dict_open.c).

Pure: the caller passes the types it discovered (``twisted.plugin.getPlugins`` in the
application, a plain dict in tests). A table whose type is not installed or that cannot
be opened becomes a surrogate (dict_surrogate.c) whose lookups fail *soft* with
TableRetry and a warning naming the table, so mail is deferred, never bounced, and the
daemon keeps running. The surrogate tries to open the table again now and then, so a
table that appears later is picked up without a restart.
"""

import re
import time

from zope.interface import implementer

from pfx.errors import TableConfigError, TableRetry
from pfx.interfaces import ILookupTable
from pfx.tables.base import TableFlags, log

_TYPE_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def parse_spec(spec):
    """``"type:name"`` -> ``(type, name)``; ``proxy:hash:/x`` -> ``("proxy", "hash:/x")``."""
    spec = spec.strip()
    kind, sep, name = spec.partition(":")
    if not sep or not kind or not _TYPE_RE.match(kind):
        raise TableConfigError(f'open "{spec}": need "type:name" form')
    if not name:
        raise TableConfigError(f'open "{spec}": need "type:name" form (empty name)')
    return kind, name


def types_by_name(providers):
    """Installed ITableType providers (e.g. from getPlugins) -> {name: provider}.

    The first provider of a name wins, so a third party cannot silently replace a
    built-in type by installing one with the same name later in the path.
    """
    table = {}
    for provider in providers:
        table.setdefault(provider.name, provider)
    return table


@implementer(ILookupTable)
class SurrogateTable:
    """Stands in for a table that could not be opened: every lookup is a soft error."""

    def __init__(self, spec, reason, reopen=None, retry_interval=60.0, clock=time.monotonic,
                 warn=None):
        self.spec = spec
        self.reason = reason
        self._reopen = reopen
        self._retry_interval = retry_interval
        self._clock = clock
        self._next_try = clock() + retry_interval
        self._warn = warn or (lambda message: log.warning("%s", message))
        self._real = None

    def lookup(self, key):
        if self._real is None and self._reopen is not None and self._clock() >= self._next_try:
            self._next_try = self._clock() + self._retry_interval
            try:
                self._real = self._reopen()
            except Exception as e:
                self.reason = str(e)
        if self._real is not None:
            return self._real.lookup(key)
        self._warn(f"{self.spec} is unavailable. {self.reason}")
        raise TableRetry(f"{self.spec}: table lookup problem: {self.reason}")

    def __repr__(self):
        return f"<SurrogateTable {self.spec}: {self.reason}>"


class Registry:
    """Opens tables by ``type:name`` with the installed types; caches one table per spec.

    ``types`` maps type name -> ITableType provider. ``warn`` receives one-line
    warnings (default: the ``pfx.tables`` logger). ``fold`` is the default key folding.
    """

    def __init__(self, types, warn=None, fold=True, retry_interval=60.0, clock=time.monotonic):
        self.types = dict(types)
        self._warn = warn or (lambda message: log.warning("%s", message))
        self._fold = fold
        self._retry_interval = retry_interval
        self._clock = clock
        self._cache = {}

    def type_names(self):
        """Sorted installed type names: what ``postconf -m`` prints."""
        return sorted(self.types)

    def flags(self, fold=None):
        """The TableFlags this registry passes to ITableType.open()."""
        return TableFlags(fold=self._fold if fold is None else fold,
                          opener=self.open, warn=self._warn)

    def open_strict(self, spec, flags=None):
        """Open ``spec`` or raise TableConfigError (for postmap, which must fail loudly)."""
        kind, name = parse_spec(spec)
        provider = self.types.get(kind)
        if provider is None:
            raise TableConfigError(f"unsupported dictionary type: {kind}")
        flags = self.flags() if flags is None else flags
        if flags.opener is None or flags.warn is None:
            flags = TableFlags(fold=flags.fold, opener=flags.opener or self.open,
                               warn=flags.warn or self._warn)
        try:
            return provider.open(name, flags)
        except TableConfigError:
            raise
        except (OSError, ValueError) as e:
            # A plugin that let a plain error escape: still a config problem, not a crash.
            raise TableConfigError(f"{kind}:{name}: {e}") from e

    def open(self, spec, flags=None):
        """Open ``spec``; never raises: a failure gives a soft-failing SurrogateTable."""
        spec = spec.strip()
        key = (spec, None if flags is None else flags.fold)
        table = self._cache.get(key)
        if table is not None:
            return table
        try:
            table = self.open_strict(spec, flags)
        except Exception as e:  # a broken plugin too: the daemon must keep running
            reason = str(e) if isinstance(e, TableConfigError) else f"{type(e).__name__}: {e}"
            if not isinstance(e, TableConfigError):
                log.exception("opening %s", spec)
            self._warn(f"{spec} is unavailable. {reason}")
            table = SurrogateTable(spec, reason, reopen=lambda: self.open_strict(spec, flags),
                                   retry_interval=self._retry_interval, clock=self._clock,
                                   warn=self._warn)
        self._cache[key] = table
        return table

    def open_list(self, text, flags=None):
        """``"hash:/a, regexp:/b"`` -> one TableChain searched in order."""
        from pfx.tables.chain import TableChain, split_table_list

        return TableChain([self.open(spec, flags) for spec in split_table_list(text)],
                          names=split_table_list(text))
