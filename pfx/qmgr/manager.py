"""The queue manager's loop: scans, the active queue, deliveries, outcomes, file moves."""

# Driven by kick() (trigger bytes) and by Deferreds; time comes from the injected clock
# and every blocking file operation goes through run_blocking, so unit tests run it
# with task.Clock and an inline runner. service.py adds the trigger socket and timers.
# The order of durable steps is the queue promise's: a recipient's bounce-log entry and
# its D record are on disk before it counts as done, and the file moves (rename) only
# when nothing of it is in flight.

import os
from itertools import islice

import attrs
from twisted.internet import defer
from twisted.python.failure import Failure
from zope.interface import implementer

from pfx.envelope import RecipientStatus
from pfx.errors import QueueFileCorrupt
from pfx.interfaces import IQueueManager
from pfx.qmgr import deliver, logline, members
from pfx.qmgr.active import DEFER, EXPIRE, REMOVE, ActiveMessage, Fate, previous_attempt
from pfx.qmgr.feed import DEFERRED, INCOMING, Feed
from pfx.qmgr.handoff import HeldCalls, each
from pfx.qmgr.routing import filter_route
from pfx.qmgr.triggers import Triggers
from pfx.qmgr.values import Outcome, Routed
from pfx.queue.qfile import mark_done

OPEN_BATCH = 16  # messages read into the active queue per blocking call, at most


@implementer(IQueueManager)
class QueueManager:
    """Moves every message from incoming/ (or a due deferred/ file) to a final state."""

    def __init__(self, *, store, scheduler, retry, router, agent_for, notifier, clock,
                 run_blocking, log, time_limit=lambda transport: 1000, resolution=2,
                 soft_bounce=False, agent_log=None, feed_cap=1000, filter_router=None):
        self.store, self.scheduler, self.retry = store, scheduler, retry
        self._router = router  # (address, sender) -> routing.Route
        # (content_filter, address) -> routing.Route, or None for a bad filter
        self._filter_router = filter_router or filter_route
        self._agent_for = agent_for  # transport -> IDeliveryAgent | None
        self._notifier = notifier  # () -> INotifier | None
        self.clock, self.log = clock, log
        # blocking calls asked for during a pass of the pump go to a thread together
        self._blocking = HeldCalls(run_blocking, lambda: self._pumping, self._batch)
        self._time_limit, self._resolution = time_limit, resolution
        self._soft_bounce = soft_bounce
        self._agent_log = agent_log or (lambda transport: log)
        self.feed, self.triggers = Feed(feed_cap), Triggers()
        self.messages: dict = {}  # QueueId -> ActiveMessage (in active/)
        self.running = False
        self._scans: dict = {}  # queue -> iterator over the directory (a scan in progress)
        self._filling: set = set()
        self._opening = frozenset()  # the ids being read into the active queue
        self._pumping = self._again = False
        self._wakeup = None

    # -- start, stop, triggers --------------------------------------------------------

    def start(self):
        """Put files a crash left in active/ back in incoming/, then scan both queues."""
        self.running = True
        d = self._blocking(self._recover)
        d.addCallback(lambda count: self.kick(b"ID"))
        return d.addErrback(self._bug, "recovering active/")

    def _recover(self) -> int:
        count = 0
        for qid in list(self.store.scan("active", ready_only=False)):
            try:
                self.store.move(qid, "active", "incoming")
                count += 1
            except FileExistsError:
                self.store.warn(f"{qid}: in active and incoming: left in active")
        return count

    def stop(self):
        self.running = False
        if self._wakeup is not None and self._wakeup.active():
            self._wakeup.cancel()

    def kick(self, trigger):
        """Trigger bytes: I incoming, D deferred, A all deferred, F flush dead, W wakeup."""
        if isinstance(trigger, str):
            trigger = trigger.encode("ascii", "ignore")
        actions = self.triggers.receive(trigger)
        if actions.flush_dead:
            self.scheduler.flush_dead()
        for queue in actions.start:
            self._begin_scan(queue)
        self._pump()

    # -- scans ------------------------------------------------------------------------

    def _begin_scan(self, queue):
        scan = self.triggers.scans[queue]
        due = None if queue == INCOMING or scan.scan_all else self.clock.seconds()
        # lazy: no I/O yet. Files already waiting in the feed are skipped, so a rescan
        # per trigger costs nothing for a backlog that qmgr has not opened yet.
        self._scans[queue] = self.store.scan(queue, due=due,
                                             skip=self.feed.waiting_names(queue))

    def _fill(self, queue):
        it = self._scans.get(queue)
        room = self.feed.room(queue)
        if it is None or room == 0 or queue in self._filling:
            return
        self._filling.add(queue)
        d = self._blocking(lambda: list(islice(it, room)))
        d.addCallback(self._filled, queue, it, room)
        d.addErrback(self._bug, f"scanning {queue}")
        d.addBoth(lambda _: (self._filling.discard(queue), self._pump()))

    def _filled(self, ids, queue, it, room):
        for qid in ids:
            if qid not in self.messages and qid not in self._opening:
                self.feed.offer(queue, qid)
        if len(ids) < room and self._scans.get(queue) is it:
            del self._scans[queue]
            if self.triggers.scans[queue].finished():  # asked again meanwhile
                self._begin_scan(queue)

    # -- the pump ---------------------------------------------------------------------

    def _pump(self):
        """Do everything that can be done now; re-entrant calls just ask for another pass."""
        if self._pumping:
            self._again = True
            return
        self._pumping = True
        try:
            while True:
                self._again = False
                if self.running:
                    self._pass()
                if not self._again:
                    break
        finally:
            self._pumping = False
            self._blocking.release()

    def _pass(self):
        for queue in (INCOMING, DEFERRED):
            self._fill(queue)
        if not self._opening:
            batch = []
            for _ in range(self.scheduler.room(OPEN_BATCH)):
                item = self.feed.take()
                if item is None:
                    break
                batch.append(item)
            if batch:
                self._open(batch)
        for delivery in self.scheduler.deliveries():
            self._start(delivery)
        wake = self.scheduler.next_wakeup()
        if wake is not None and (self._wakeup is None or not self._wakeup.active()):
            self._wakeup = self.clock.callLater(max(0, wake - self.clock.seconds()),
                                                self._pump)

    # -- into the active queue --------------------------------------------------------

    def _open(self, batch):
        """Read up to OPEN_BATCH messages into the active queue in one blocking call:
        one thread round trip for a backlog, not one per message."""
        self._opening = frozenset(qid for _, qid in batch)
        flush = {queue: self.triggers.scans[queue].override_defer for queue, _ in batch}
        d = self._blocking(each, self._load, batch)
        d.addCallback(self._opened, batch, flush)
        d.addErrback(self._bug, "opening " + " ".join(str(qid) for _, qid in batch))

        def done(_):
            self._opening = frozenset()
            self._pump()
        d.addBoth(done)

    def _opened(self, results, batch, flush):
        for (queue, qid), (loaded, error) in zip(batch, results):
            if error is not None:
                self._bug(Failure(error), f"{qid}: opening")
                continue
            try:
                self._loaded(loaded, queue, qid, flush[queue])
            except Exception:
                self._bug(Failure(), f"{qid}: opening")

    def _load(self, queue, qid):
        """Blocking: move to active/, forget the old defer log, read the envelope."""
        store = self.store
        try:
            mtime = store.next_attempt(queue, qid) if queue == DEFERRED else None
            store.move(qid, queue, "active")
        except (FileNotFoundError, FileExistsError):
            return None  # removed, held or already taken meanwhile
        try:
            os.unlink(store.path("defer", qid))  # rewritten by this attempt (qmgr_active_feed)
        except FileNotFoundError:
            pass
        try:
            info = store.read_info("active", qid)
        except QueueFileCorrupt:
            store.quarantine("active", qid)
            return None
        return info, mtime, os.path.exists(store.path("bounce", qid))

    def _loaded(self, loaded, queue, qid, flush):
        if loaded is None:
            return
        info, mtime, bounce_log = loaded
        now = self.clock.seconds()
        msg = ActiveMessage(qid, queue, info, now, flush)
        msg.bounce_log = bounce_log  # a bounce notice a crash kept from going out
        if mtime is not None:
            msg.previous = previous_attempt(info.create_time, mtime, self.retry)
        self.messages[qid] = msg
        self.log.info(logline.active_line(qid, info.sender, info.content_size,
                                          info.sizes.nrcpt))
        self._batch(self._add, msg, first=True)

    def _add(self, msg, first=False):
        """Route the next piece of recipients and hand them to the scheduler."""
        piece = msg.take(self.scheduler.recipient_budget()) if msg.more() else []
        if msg.redirect is not None:
            # REDIRECT overrides all else, once per message (qmgr_message_resolve): the
            # first recipient goes to the redirect address, the others are dropped
            piece = piece[:1] if first else []
            msg.drop_rest()
        routed, settled = [], []
        for rcpt in piece:
            try:
                route, rcpt = self._route(msg, rcpt)
            except Exception:
                self.log.error(f"{msg.name}: resolving <{rcpt.address}> failed")
                settled.append(RecipientStatus(rcpt, "deferred", deliver.CRASH_DSN,
                                               "address resolver failure"))
                continue
            if route.address and route.address != rcpt.address:
                rcpt = attrs.evolve(rcpt, address=route.address)
            if route.action is not None:
                settled.append(RecipientStatus(rcpt, route.action, route.dsn, route.text))
            else:
                routed.append(Routed(route.transport, route.nexthop, rcpt.address, rcpt))
        if settled:
            self._settle(msg, settled, "qmgr")
        if first:
            progress = self.scheduler.add_message(msg.queue_id, msg.info.arrival, routed,
                                                  more=msg.more(), flush=msg.flush)
        else:
            progress = self.scheduler.add_recipients(msg.queue_id, routed, more=msg.more())
        self._absorb(progress)

    def _route(self, msg, rcpt):
        """-> (Route, recipient): REDIRECT, then FILTER, then the address resolver."""
        if msg.redirect is not None:
            rcpt = attrs.evolve(rcpt, address=msg.redirect, orig=rcpt.orig or rcpt.address)
            return self._router(rcpt.address, msg.sender), rcpt
        content_filter = msg.content_filter
        if content_filter is not None:
            route = self._filter_router(content_filter, rcpt.address)
            if route is not None:
                return route, rcpt
            if not msg.filter_warned:
                msg.filter_warned = True
                self.log.warning(f"{msg.name}: bad content_filter \"{content_filter}\": "
                                 f"need transport:destination; ignored")
        return self._router(rcpt.address, msg.sender), rcpt

    # -- deliveries -------------------------------------------------------------------

    def _start(self, delivery):
        msg = self.messages[delivery.message_id]
        recipients = list(delivery.recipients)
        agent = self._agent_for(delivery.transport)
        if agent is None:
            outcome = Outcome.transport_failed(deliver.UNAVAILABLE)
            statuses = deliver.crash_statuses(recipients, deliver.UNAVAILABLE)
            self._finish_delivery(delivery, msg, statuses, outcome, None)
            return
        store, qid = self.store, msg.queue_id
        request = msg.request(recipients, delivery.transport, delivery.nexthop,
                              deliver.content_opener(lambda: store.open("active", qid)))
        handoff = self.clock.seconds()
        limit = self._time_limit(delivery.transport)
        d = deliver.call_agent(agent, request, self.clock, limit)
        d.addCallback(deliver.check_answer, recipients)
        d.addCallbacks(lambda statuses: (statuses, deliver.outcome_of(statuses)),
                       self._agent_failed, errbackArgs=(msg, delivery, recipients, limit))
        d.addCallback(lambda answer: self._batch(self._finish_delivery, delivery, msg,
                                                 answer[0], answer[1], handoff))
        d.addErrback(self._bug, f"{msg.name}: delivery via {delivery.transport}")

    def _agent_failed(self, failure, msg, delivery, recipients, limit):
        if failure.check(defer.TimeoutError, defer.CancelledError):
            why = f"no answer within {limit}s"
        else:
            why = f"{failure.type.__name__}: {failure.getErrorMessage()}"
        self.log.warning(f"{msg.name}: transport {delivery.transport}: agent failed: {why}")
        return (deliver.crash_statuses(recipients),
                Outcome.transport_failed(deliver.UNKNOWN_ERROR))

    def _finish_delivery(self, delivery, msg, statuses, outcome, handoff):
        # the delivery holds its slot until its D records are on disk, as a Postfix
        # agent does: a crash repeats at most the deliveries the limits let run
        def done():
            self._absorb(self.scheduler.delivery_done(delivery, outcome))
        self._settle(msg, statuses, delivery.transport, handoff, then=done)

    def _absorb(self, progress):
        by_message = {}
        for deferral in progress.deferred:
            by_message.setdefault(deferral.message_id, []).append(RecipientStatus(
                deferral.recipient, "deferred", deferral.dsn, deferral.text))
        for qid, statuses in by_message.items():
            self._settle(self.messages[qid], statuses, "qmgr")
        for qid in progress.refill:
            self._add(self.messages[qid])
        for qid in progress.completed:
            self.scheduler.message_finished(qid)
            msg = self.messages[qid]
            msg.completed = True
            self._maybe_finish(msg)

    # -- outcomes ---------------------------------------------------------------------

    def _settle(self, msg, statuses, program, handoff=None, then=None):
        """Make outcomes durable, then log and count them (deliver_completed order);
        ``then()`` runs after that, before the message may leave the active queue."""
        now = self.clock.seconds()
        pairs = members.expand(statuses)  # [(status, its final deliveries)]
        if self._soft_bounce:
            pairs = [(s, tuple(attrs.evolve(e, action="deferred", dsn=e.dsn.soften())
                               if e.action == "bounced" else e for e in parts))
                     for s, parts in pairs]
        msg.pending += 1
        d = self._record(msg, pairs)
        # whatever went wrong, nothing counts as final unless it is on disk
        d.addErrback(lambda f: (self._bug(f, f"{msg.name}: recording outcomes"), set())[1])
        d.addCallback(self._log_and_count, msg, pairs, program, handoff, now)
        d.addErrback(self._bug, f"{msg.name}: logging outcomes")

        if then is not None:
            d.addCallback(lambda _: self._batch(then))
            d.addErrback(self._bug, f"{msg.name}: after recording outcomes")

        def done(_):
            msg.pending -= 1
            self._maybe_finish(msg)
            self._pump()
        d.addBoth(done)

    @defer.inlineCallbacks
    def _record(self, msg, pairs):
        """-> the set of ids of final deliveries whose outcome is final on disk."""
        notifier = self._notifier()
        bounced_ok = set()
        for status in (e for _, parts in pairs for e in parts):
            if notifier is None:
                break
            if status.action == "sent":
                if "SUCCESS" not in status.recipient.notify:
                    continue
                kind = "trace"  # DSN NOTIFY=SUCCESS: a success notice at the end
            else:
                kind = "bounce" if status.action == "bounced" else "defer"
            try:
                yield notifier.append(kind, msg.name, status)
            except Exception as exc:
                self.log.warning(f"{msg.name}: cannot write {kind} log: {exc}")
                continue
            if kind == "bounce":
                bounced_ok.add(id(status))
            elif kind == "trace":
                msg.success_rcpts.append(status.recipient)

        def recorded(entry):
            return notifier is None or id(entry) in bounced_ok
        done = [s for s, parts in pairs if members.done(parts, recorded)]
        offsets = [s.recipient.offset for s in done if s.recipient.offset is not None]
        if offsets:
            try:
                yield self._blocking(mark_done, self.store.path("active", msg.queue_id),
                                     offsets)
            except Exception as exc:
                self.log.warning(f"{msg.name}: cannot update queue file: {exc}")
                return set()
        return {id(e) for _, parts in pairs for e in parts if members.done((e,), recorded)}

    def _log_and_count(self, final, msg, pairs, program, handoff, now):
        log = self.log if program == "qmgr" else self._agent_log(program)
        stamps = msg.stamps(handoff)
        for status in (e for _, parts in pairs for e in parts):
            rcpt = status.recipient
            log.info(logline.recipient_line(msg.name, rcpt.address, rcpt.orig, status.relay,
                                            stamps, now, status.dsn, status.action,
                                            status.text, self._resolution,
                                            getattr(status, "conn_use", 0),
                                            getattr(status, "setup_done", None)))
            action = status.action if id(status) in final or status.action == "deferred" \
                else "deferred"
            msg.count(action, rcpt)

    # -- leaving the active queue -----------------------------------------------------

    def _maybe_finish(self, msg):
        if not msg.completed or msg.pending or msg.finishing:
            return
        msg.finishing = True
        d = self._leave(msg)
        d.addErrback(self._bug, f"{msg.name}: finishing")

        def done(_):
            self.messages.pop(msg.queue_id, None)
            self._pump()
        d.addBoth(done)

    @defer.inlineCallbacks
    def _leave(self, msg):
        now = self.clock.seconds()
        fate = msg.fate(now, self.retry)
        notifier = self._notifier()
        store, qid = self.store, msg.queue_id
        opener = deliver.content_opener(lambda: store.open("active", qid))
        if notifier is not None and (msg.bounced or msg.bounce_log):
            ok = yield self._notice(notifier, "bounce", msg, msg.bounced_rcpts, opener)
            if not ok and fate.action == REMOVE:  # keep the file until the notice is out
                fate = Fate(DEFER, self.retry.minimal_backoff_time + now)
        if notifier is not None and msg.success_rcpts:
            yield self._notice(notifier, "success", msg, msg.success_rcpts, opener)
        if fate.action == EXPIRE:
            self.log.info(logline.expired_line(msg.name, msg.sender))
            if notifier is not None:
                ok = yield self._notice(notifier, "expire", msg, msg.deferred_rcpts, opener)
                if not ok:
                    fate = Fate(DEFER, self.retry.minimal_backoff_time + now)
        if fate.action in (REMOVE, EXPIRE):
            yield self._blocking(_remove, store, qid)
            self.log.info(logline.removed_line(msg.name))
            return
        if fate.warn and notifier is not None:
            yield self._notice(notifier, "delay", msg, msg.deferred_rcpts, opener)
        yield self._blocking(store.move, qid, "active", "deferred", mtime=fate.next_attempt)

    @defer.inlineCallbacks
    def _notice(self, notifier, kind, msg, recipients, opener):
        """Send one notice; False when the bounce program failed (try again later)."""
        try:
            yield notifier.flush(kind, msg.name, msg.request(recipients,
                                                                      open_content=opener))
        except Exception as exc:
            self.log.warning(f"{msg.name}: {kind} notice not sent: {exc}")
            return False
        # the bounce program logs "QID: sender non-delivery notification: QID2" itself,
        # as Postfix's bounce(8) does; ``notice`` is that QID2, or None for no notice
        return True

    # -- helpers ----------------------------------------------------------------------

    def _batch(self, f, *args, **kwargs):
        """Run ``f`` as one step: the pump runs once, after it, not in the middle."""
        if self._pumping:
            f(*args, **kwargs)
            self._again = True
            return
        self._pumping = True
        try:
            f(*args, **kwargs)
        except BaseException:
            self._pumping = False
            self._blocking.release()
            raise
        self._pumping = False
        self._pump()

    def _bug(self, failure, what):
        self.log.error(f"{what}: {failure.type.__name__}: {failure.getErrorMessage()}")
        return None


def _remove(store, qid):
    store.remove("active", qid)
    for logs in ("defer", "trace"):
        try:
            os.unlink(store.path(logs, qid))
        except FileNotFoundError:
            pass
