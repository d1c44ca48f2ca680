"""BlockingPool: results and failures come back through callFromThread; stop drains."""

import queue
import threading

import pytest

from pfx.runtime.blocking import BlockingPool


class FakeReactor:
    def __init__(self):
        self.calls = queue.SimpleQueue()
        self.triggers = []

    def callFromThread(self, f, *args):
        self.calls.put((f, args))

    def addSystemEventTrigger(self, phase, event, f):
        self.triggers.append((phase, event, f))

    def run_calls(self, n):
        for _ in range(n):
            f, args = self.calls.get(timeout=10)
            f(*args)


def test_results_and_failures_fire_in_the_reactor_thread():
    reactor = FakeReactor()
    pool = BlockingPool(reactor, size=3)
    results = []
    pool.run(lambda a, b=0: (a + b, threading.current_thread().name), 1, b=2).addCallback(results.append)
    pool.run(lambda: 1 / 0).addErrback(lambda f: results.append(f.type))
    assert results == []  # nothing fires from a worker thread
    reactor.run_calls(2)
    (value, thread), = [r for r in results if isinstance(r, tuple)]
    assert value == 3 and thread.startswith("pfx-blocking-")
    assert ZeroDivisionError in results
    assert [t[:2] for t in reactor.triggers] == [("during", "shutdown")]
    reactor.triggers[0][2]()  # shutdown: the workers end
    assert not any(t.is_alive() for t in pool._threads)
    failed = []
    pool.run(lambda: 1).addErrback(failed.append)
    assert failed and failed[0].check(RuntimeError)


def test_stop_lets_queued_calls_finish():
    reactor = FakeReactor()
    pool = BlockingPool(reactor, size=1)
    gate = threading.Event()
    done = []
    pool.run(gate.wait, 10)
    pool.run(done.append, "second")
    gate.set()
    pool.stop()
    assert done == ["second"]
    reactor.run_calls(2)


@pytest.mark.parametrize("size", [0, 1])
def test_at_least_one_worker(size):
    reactor = FakeReactor()
    pool = BlockingPool(reactor, size=size)
    out = []
    pool.run(lambda: 5).addCallback(out.append)
    reactor.run_calls(1)
    pool.stop()
    assert out == [5]
