"""The pure pieces wired the way the qmgr service should wire them, on a fake clock.

FakeQmgr stands in for pfx/qmgr/service.py: queue "files" are dict entries, the
agent always defers, and the clock drives the deferred scans every queue_run_delay.
"""

from twisted.internet.task import Clock

from pfx.qmgr import backoff
from pfx.qmgr.backoff import RetryPolicy
from pfx.qmgr.feed import DEFERRED, INCOMING, Feed
from pfx.qmgr.policy import SchedulerConfig, TransportPolicy
from pfx.qmgr.scheduler import Scheduler
from pfx.qmgr.triggers import Triggers
from pfx.qmgr.values import Outcome, Routed


class FakeQmgr:
    def __init__(self, clock, retry=RetryPolicy(), defer_transports=()):
        self.clock, self.retry = clock, retry
        config = SchedulerConfig(transports={"smtp": TransportPolicy("smtp")},
                                 defer_transports=frozenset(defer_transports))
        self.scheduler = Scheduler(config, clock)
        self.feed, self.triggers = Feed(), Triggers()
        self.files = {}  # qid -> dict(queue, arrival, sender, due, rcpts)
        self.attempts, self.log = [], []
        self.clock.callLater(retry.queue_run_delay, self._deferred_timer)

    def submit(self, qid, sender="a@example.org", rcpts=("b@example.com",)):
        self.files[qid] = dict(queue=INCOMING, arrival=self.clock.seconds(), sender=sender,
                               due=0, rcpts=list(rcpts))
        self.kick(b"I")  # cleanup's trigger

    def kick(self, data):
        actions = self.triggers.receive(data)
        if actions.flush_dead:
            self.scheduler.flush_dead()
        for queue in actions.start:
            self._scan(queue)
        self._pump()

    def _deferred_timer(self):
        self.kick(b"D")
        self.clock.callLater(self.retry.queue_run_delay, self._deferred_timer)

    def _scan(self, queue):
        scan = self.triggers.scans[queue]
        while True:
            now = self.clock.seconds()
            for qid, f in sorted(self.files.items()):
                if f["queue"] == queue and backoff.is_due(f["due"], now, scan.scan_all):
                    self.feed.offer(queue, qid)
            if not scan.finished():
                return

    def _pump(self):
        while (item := self.feed.take(self.scheduler.has_room())) is not None:
            queue, qid = item
            f = self.files[qid]
            f["queue"] = "active"
            flush = self.triggers.scans[queue].override_defer
            rcpts = [Routed("smtp", r.partition("@")[2], r, r) for r in f["rcpts"]]
            self._absorb(self.scheduler.add_message(qid, f["arrival"], rcpts, flush=flush))
        for delivery in self.scheduler.deliveries():
            self.attempts.append((self.clock.seconds(), delivery.message_id))
            # the agent connects but the recipient is deferred (4xx): positive feedback
            self._absorb(self.scheduler.delivery_done(delivery, Outcome.ok()))

    def _absorb(self, progress):
        for qid in progress.completed:
            f, now = self.files[qid], self.clock.seconds()
            self.scheduler.message_finished(qid)
            if backoff.is_expired(f["arrival"], now, f["sender"], self.retry):
                self.log.append((now, qid, "expired"))
                del self.files[qid]
                continue
            f["queue"], f["due"] = DEFERRED, backoff.next_attempt(f["arrival"], now, self.retry)


def test_message_failing_every_time_follows_the_backoff_schedule():
    clock = Clock()
    q = FakeQmgr(clock)
    q.submit("Q1")
    clock.pump([100] * 140)  # 14,000 s
    assert [t for t, _ in q.attempts] == [0, 300, 600, 1200, 2400, 4800, 9000, 13200]


def test_postqueue_flush_retries_at_once_and_lifetime_returns_mail():
    clock = Clock()
    q = FakeQmgr(clock, RetryPolicy(maximal_queue_lifetime=3600, bounce_queue_lifetime=1200))
    q.submit("Q1")
    q.submit("B1", sender="")
    clock.advance(50)
    q.kick(b"AFD")
    assert [t for t, _ in q.attempts] == [0, 0, 50, 50]
    clock.pump([100] * 60)
    # each is returned at its first attempt once its lifetime is over (<> has the
    # shorter bounce_queue_lifetime), and never tried again
    expired = {qid: t for t, qid, _ in q.log}
    for qid, lifetime in (("B1", 1200), ("Q1", 3600)):
        tries = [t for t, m in q.attempts if m == qid]
        assert expired[qid] == tries[-1] == min(t for t in tries if t >= lifetime)
    assert expired["B1"] < expired["Q1"] and not q.files


def test_defer_transports_wait_for_a_flush():
    clock = Clock()
    q = FakeQmgr(clock, defer_transports={"smtp"})
    q.submit("Q1")
    clock.pump([100] * 30)
    assert q.attempts == []
    q.kick(b"AFD")
    assert q.attempts == [(3000, "Q1")]
