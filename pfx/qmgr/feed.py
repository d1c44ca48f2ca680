"""Which queue file enters the active queue next: incoming and deferred in turn (pure)."""

from collections import deque

INCOMING, DEFERRED = "incoming", "deferred"


class Feed:
    """Queue ids found by the incoming and deferred scans, taken alternately."""

    # qmgr's fairness strategy: when the active queue has room, take one message from
    # incoming and one from deferred, so a large backlog never starves new mail. Only
    # ``cap`` ids per queue are held, so a 100,000-file deferred queue is scanned in
    # pieces rather than listed into memory.

    def __init__(self, cap: int = 1000):
        self.cap = cap
        self._pending = {INCOMING: deque(), DEFERRED: deque()}
        self._known: set = set()
        self._names = {INCOMING: set(), DEFERRED: set()}  # str() of the pending ids
        self._turn = INCOMING

    def room(self, queue: str) -> int:
        """How many more ids the scan of ``queue`` should offer now."""
        return max(0, self.cap - len(self._pending[queue]))

    def pending(self, queue: str) -> int:
        return len(self._pending[queue])

    def waiting_names(self, queue: str) -> frozenset:
        """The file names of the ids waiting from ``queue`` (a rescan skips them)."""
        return frozenset(self._names[queue])

    def offer(self, queue: str, queue_id) -> bool:
        """A scan found a file; False if it is already waiting (rescans repeat names)."""
        if queue_id in self._known:
            return False
        self._pending[queue].append(queue_id)
        self._known.add(queue_id)
        self._names[queue].add(str(queue_id))
        return True

    def take(self, has_room: bool = True) -> tuple[str, object] | None:
        """The next (queue, id) to open, or None when there is no room or nothing waits."""
        if not has_room:
            return None
        first = self._turn
        second = DEFERRED if first == INCOMING else INCOMING
        for queue in (first, second):
            if self._pending[queue]:
                queue_id = self._pending[queue].popleft()
                self._known.discard(queue_id)
                self._names[queue].discard(str(queue_id))
                self._turn = second if queue == first else first
                return queue, queue_id
        return None

    def discard(self, queue_id) -> None:
        """Forget a waiting id (the file was removed or put on hold meanwhile)."""
        if queue_id in self._known:
            self._known.discard(queue_id)
            for queue, pending in self._pending.items():
                if queue_id in pending:
                    pending.remove(queue_id)
                    self._names[queue].discard(str(queue_id))
