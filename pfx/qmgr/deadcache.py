"""Short-term memory of dead destinations and transports (pure, clock-injected)."""

# While a (transport, destination) is dead, qmgr defers its recipients at once instead
# of trying to deliver. Entries expire by themselves (the clock is read lazily, no
# timers) and the F trigger forgets all of them.

from collections import OrderedDict

import attrs

from pfx.dsn import Dsn

#: the prefix qmgr_deliver.c puts in front of a dead destination's reason
SUSPENDED = "delivery temporarily suspended: "
#: what recipients of a transport that cannot be reached are told (qmgr_deliver.c)
TRANSPORT_UNAVAILABLE = "mail transport unavailable"


@attrs.frozen
class Suspension:
    """Why and until when deliveries somewhere are suspended."""

    dsn: Dsn
    text: str
    until: float


class DeadCache:
    """Dead destinations and transports, bounded in size, each revived after a delay."""

    # Postfix resumes a dead destination after minimal_backoff_time (qmgr_queue_throttle)
    # and a dead transport after transport_retry_time; both are passed in.

    def __init__(self, clock, destination_retry: float = 300, transport_retry: float = 60,
                 limit: int = 20000):
        self._clock = clock
        self.destination_retry, self.transport_retry = destination_retry, transport_retry
        # qmgr_message_recipient_limit also bounds Postfix's dead-destination memory
        self.limit = limit
        self._destinations: OrderedDict[tuple[str, str], Suspension] = OrderedDict()
        self._transports: dict[str, Suspension] = {}

    def __len__(self):
        return len(self._destinations) + len(self._transports)

    def kill_destination(self, transport: str, destination: str, dsn: Dsn,
                         reason: str) -> Suspension:
        """Suspend a destination; ``reason`` is the failed delivery's own text."""
        if dsn.klass != "4":
            raise ValueError(f"a dead destination needs a 4.x.x status, not {dsn}")
        text = reason if reason.startswith(SUSPENDED) else SUSPENDED + reason
        gone = Suspension(dsn, text, self._clock.seconds() + self.destination_retry)
        key = (transport, destination)
        self._destinations.pop(key, None)
        self._destinations[key] = gone
        while len(self._destinations) > self.limit:
            self._destinations.popitem(last=False)  # forget the oldest news first
        return gone

    def kill_transport(self, transport: str, text: str = TRANSPORT_UNAVAILABLE,
                       dsn: Dsn = Dsn("4.3.0")) -> Suspension:
        """Suspend every delivery through a transport (agent missing or crashing)."""
        gone = Suspension(dsn, text, self._clock.seconds() + self.transport_retry)
        self._transports[transport] = gone
        return gone

    def destination(self, transport: str, destination: str) -> Suspension | None:
        """The destination's suspension, or None when it may be tried."""
        key = (transport, destination)
        gone = self._destinations.get(key)
        if gone is not None and self._clock.seconds() >= gone.until:
            del self._destinations[key]
            return None
        return gone

    def transport(self, transport: str) -> Suspension | None:
        """The transport's suspension, or None when it may be used."""
        gone = self._transports.get(transport)
        if gone is not None and self._clock.seconds() >= gone.until:
            del self._transports[transport]
            return None
        return gone

    def revive_destination(self, transport: str, destination: str) -> bool:
        """A delivery there succeeded after all; True if it was dead."""
        return self._destinations.pop((transport, destination), None) is not None

    def revive_transport(self, transport: str) -> bool:
        return self._transports.pop(transport, None) is not None

    def flush(self) -> int:
        """The F trigger: forget every dead destination and transport; returns how many."""
        count = len(self)
        self._destinations.clear()
        self._transports.clear()
        return count

    def next_expiry(self) -> float | None:
        """The earliest time something comes back to life, for the service's timer."""
        times = [s.until for s in self._destinations.values()]
        times += [s.until for s in self._transports.values()]
        return min(times, default=None)
