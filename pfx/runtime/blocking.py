"""run_blocking's worker threads: blocking file work off the reactor thread, results back on it.

Twisted's ThreadPool (deferToThreadPool) hands each call through a coordinator, a
Condition-based queue.Queue and a logging context; at several calls per message
(cleanup's commit, qmgr's open, D records, removal) that was a tenth of pfx's CPU.
Here a call is one SimpleQueue.put (C code) and one callFromThread. The semantics are
deferToThreadPool's: the Deferred fires in the reactor thread with f's result or its
Failure, and calls run in parallel, so callers that need an order chain their
Deferreds (as cleanup's writer does). At reactor shutdown the workers finish the calls
they hold and stop; the reactor waits for them, as it waits for its own pool.
"""

import queue
import threading

from twisted.internet import defer
from twisted.python.failure import Failure

_STOP = object()


class BlockingPool:
    """A fixed number of worker threads, started at the first call."""

    def __init__(self, reactor, size: int = 10, name: str = "pfx-blocking"):
        self._reactor = reactor
        self._size = max(1, size)
        self._name = name
        self._jobs = queue.SimpleQueue()
        self._threads = []
        self._stopped = False

    def run(self, f, *args, **kwargs):
        """-> Deferred firing (in the reactor thread) with f(*args, **kwargs)."""
        if self._stopped:
            return defer.fail(RuntimeError("the blocking pool has stopped"))
        if not self._threads:
            self._start()
        d = defer.Deferred()
        self._jobs.put((d, f, args, kwargs))
        return d

    def _start(self):
        for n in range(self._size):
            t = threading.Thread(target=self._work, name=f"{self._name}-{n}", daemon=True)
            t.start()
            self._threads.append(t)
        self._reactor.addSystemEventTrigger("during", "shutdown", self.stop)

    def _work(self):
        jobs, call = self._jobs, self._reactor.callFromThread
        while True:
            job = jobs.get()
            if job is _STOP:
                return
            d, f, args, kwargs = job
            try:
                result = f(*args, **kwargs)
            except BaseException:
                call(d.errback, Failure())
            else:
                call(d.callback, result)
            job = d = f = args = kwargs = result = None  # hold nothing while idle

    def stop(self):
        """Let queued calls finish, then end the workers (a shutdown trigger)."""
        if self._stopped:
            return
        self._stopped = True
        for _ in self._threads:
            self._jobs.put(_STOP)
        for t in self._threads:
            t.join()
