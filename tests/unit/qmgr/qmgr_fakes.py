"""Fakes for the qmgr service tests: agents, a notifier, a recording log, queue files."""

from twisted.internet import defer
from twisted.internet.task import Clock
from zope.interface import implementer

from pfx.address.domains import DomainList
from pfx.address.resolve import ResolveSettings
from pfx.dsn import Dsn
from pfx.envelope import DeliveryResult, Envelope, Recipient, RecipientStatus
from pfx.interfaces import IDeliveryAgent, INotifier
from pfx.qmgr.backoff import RetryPolicy
from pfx.qmgr.manager import QueueManager
from pfx.qmgr.policy import SchedulerConfig, TransportPolicy
from pfx.qmgr.routing import resolve_route
from pfx.qmgr.scheduler import Scheduler
from pfx.queue.store import QueueStore
from pfx.runtime.build import inline_runtime

START = 1_000_000.0
CONTENT = b"Subject: test\n\nhello\n"


class RecordingLog:
    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)

    def warning(self, text):
        self.lines.append("warning: " + text)

    def error(self, text):
        self.lines.append("error: " + text)

    def with_id(self, qid):
        return [line for line in self.lines if line.startswith(f"{qid}: ")
                or f'"{qid}"' in line]


@implementer(IDeliveryAgent)
class FakeAgent:
    """Answers each recipient by ``plan(address) -> (action, dsn, text)`` after ``delay``
    seconds; ``mode`` "raise" raises, "silent" never answers, "short" drops a status."""

    def __init__(self, clock, plan=None, delay=0.0, mode="answer", relay="fake[127.0.0.1]"):
        self.clock, self.delay, self.mode, self.relay = clock, delay, mode, relay
        self.plan = plan or (lambda address: ("sent", "2.0.0", "delivered"))
        self.requests, self.contents = [], []
        self.pending = []

    def deliver(self, request):
        self.requests.append(request)
        with request.open_content() as f:
            self.contents.append(f.read())
        if self.mode == "raise":
            raise RuntimeError("agent exploded")
        d = defer.Deferred()
        self.pending.append(d)
        if self.mode == "silent":
            return d
        statuses = [RecipientStatus(r, *self._answer(r.address), relay=self.relay)
                    for r in request.recipients]
        if self.mode == "short":
            statuses = statuses[:-1]
        result = DeliveryResult(statuses)
        if self.delay:
            self.clock.callLater(self.delay, d.callback, result)
        else:
            d.callback(result)
        return d

    def _answer(self, address):
        action, dsn, text = self.plan(address)
        return action, Dsn(dsn), text

    def stop(self):
        return defer.succeed(None)


@implementer(INotifier)
class FakeNotifier:
    def __init__(self, fail_append=False, fail_flush=False):
        self.appended, self.flushed = [], []
        self.fail_append, self.fail_flush = fail_append, fail_flush
        self.count = 0

    def append(self, kind, queue_id, status):
        if self.fail_append:
            return defer.fail(OSError("bounce log: disk full"))
        self.appended.append((kind, queue_id, status.recipient.address, status.action))
        return defer.succeed(None)

    def flush(self, kind, queue_id, request):
        if self.fail_flush:
            return defer.fail(OSError("bounce service down"))
        self.count += 1
        self.flushed.append((kind, queue_id, tuple(r.address for r in request.recipients)))
        return defer.succeed(f"NOTICE{self.count}")


def transport_table(entries):
    return lambda key: entries.get(key)


def resolve_settings(transport_maps=None, relocated=None):
    return ResolveSettings(
        myhostname="mx.example.test",
        mydestination=DomainList(["mx.example.test", "localhost"]),
        local_transport="local", default_transport="smtp",
        transport_maps=transport_maps, relocated_maps=relocated)


class World:
    """A QueueManager over a tmp_path queue, a Clock and fake agents."""

    def __init__(self, tmp_path, agents=None, notifier="fake", retry=RetryPolicy(),
                 settings=None, time_limit=1000, config=None, clock=None):
        self.clock = clock or Clock()
        if clock is None:
            self.clock.advance(START)
        self.store = QueueStore(tmp_path / "spool", clock=self.clock.seconds)
        self.store.check(repair=True)
        self.log = RecordingLog()
        self.store.warn = self.log.warning
        self.agents = agents if agents is not None else {"smtp": FakeAgent(self.clock)}
        self.notifier = FakeNotifier() if notifier == "fake" else notifier
        self.settings = settings or resolve_settings()
        config = config or SchedulerConfig(transports={"smtp": TransportPolicy("smtp")})
        runtime = inline_runtime(self.clock)
        self.manager = QueueManager(
            store=self.store, scheduler=Scheduler(config, self.clock), retry=retry,
            router=lambda a, s: resolve_route(a, s, self.settings),
            agent_for=self.agents.get, notifier=lambda: self.notifier, clock=self.clock,
            run_blocking=runtime.run_blocking, log=self.log,
            time_limit=lambda transport: time_limit)

    def submit(self, rcpts=("user@example.com",), sender="sender@example.org",
               arrival=None, queue="incoming", content=CONTENT):
        recipients = tuple(r if isinstance(r, Recipient) else Recipient(r) for r in rcpts)
        env = Envelope(sender, recipients, arrival=arrival or self.clock.seconds())
        writer = self.store.new_file(env)
        writer.write(content)
        qid = writer.commit()
        if queue != "incoming":
            self.store.move(qid, "incoming", queue)
        return qid

    def where(self, qid):
        return self.store.find(qid)
