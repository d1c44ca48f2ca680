"""Connection reuse: idle SMTP/LMTP connections kept per server for the next delivery.

Postfix's scache with smtp_connection_cache_time_limit (how long a connection may sit
idle), smtp_connection_reuse_time_limit (how long since it was opened) and
smtp_connection_reuse_count_limit (0: no limit). A cached connection is checked with
RSET before use (the session does that); one that the server closed is dropped.

Security: a connection is reused only for the same next hop, address and port, so a
session's TLS and SASL state never serve a different destination.
"""

import attrs


@attrs.define
class _Entry:
    proto: object
    born: float
    uses: int
    timer: object = None


def cache_key(target) -> tuple:
    return (target.kind, target.addr, target.port, target.nexthop)


class ConnectionCache:
    """Idle connections by server; the clock is injected, the closer sends QUIT and closes."""

    def __init__(self, clock, idle_limit, reuse_time_limit, reuse_count_limit, closer):
        self.clock = clock
        self.idle_limit, self.reuse_time_limit = idle_limit, reuse_time_limit
        self.reuse_count_limit = reuse_count_limit
        self.closer = closer
        self._idle: dict[tuple, list[_Entry]] = {}

    def take(self, target):
        """(proto, born, uses) of a live idle connection to ``target``, or None."""
        entries = self._idle.get(cache_key(target), [])
        while entries:
            entry = entries.pop()
            self._cancel(entry)
            if not entry.proto.lost:
                return entry.proto, entry.born, entry.uses
        return None

    def put(self, target, proto, born, uses) -> bool:
        """Keep ``proto`` for reuse unless a limit says no (then the caller QUITs)."""
        if proto.lost or self.clock.seconds() - born >= self.reuse_time_limit:
            return False
        if self.reuse_count_limit and uses >= self.reuse_count_limit:
            return False
        entry = _Entry(proto, born, uses)
        entry.timer = self.clock.callLater(self.idle_limit, self._expire, target, entry)
        self._idle.setdefault(cache_key(target), []).append(entry)
        return True

    def close_all(self):
        for entries in self._idle.values():
            for entry in entries:
                self._cancel(entry)
                self.closer(entry.proto)
        self._idle.clear()

    def __len__(self):
        return sum(len(e) for e in self._idle.values())

    def _expire(self, target, entry):
        entry.timer = None
        entries = self._idle.get(cache_key(target), [])
        if entry in entries:
            entries.remove(entry)
            self.closer(entry.proto)

    @staticmethod
    def _cancel(entry):
        if entry.timer is not None and entry.timer.active():
            entry.timer.cancel()
        entry.timer = None
