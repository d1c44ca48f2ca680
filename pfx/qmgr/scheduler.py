"""The in-memory active queue: per-transport, per-destination queues and their limits (pure)."""

# Recipients arrive already routed (transport, nexthop). They are batched per message and
# destination into entries of at most ``<transport>_destination_recipient_limit``; each
# destination has a ConcurrencyWindow, each transport a process limit (master.cf maxproc).
# next_delivery() walks transports and, inside a transport, the destinations that can take
# another delivery, round robin, so one slow destination holds only its own window. Dead
# destinations and transports live in a DeadCache; their queued recipients are handed back
# as Deferral values at once. Nothing here does I/O; time comes only from the injected
# clock (dead entries, rate delays), and the same calls at the same clock readings give
# the same deliveries.

import heapq
from collections import OrderedDict, deque
from fractions import Fraction
from itertools import islice
from typing import Any

from pfx.dsn import Dsn
from pfx.errors import Panic
from pfx.qmgr.deadcache import DeadCache, Suspension
from pfx.qmgr.policy import SchedulerConfig, TransportPolicy
from pfx.qmgr.values import (DEFERRED_TRANSPORT, OK, TRANSPORT_FAILED, Deferral, Delivery,
                             Outcome, Progress, Routed)
from pfx.qmgr.window import ConcurrencyWindow

# how many later messages a destination looks at when it may preempt the current one
_PREEMPT_SCAN = 64


class _Message:
    __slots__ = ("id", "arrival", "todo", "busy", "more", "flush", "settled", "queues")

    def __init__(self, message_id, arrival, flush):
        self.id, self.arrival, self.flush = message_id, arrival, flush
        self.todo = self.busy = 0  # recipients waiting / in flight
        self.more = False
        self.settled = False  # completion or refill already reported
        self.queues = {}  # (transport, destination) -> _Queue holding its entries


class _Queue:
    __slots__ = ("transport", "name", "nexthop", "window", "busy", "todo", "slots", "dead",
                 "paused_until")

    def __init__(self, transport, name, nexthop, window):
        self.transport, self.name, self.nexthop, self.window = transport, name, nexthop, window
        self.busy = 0
        self.todo: OrderedDict[Any, deque] = OrderedDict()  # message id -> entries (lists)
        self.slots = Fraction(0)  # delivery slots earned by the current message
        self.dead = False
        self.paused_until = 0.0  # destination_rate_delay

    def idle(self):
        return not self.todo and self.busy == 0


class _Transport:
    __slots__ = ("policy", "busy", "queues", "ready", "in_ready", "paused_until")

    def __init__(self, policy):
        self.policy = policy
        self.busy = 0
        self.paused_until = 0.0  # transport_rate_delay
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
        if dead is None:
            dead = DeadCache(clock, config.dead_destination_time, config.transport_retry_time,
                             limit=config.recipient_limit)
        self.dead = dead
        self._messages: dict[Any, _Message] = {}
        self._transports: dict[str, _Transport] = {}
        self._next_transport = 0
        self._recipients = 0
        self._outstanding: set[Delivery] = set()
        self._sleeping: list = []  # heap of (until, seq, queue) paused by a rate delay
        self._seq = 0

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

    def room(self, most: int) -> int:
        """How many messages may enter the active queue now, at most ``most``."""
        if self._recipients >= self.config.recipient_limit:
            return 0
        return max(0, min(most, self.config.active_limit - len(self._messages)))

    def recipient_budget(self) -> int:
        """How many recipients to read from the next message (or the next refill)."""
        left = self.config.recipient_limit - self._recipients
        return max(self.config.recipient_minimum, left)

    def add_message(self, message_id, arrival: float, recipients, more: bool = False,
                    flush: bool = False) -> Progress:
        """A message enters the active queue with some or all of its routed recipients."""
        # more: the file holds further recipients, given by add_recipients after a
        # refill report; flush: brought in by postqueue -f, so defer_transports let it go
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
            # a destination rate delay means one delivery at a time, with gaps
            initial, limit = ((1, 1) if policy.destination_rate_delay > 0
                              else (policy.initial_concurrency, policy.concurrency_limit))
            window = ConcurrencyWindow(initial, limit,
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
        """The queue a recipient joins: its nexthop, or user@nexthop when the limit is 1."""
        # one recipient per delivery makes each mailbox its own destination, so local
        # users do not wait for each other; the extension is ignored (qmgr_message_resolve)
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
        now = self._clock.seconds()
        while self._sleeping and self._sleeping[0][0] <= now:
            queue = heapq.heappop(self._sleeping)[2]
            self._wake(queue)
            self._drop_if_idle(queue)
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
        if transport.policy.transport_rate_delay > 0 and (
                transport.busy or self._clock.seconds() < transport.paused_until):
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
                and queue.busy < queue.window.window
                and queue.paused_until <= self._clock.seconds())

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
                and queue.busy < queue.window.window
                and queue.paused_until <= self._clock.seconds()):  # else it is sleeping
            transport.ready.append(queue)
            transport.in_ready.add(queue)

    def _take(self, queue: _Queue) -> Delivery:
        policy = queue.transport.policy
        message_id = self._pick_message(queue, policy)
        entries = queue.todo[message_id]
        batch = entries.popleft()
        if not entries:
            del queue.todo[message_id]
            queue.slots = Fraction(0)  # slots belong to the message that earned them
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
        """The message whose entry goes next: the oldest, unless a small one may cut in."""
        # a simplified form of nqmgr's delivery slots: the current message earns
        # 1/slot_cost slot per delivery, and a later message with no more entries than
        # the slots earned goes first, so small mail is not stuck behind a huge list
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
        now = self._clock.seconds()
        if transport.policy.destination_rate_delay > 0:
            # kept (even when idle) until the delay ends, so new mail cannot skip it
            queue.paused_until = now + transport.policy.destination_rate_delay
            self._seq += 1  # the sequence number keeps equal times in FIFO order
            heapq.heappush(self._sleeping, (queue.paused_until, self._seq, queue))
        if transport.policy.transport_rate_delay > 0:
            transport.paused_until = now + transport.policy.transport_rate_delay
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
        # (a stale entry in the ready line is skipped when its turn comes)
        transport = queue.transport
        if (queue.idle() and queue.paused_until <= self._clock.seconds()
                and transport.queues.get(queue.name) is queue):
            del transport.queues[queue.name]

    def message_finished(self, message_id) -> None:
        """The caller is done with the message's file; it leaves the active queue."""
        # recipients still waiting are dropped (e.g. the file turned out corrupt); a
        # message with deliveries in flight cannot leave
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
        """The F trigger: forget dead destinations and transports, reviving their queues."""
        count = self.dead.flush()
        for transport in self._transports.values():
            for queue in list(transport.queues.values()):
                self._is_dead(queue)
        return count

    def next_wakeup(self) -> float | None:
        """When a rate delay ends, so the service can call next_delivery() again then."""
        times = [until for until, _, queue in self._sleeping if queue.todo]
        times += [t.paused_until for t in self._transports.values()
                  if t.paused_until > self._clock.seconds() and t.ready]
        return min(times, default=None)

    @property
    def in_flight(self) -> int:
        """Deliveries handed out and not yet done."""
        return len(self._outstanding)

    def busy(self, transport: str) -> int:
        """Deliveries in flight through a transport."""
        found = self._transports.get(transport)
        return found.busy if found is not None else 0

    def window(self, transport: str, destination: str) -> int | None:
        """A destination's current concurrency window, or None if it has no queue."""
        found = self._transports.get(transport)
        queue = found.queues.get(destination) if found is not None else None
        return queue.window.window if queue is not None else None
