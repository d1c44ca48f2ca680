"""The in-memory active queue: per-transport, per-destination queues and their limits (pure).

Recipients arrive already routed (transport, nexthop). They are batched per message and
destination into entries of at most ``<transport>_destination_recipient_limit``; each
destination has a ConcurrencyWindow, each transport a process limit (master.cf maxproc).
next_delivery() walks transports and, inside a transport, the destinations that can take
another delivery, round robin, so one slow destination holds only its own window. Dead
destinations and transports live in a DeadCache; their queued recipients are handed back
as Deferral values at once. Nothing here does I/O or reads the clock except through the
DeadCache; the same calls in the same order give the same deliveries.
"""

from collections import OrderedDict, deque
from fractions import Fraction
from itertools import islice
from typing import Any

import attrs
from attrs.validators import in_

from pfx.dsn import Dsn
from pfx.errors import Panic
from pfx.qmgr.deadcache import TRANSPORT_UNAVAILABLE, DeadCache, Suspension
from pfx.qmgr.policy import SchedulerConfig, TransportPolicy
from pfx.qmgr.window import ConcurrencyWindow

#: Outcome kinds: the connection worked (whatever each recipient's status), the
#: destination failed (connect or handshake: negative feedback), the agent failed.
OK, SITE_FAILED, TRANSPORT_FAILED = "ok", "site-failed", "transport-failed"
DEFERRED_TRANSPORT = "deferred transport"
# how many later messages a destination looks at when it may preempt the current one
_PREEMPT_SCAN = 64


@attrs.frozen
class Routed:
    """One recipient with its route; ``item`` is the caller's own value, handed back."""

    transport: str
    nexthop: str
    address: str
    item: Any = None


@attrs.frozen(eq=False)
class Delivery:
    """One delivery request to make: up to recipient_limit recipients of one message."""

    transport: str
    nexthop: str
    destination: str  # the queue name: the nexthop, or user@nexthop when the limit is 1
    message_id: Any
    recipients: tuple  # the Routed.item values, in the order they were added


@attrs.frozen
class Outcome:
    """How a delivery went, as far as scheduling cares (per-recipient results are not
    needed here: qmgr_deliver_update also only looks at the site-failure flag)."""

    kind: str = attrs.field(default=OK, validator=in_((OK, SITE_FAILED, TRANSPORT_FAILED)))
    dsn: Dsn | None = None
    text: str = ""

    def __attrs_post_init__(self):
        if self.kind != OK and (self.dsn is None or self.dsn.klass != "4" or not self.text):
            raise ValueError(f"a {self.kind} outcome needs a 4.x.x status and a reason")

    @classmethod
    def ok(cls) -> "Outcome":
        return cls(OK)

    @classmethod
    def site_failed(cls, dsn: Dsn | str, text: str) -> "Outcome":
        """Connection or handshake failure: the reason is the agent's text."""
        return cls(SITE_FAILED, dsn if isinstance(dsn, Dsn) else Dsn(dsn), text)

    @classmethod
    def transport_failed(cls, text: str = TRANSPORT_UNAVAILABLE,
                         dsn: Dsn | str = "4.3.0") -> "Outcome":
        """The agent crashed, timed out as a whole, or does not exist."""
        return cls(TRANSPORT_FAILED, dsn if isinstance(dsn, Dsn) else Dsn(dsn), text)


@attrs.frozen
class Deferral:
    """A recipient deferred without a delivery attempt; the caller logs it and writes
    the defer log (status=deferred (text)), as qmgr_defer_recipient does."""

    message_id: Any
    recipient: Any  # the Routed.item
    dsn: Dsn
    text: str


@attrs.frozen
class Progress:
    """What a call changed that the caller must act on."""

    deferred: tuple = ()  # Deferral values
    completed: tuple = ()  # message ids: every recipient done, none left in the file
    refill: tuple = ()  # message ids: in-memory recipients done, more to read (add_recipients)


class _Message:
    __slots__ = ("id", "arrival", "todo", "busy", "more", "flush", "settled", "queues")

    def __init__(self, message_id, arrival, flush):
        self.id, self.arrival, self.flush = message_id, arrival, flush
        self.todo = self.busy = 0  # recipients waiting / in flight
        self.more = False
        self.settled = False  # completion or refill already reported
        self.queues = {}  # (transport, destination) -> _Queue holding its entries


class _Queue:
    __slots__ = ("transport", "name", "nexthop", "window", "busy", "todo", "slots", "dead")

    def __init__(self, transport, name, nexthop, window):
        self.transport, self.name, self.nexthop, self.window = transport, name, nexthop, window
        self.busy = 0
        self.todo: OrderedDict[Any, deque] = OrderedDict()  # message id -> entries (lists)
        self.slots = Fraction(0)  # delivery slots earned by the current message
        self.dead = False

    def idle(self):
        return not self.todo and self.busy == 0


class _Transport:
    __slots__ = ("policy", "busy", "queues", "ready", "in_ready")

    def __init__(self, policy):
        self.policy = policy
        self.busy = 0
        self.queues: dict[str, _Queue] = {}
        self.ready: deque = deque()  # queues that may be able to take a delivery
        self.in_ready: set = set()


class _Collector:
    """Accumulates a Progress while one call runs."""

    def __init__(self):
        self.deferred, self.completed, self.refill = [], [], []

    def result(self):
        return Progress(tuple(self.deferred), tuple(self.completed), tuple(self.refill))


class Scheduler:
    """The active queue's recipients and the deliveries that may start now."""

    def __init__(self, config: SchedulerConfig, clock, dead: DeadCache | None = None):
        self.config = config
        self._clock = clock
        self.dead = dead if dead is not None else DeadCache(clock, limit=config.recipient_limit)
        self._messages: dict[Any, _Message] = {}
        self._transports: dict[str, _Transport] = {}
        self._next_transport = 0
        self._recipients = 0
        self._outstanding: set[Delivery] = set()

    # -- filling the active queue -------------------------------------------------------

    @property
    def message_count(self) -> int:
        return len(self._messages)

    @property
    def recipient_count(self) -> int:
        """Recipients held in memory: waiting or in flight."""
        return self._recipients

    def has_room(self) -> bool:
        """May another message enter the active queue (the leaky bucket)?"""
        return (len(self._messages) < self.config.active_limit
                and self._recipients < self.config.recipient_limit)

    def recipient_budget(self) -> int:
        """How many recipients to read from the next message (or the next refill)."""
        left = self.config.recipient_limit - self._recipients
        return max(self.config.recipient_minimum, left)

    def add_message(self, message_id, arrival: float, recipients, more: bool = False,
                    flush: bool = False) -> Progress:
        """A message enters the active queue with some or all of its routed recipients.

        ``more``: the file holds further recipients, to be given by add_recipients after
        a ``refill`` report. ``flush``: brought in by ``postqueue -f``, so defer_transports
        do not hold it back.
        """
        if message_id in self._messages:
            raise Panic(f"message {message_id!r} is already in the active queue")
        message = _Message(message_id, arrival, flush)
        self._messages[message_id] = message
        return self._add(message, recipients, more)

    def add_recipients(self, message_id, recipients, more: bool = False) -> Progress:
        """More recipients of a message already in the active queue (a refill)."""
        message = self._messages.get(message_id)
        if message is None:
            raise Panic(f"refill for unknown message {message_id!r}")
        message.settled = False
        return self._add(message, recipients, more)

    def _add(self, message, recipients, more) -> Progress:
        out = _Collector()
        message.more = more
        for routed in recipients:
            self._add_one(message, routed, out)
        self._settle(message, out)
        return out.result()

    def _add_one(self, message, routed: Routed, out):
        policy = self.config.policy(routed.transport)
        if routed.transport in self.config.defer_transports and not message.flush:
            out.deferred.append(Deferral(message.id, routed.item, Dsn("4.3.2"),
                                         DEFERRED_TRANSPORT))
            return
        gone = self.dead.transport(routed.transport)
        name = self.destination_name(policy, routed)
        if gone is None:
            gone = self.dead.destination(routed.transport, name)
        if gone is not None:
            out.deferred.append(Deferral(message.id, routed.item, gone.dsn, gone.text))
            return
        transport = self._transport(policy)
        queue = transport.queues.get(name)
        if queue is None:
            window = ConcurrencyWindow(policy.initial_concurrency, policy.concurrency_limit,
                                       policy.positive_feedback, policy.negative_feedback,
                                       policy.failed_cohort_limit)
            queue = transport.queues[name] = _Queue(transport, name, routed.nexthop, window)
        entries = queue.todo.get(message.id)
        if entries is None:
            entries = queue.todo[message.id] = deque()
        limit = policy.recipient_limit
        if entries and (limit <= 0 or len(entries[-1]) < limit):
            entries[-1].append(routed)
        else:
            entries.append([routed])
        message.queues[(routed.transport, name)] = queue
        message.todo += 1
        self._recipients += 1
        self._wake(queue)

    def destination_name(self, policy: TransportPolicy, routed: Routed) -> str:
        """The queue a recipient joins: its nexthop, or the mailbox itself when the
        transport delivers one recipient at a time (so local users do not wait for
        each other); the address extension is ignored, as qmgr_message_resolve does."""
        nexthop = routed.nexthop.lower()
        if policy.recipient_limit != 1:
            return nexthop
        local = routed.address.rpartition("@")[0] or routed.address
        delimiter = self.config.recipient_delimiter
        if delimiter:
            cut = min((i for i in (local.find(c) for c in delimiter) if i > 0),
                      default=len(local))
            local = local[:cut]
        return f"{local.lower()}@{nexthop}"

    def _transport(self, policy) -> _Transport:
        transport = self._transports.get(policy.name)
        if transport is None:
            transport = self._transports[policy.name] = _Transport(policy)
        return transport

    # -- choosing deliveries --------------------------------------------------------------

    def next_delivery(self) -> Delivery | None:
        """The next delivery all limits allow, or None; transports take turns."""
        names = list(self._transports)
        for i in range(len(names)):
            index = (self._next_transport + i) % len(names)
            delivery = self._select(self._transports[names[index]])
            if delivery is not None:
                self._next_transport = index + 1
                return delivery
        return None

    def deliveries(self) -> list[Delivery]:
        """Every delivery that may start now (call again after each delivery_done)."""
        out = []
        while (delivery := self.next_delivery()) is not None:
            out.append(delivery)
        return out

    def _select(self, transport: _Transport) -> Delivery | None:
        limit = transport.policy.process_limit
        if limit and transport.busy >= limit:
            return None
        if self.dead.transport(transport.policy.name) is not None:
            return None
        while transport.ready:
            queue = transport.ready.popleft()
            transport.in_ready.discard(queue)
            if not self._can_start(queue):
                continue  # re-queued by _wake when something changes for it
            delivery = self._take(queue)
            self._wake(queue)  # to the back of the line: round robin
            return delivery
        return None

    def _can_start(self, queue: _Queue) -> bool:
        return (bool(queue.todo) and not self._is_dead(queue)
                and queue.busy < queue.window.window)

    def _is_dead(self, queue: _Queue) -> bool:
        if not queue.dead:
            return False
        if self.dead.destination(queue.transport.policy.name, queue.name) is not None:
            return True
        # expired or flushed (F): start over as qmgr_queue_unthrottle does
        queue.dead = False
        queue.window.restart(queue.busy)
        return False

    def _wake(self, queue: _Queue):
        transport = queue.transport
        if (queue not in transport.in_ready and queue.todo
                and queue.busy < queue.window.window):
            transport.ready.append(queue)
            transport.in_ready.add(queue)

    def _take(self, queue: _Queue) -> Delivery:
        policy = queue.transport.policy
        message_id = self._pick_message(queue, policy)
        entries = queue.todo[message_id]
        batch = entries.popleft()
        if not entries:
            del queue.todo[message_id]
        message = self._messages[message_id]
        message.todo -= len(batch)
        message.busy += len(batch)
        queue.busy += 1
        queue.transport.busy += 1
        delivery = Delivery(policy.name, queue.nexthop, queue.name, message_id,
                            tuple(r.item for r in batch))
        self._outstanding.add(delivery)
        return delivery

    def _pick_message(self, queue: _Queue, policy: TransportPolicy):
        """The message whose entry goes next: the oldest, unless a small later one has
        earned the right to cut in (a simplified form of nqmgr's delivery slots: the
        current message earns 1/slot_cost slot per delivery, and a message with no more
        entries than the slots earned goes first)."""
        head = next(iter(queue.todo))
        if policy.slot_cost <= 0:
            return head
        if queue.slots >= 1 and len(queue.todo) > 1:
            for message_id, entries in islice(queue.todo.items(), 1, 1 + _PREEMPT_SCAN):
                if len(entries) <= queue.slots:
                    queue.todo.move_to_end(message_id, last=False)
                    queue.slots -= len(entries)
                    return message_id
        if len(queue.todo[head]) >= policy.minimum_slots:
            queue.slots += Fraction(1, policy.slot_cost)
        return head

    # -- results --------------------------------------------------------------------------

    def delivery_done(self, delivery: Delivery, outcome: Outcome) -> Progress:
        """A delivery finished; apply feedback, dead-destination rules and bookkeeping."""
        if delivery not in self._outstanding:
            raise Panic(f"unknown or repeated delivery {delivery!r}")
        self._outstanding.remove(delivery)
        out = _Collector()
        transport = self._transports[delivery.transport]
        queue = transport.queues[delivery.destination]
        name = transport.policy.name
        if outcome.kind == TRANSPORT_FAILED:
            gone = self.dead.kill_transport(name, outcome.text, outcome.dsn)
            for other in list(transport.queues.values()):
                self._defer_todo(other, gone, out)
        else:
            # the agent answered, so the transport works (qmgr_transport_unthrottle)
            self.dead.revive_transport(name)
            if outcome.kind == OK:
                if queue.dead or self.dead.destination(name, queue.name) is not None:
                    # a delivery in flight when it died got through: alive after all
                    self.dead.revive_destination(name, queue.name)
                    queue.dead = False
                    queue.window.restart(queue.busy)
                else:
                    queue.window.good(queue.busy)
            elif not queue.dead and queue.window.bad():
                gone = self.dead.kill_destination(name, queue.name, outcome.dsn, outcome.text)
                queue.dead = True
                self._defer_todo(queue, gone, out)
        queue.busy -= 1
        transport.busy -= 1
        self._recipients -= len(delivery.recipients)
        message = self._messages[delivery.message_id]
        message.busy -= len(delivery.recipients)
        self._settle(message, out)
        self._wake(queue)
        self._drop_if_idle(queue)
        return out.result()

    def _defer_todo(self, queue: _Queue, gone: Suspension, out):
        """Hand back every waiting recipient of a dead destination (qmgr_defer_todo)."""
        for message_id, entries in list(queue.todo.items()):
            message = self._messages[message_id]
            count = 0
            for batch in entries:
                count += len(batch)
                out.deferred.extend(Deferral(message_id, r.item, gone.dsn, gone.text)
                                    for r in batch)
            message.todo -= count
            self._recipients -= count
            self._settle(message, out)
        queue.todo.clear()
        queue.slots = Fraction(0)
        self._drop_if_idle(queue)

    def _settle(self, message: _Message, out):
        if message.settled or message.todo or message.busy:
            return
        message.settled = True
        (out.refill if message.more else out.completed).append(message.id)

    def _drop_if_idle(self, queue: _Queue):
        # an idle queue is forgotten, window and all; a dead one is remembered by the
        # DeadCache, so a new queue for it cannot be created until it revives
        transport = queue.transport
        if queue.idle() and transport.queues.get(queue.name) is queue:
            del transport.queues[queue.name]
            if queue in transport.in_ready:
                transport.in_ready.discard(queue)
                transport.ready.remove(queue)

    def message_finished(self, message_id) -> None:
        """The caller is done with the message's file; it leaves the active queue.

        Recipients still waiting are dropped (e.g. the file turned out corrupt); a
        message with deliveries in flight cannot leave.
        """
        message = self._messages.get(message_id)
        if message is None:
            raise Panic(f"unknown message {message_id!r}")
        if message.busy:
            raise Panic(f"message {message_id!r} still has {message.busy} recipients "
                        f"in flight")
        for queue in message.queues.values():
            for batch in queue.todo.pop(message_id, ()):
                self._recipients -= len(batch)
            self._drop_if_idle(queue)
        del self._messages[message_id]

    # -- triggers and introspection -------------------------------------------------------

    def flush_dead(self) -> int:
        """The F trigger: forget dead destinations and transports."""
        return self.dead.flush()

    def busy(self, transport: str) -> int:
        """Deliveries in flight through a transport."""
        found = self._transports.get(transport)
        return found.busy if found is not None else 0

    def window(self, transport: str, destination: str) -> int | None:
        """A destination's current concurrency window, or None if it has no queue."""
        found = self._transports.get(transport)
        queue = found.queues.get(destination) if found is not None else None
        return queue.window.window if queue is not None else None
