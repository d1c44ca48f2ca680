"""qmgr's one-byte triggers and the incoming/deferred scan state they drive (pure)."""

import enum

import attrs

from pfx.qmgr.feed import DEFERRED, INCOMING


class ScanFlags(enum.IntFlag):
    """What a trigger asks of a queue scan (qmgr.h's QMGR_SCAN_* and QMGR_FLUSH_*)."""

    START = 1  # I, W (incoming) or D (deferred): scan now, or again after this one
    ALL = 2  # A: ignore deferred files' retry times
    FLUSH_DEAD = 4  # F: forget dead destinations and transports
    OVERRIDE_DEFER = 8  # F: let defer_transports mail go during the next scan


_BY_BYTE = {
    ord("I"): (ScanFlags.START, ScanFlags(0)),
    ord("W"): (ScanFlags.START, ScanFlags(0)),  # the master's wakeup: an incoming scan
    ord("D"): (ScanFlags(0), ScanFlags.START),
    ord("A"): (ScanFlags.ALL, ScanFlags.ALL),
    ord("F"): (ScanFlags.FLUSH_DEAD | ScanFlags.OVERRIDE_DEFER,) * 2,
}


def parse(data: bytes) -> tuple[ScanFlags, ScanFlags]:
    """Trigger bytes -> (incoming flags, deferred flags)."""
    # repeats collapse, unknown bytes are ignored and order does not matter, so
    # "A F D" (postqueue -f) is one deferred scan that ignores times and flushes
    incoming = deferred = ScanFlags(0)
    for byte in data:
        i, d = _BY_BYTE.get(byte, (ScanFlags(0), ScanFlags(0)))
        incoming, deferred = incoming | i, deferred | d
    return incoming, deferred


class Scan:
    """One queue directory's scan: running or not, its modifiers, and a pending rerun."""

    def __init__(self, queue: str):
        self.queue = queue
        self.running = False
        self.flags = ScanFlags(0)  # modifiers of the scan in progress
        self.pending = ScanFlags(0)  # requests for the next scan

    @property
    def scan_all(self) -> bool:
        return bool(self.flags & ScanFlags.ALL)

    @property
    def override_defer(self) -> bool:
        return bool(self.flags & ScanFlags.OVERRIDE_DEFER)

    def request(self, flags: ScanFlags) -> bool:
        """Record a request; True when a scan starts now (the caller opens the directory)."""
        if self.running:
            # these modifiers also help the scan already under way (qmgr_scan_request)
            self.flags |= flags & (ScanFlags.ALL | ScanFlags.OVERRIDE_DEFER)
        self.pending |= flags
        if self.running or not flags & ScanFlags.START:
            return False
        self._start()
        return True

    def finished(self) -> bool:
        """The directory ran out; True when a request came meanwhile and a rescan starts."""
        self.running = False
        if not self.pending & ScanFlags.START:
            return False
        self._start()
        return True

    def _start(self):
        self.running = True
        self.flags = self.pending & ~ScanFlags.START & ~ScanFlags.FLUSH_DEAD
        self.pending = ScanFlags(0)


@attrs.frozen
class Actions:
    """What the service does after reading triggers: flush, then open these scans."""

    flush_dead: bool = False
    start: tuple = ()  # queue names whose scan must begin now, incoming first


class Triggers:
    """The incoming and deferred scans and how trigger bytes move them."""

    def __init__(self):
        self.scans = {INCOMING: Scan(INCOMING), DEFERRED: Scan(DEFERRED)}

    def receive(self, data: bytes) -> Actions:
        """Handle one read's worth of trigger bytes."""
        incoming, deferred = parse(data)
        start = tuple(name for name, flags in ((INCOMING, incoming), (DEFERRED, deferred))
                      if flags and self.scans[name].request(flags))
        # F applies at once, before any scan it came with (qmgr_enable_all)
        return Actions(bool((incoming | deferred) & ScanFlags.FLUSH_DEAD), start)
