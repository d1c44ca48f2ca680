"""Shared test doubles for cleanup and pickup: a recording log, a stepped thread pool."""

from twisted.internet import defer
from twisted.internet.task import Clock

from pfx.address.rewrite import CanonSettings
from pfx.cleanup.config import CleanupConfig
from pfx.cleanup.writer import Submitter
from pfx.plugin import Runtime
from pfx.queue.store import QueueStore
from pfx.runtime.build import inline_runtime

NOW = 1795599353.0  # 2026-11-25 09:35:53 UTC


class RecordingLog:
    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)

    def warning(self, text):
        self.lines.append("warning: " + text)

    def error(self, text):
        self.lines.append("error: " + text)

    def text(self):
        return "\n".join(self.lines)


class SteppedPool:
    """run_blocking that only queues the call: the test decides when the 'thread' runs."""

    def __init__(self):
        self.pending = []

    def __call__(self, f, *args, **kwargs):
        d = defer.Deferred()
        self.pending.append((f, args, kwargs, d))
        return d

    def run_one(self):
        f, args, kwargs, d = self.pending.pop(0)
        try:
            result = f(*args, **kwargs)
        except BaseException as exc:  # noqa: B902 - handed to the Deferred like a thread would
            d.errback(exc)
        else:
            d.callback(result)

    def run_all(self):
        while self.pending:
            self.run_one()


def make_store(tmp_path):
    store = QueueStore(tmp_path / "queue")
    store.check(repair=True)
    return store


def make_submitter(tmp_path, *, pool=None, kick=None, **config):
    clock = Clock()
    clock.advance(NOW)
    runtime = inline_runtime(clock)
    if pool is not None:
        runtime = Runtime(reactor=clock, clock=clock, run_blocking=pool)
    canon = CanonSettings(myorigin="example.test", mydomain="example.test",
                          append_at_myorigin=config.pop("append_at_myorigin", True))
    cfg = CleanupConfig(**{"myhostname": "mx.example.test", "canon": canon, **config})
    log = RecordingLog()
    return Submitter(cfg, make_store(tmp_path), runtime, log, kick), log


def result_of(d):
    """The result of a fired Deferred (the failure's exception is raised)."""
    out = []
    d.addBoth(out.append)
    assert out, "Deferred has not fired"
    if hasattr(out[0], "raiseException"):
        out[0].raiseException()
    return out[0]
