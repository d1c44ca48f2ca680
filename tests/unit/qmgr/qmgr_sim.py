"""Shared builders and a tiny discrete-event driver for the scheduler tests."""

from twisted.internet.task import Clock

from pfx.qmgr.policy import SchedulerConfig, TransportPolicy
from pfx.qmgr.scheduler import Scheduler
from pfx.qmgr.values import Outcome, Routed

SMTP = TransportPolicy("smtp")
LOCAL = TransportPolicy("local", concurrency_limit=2, recipient_limit=1)


def make_scheduler(clock=None, transports=(SMTP, LOCAL), **config):
    clock = clock if clock is not None else Clock()
    cfg = SchedulerConfig(transports={t.name: t for t in transports}, **config)
    return Scheduler(cfg, clock), clock


def smtp_rcpts(domain, count, start=0, transport="smtp"):
    return [Routed(transport, domain, f"u{i}@{domain}", f"u{i}@{domain}")
            for i in range(start, start + count)]


class Driver:
    """Starts every allowed delivery, finishes each after ``plan(delivery)`` gives
    (seconds, Outcome), and records when messages complete and what was deferred."""

    def __init__(self, scheduler, clock, plan):
        self.scheduler, self.clock, self.plan = scheduler, clock, plan
        self.completed, self.deferred, self.started = {}, [], []

    def absorb(self, progress):
        self.deferred.extend((self.clock.seconds(), d) for d in progress.deferred)
        for message_id in progress.completed:
            self.completed[message_id] = self.clock.seconds()
            self.scheduler.message_finished(message_id)

    def _finish(self, delivery, outcome):
        self.absorb(self.scheduler.delivery_done(delivery, outcome))

    def run(self, until=10**7):
        while True:
            for delivery in self.scheduler.deliveries():
                self.started.append((self.clock.seconds(), delivery))
                seconds, outcome = self.plan(delivery)
                self.clock.callLater(seconds, self._finish, delivery, outcome)
            calls = self.clock.getDelayedCalls()
            if not calls or self.clock.seconds() >= until:
                return
            self.clock.advance(min(c.getTime() for c in calls) - self.clock.seconds())


def always_ok(seconds=1.0):
    return lambda delivery: (seconds, Outcome.ok())
