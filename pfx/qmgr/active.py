"""One message in the active queue: its recipients, their outcomes, and its fate (pure)."""

# The service keeps one ActiveMessage per file in active/. Recipients enter the
# scheduler in pieces (the refill), outcomes are counted here, and when the scheduler
# reports the message complete, fate() says what happens to the file, in the order of
# qmgr_active_done: bounce notice, then removal, expiry, delay warning, or a retry.

import attrs

from pfx.envelope import DeliveryRequest
from pfx.qmgr import backoff
from pfx.qmgr.logline import Stamps

REMOVE, EXPIRE, DEFER = "remove", "expire", "defer"


@attrs.frozen
class Fate:
    """What to do with a message's file once nothing of it is in flight."""

    action: str  # REMOVE | EXPIRE | DEFER
    next_attempt: float | None = None  # DEFER: the deferred file's mtime
    warn: bool = False  # DEFER: send the delay notice first


class ActiveMessage:
    """The queue manager's memory of one file in active/."""

    def __init__(self, queue_id, origin, info, entered: float, flush: bool = False):
        self.queue_id = queue_id  # a QueueId
        self.origin = origin  # "incoming" or "deferred": where it came from
        self.info = info  # QueueFileInfo (envelope with recipients still to do)
        self.entered = entered
        self.flush = flush
        self.todo = list(info.recipients)
        self.next = 0  # index of the first recipient not yet given to the scheduler
        self.sent = self.bounced = self.deferred = 0
        self.deferred_rcpts: list = []  # for the delay and expiry notices
        self.bounced_rcpts: list = []
        self.success_rcpts: list = []  # DSN NOTIFY=SUCCESS, in the trace log
        self.handoffs: dict = {}  # delivery -> time the agent got it
        self.aborted = False  # the file went bad mid-way: leave it alone
        self.previous: float | None = None  # when the last attempt was (deferred files)
        self.bounce_log = False  # bounce/QID exists: a notice is still to be sent
        self.pending = 0  # outcomes being written
        self.completed = False  # the scheduler has nothing of it left
        self.finishing = False
        self.filter_warned = False  # a bad content_filter is logged once

    @property
    def redirect(self) -> str | None:
        """The REDIRECT address cleanup recorded (header/body checks), or None."""
        return self._attribute("redirect")

    @property
    def content_filter(self) -> str | None:
        """``transport:destination`` from a FILTER action or main.cf content_filter."""
        return self._attribute("content_filter")

    def _attribute(self, name):
        # the last one wins: the extracted segment (checks) comes after the envelope
        found = None
        for key, value in self.info.attributes:
            if key == name and value:
                found = value
        return found

    def drop_rest(self) -> None:
        """Take no more recipients (a redirected message has one delivery)."""
        self.next = len(self.todo)

    @property
    def name(self) -> str:
        return str(self.queue_id)

    @property
    def sender(self) -> str:
        return self.info.sender

    def take(self, count: int) -> list:
        """The next ``count`` recipients for the scheduler; more() says if any are left."""
        piece = self.todo[self.next:self.next + max(1, count)]
        self.next += len(piece)
        return piece

    def more(self) -> bool:
        return self.next < len(self.todo)

    def stamps(self, handoff: float | None = None) -> Stamps:
        return Stamps(self.info.arrival, self.entered, handoff)

    def count(self, action: str, recipient) -> None:
        if action == "sent":
            self.sent += 1
        elif action == "bounced":
            self.bounced += 1
            self.bounced_rcpts.append(recipient)
        else:
            self.deferred += 1
            self.deferred_rcpts.append(recipient)

    def request(self, recipients, transport="none", nexthop="none", open_content=None):
        """A DeliveryRequest for some recipients (agents) or the whole message (notices)."""
        env = self.info.envelope
        return DeliveryRequest(
            queue_id=self.name, queue_name="active", sender=env.sender,
            recipients=tuple(recipients), transport=transport, nexthop=nexthop,
            size=self.info.content_size, arrival=env.arrival, client=env.client,
            envid=env.envid, ret=env.ret, body_type=env.body_type, smtputf8=env.smtputf8,
            open_content=open_content)

    def fate(self, now: float, policy: backoff.RetryPolicy) -> Fate:
        """After the last outcome: remove, return to sender, or try again later."""
        if self.deferred == 0:
            return Fate(REMOVE)
        start = self.info.create_time  # the arrival, unless requeued (postsuper -r)
        if backoff.is_expired(start, now, self.sender, policy):
            return Fate(EXPIRE)
        return Fate(DEFER, backoff.next_attempt(start, now, policy),
                    warn=delay_warning_due(start, self.origin, self.previous,
                                           now, policy))


def previous_attempt(arrival: float, next_time: float, policy: backoff.RetryPolicy) -> float:
    """When the attempt that set a deferred file's mtime to ``next_time`` happened.

    pfx has no in-place warning-time record (Postfix's REC_TYPE_WARN), so a restart must
    not forget that the delay notice went out. next_attempt() is increasing in the
    attempt time, so it can be inverted: an attempt at age a set age
    a + clamp(a, min, max).
    """
    lo, hi = policy.minimal_backoff_time, max(policy.minimal_backoff_time,
                                              policy.maximal_backoff_time)
    gap = next_time - arrival
    if gap <= 2 * lo:
        age = gap - lo
    elif gap <= 2 * hi:
        age = gap / 2
    else:
        age = gap - hi
    return arrival + max(0.0, age)


def delay_warning_due(arrival, origin, previous, now, policy) -> bool:
    """One notice per message: due now, and the previous attempt (if any) came before it."""
    warn_at = backoff.warn_time(arrival, policy)
    if not backoff.warning_due(warn_at, now):
        return False
    if origin != "deferred" or previous is None:
        return True
    return not backoff.warning_due(warn_at, previous)
