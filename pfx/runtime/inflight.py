"""Deliveries in progress, so that an agent's stop() can wait until it is idle."""

from twisted.internet import defer


class InFlight:
    def __init__(self):
        self._busy = set()

    def track(self, d: defer.Deferred) -> defer.Deferred:
        """Remember ``d`` until it fires; returns it unchanged for chaining."""
        self._busy.add(d)
        d.addBoth(self._done, d)
        return d

    def _done(self, result, d):
        self._busy.discard(d)
        return result

    def idle(self) -> defer.Deferred:
        """Fires (with None) when everything tracked so far has finished."""
        return defer.DeferredList(list(self._busy)).addCallback(lambda _: None)

    def __len__(self):
        return len(self._busy)
