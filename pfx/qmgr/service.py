"""The qmgr service: the public/qmgr trigger socket, wakeup timers, and the QueueManager.

Security: the trigger socket is world-writable (mode 0666 in the 0710 public/
directory); a writer can only wake qmgr up with I, D, A, F or W bytes, never tell it
anything else. Queue files are written only by cleanup (mode 0700 in a 0700
directory), but qmgr still validates every file it opens (record grammar, sizes,
END) and moves a bad one to corrupt/ without delivering it; paths are built only
from QueueId values. Recipient addresses in those files came from SMTP clients: they
are resolved by the pure pfx.address code and passed to agents as values, never to a
shell. Agents are trusted plugins, yet their answers are checked (one status per
recipient, in order) and time-limited. qmgr writes: renames between incoming,
active, deferred and corrupt; D records in place; it deletes finished files and
their defer/trace logs.

Parameters: queue_directory, the QMGR_PARAMETERS of params.py (backoff, lifetimes,
delay warnings, active-queue limits, per-transport concurrency and recipient
limits), the address-resolution parameters (RESOLVE_PARAMS and pfx.config.core's
myhostname, mydestination, relay_domains, inet_interfaces, proxy_interfaces, ...),
daemon_timeout and $transport_time_limit / command_time_limit (an agent's deadline is
the larger), double_bounce_sender, soft_bounce,
default_filter_nexthop (with the queue files' content_filter and redirect attributes),
delay_logging_resolution_limit, default_process_limit, and master.cf's maxproc
(per transport) and wakeup (this row).
"""

import os

from twisted.application.service import MultiService
from twisted.internet import task

from pfx.config import mastercf
from pfx.config.resolving import make_resolve_settings
from pfx.errors import ConfigError
from pfx.interfaces import INotifier, IQueueManager
from pfx.qmgr.backoff import RetryPolicy
from pfx.qmgr.manager import QueueManager
from pfx.qmgr.policy import SchedulerConfig
from pfx.qmgr.routing import filter_route, resolve_route
from pfx.qmgr.scheduler import Scheduler
from pfx.queue.store import LAYOUT, QueueStore
from pfx.tables.registry import Registry
from pfx.runtime.trigger import TriggerService


class QmgrService(MultiService):
    """Runs a QueueManager: triggers from the socket, W every ``wakeup`` seconds and D
    every queue_run_delay."""

    def __init__(self, manager, reactor, clock, wakeup, queue_run_delay, with_socket=True,
                 context=None):
        super().__init__()
        self.manager = manager
        self.context = context
        self.clock = clock
        self._timers = []
        self._wakeup, self._run_delay = wakeup, queue_run_delay
        if with_socket:
            path = os.path.join(manager.store.queue_dir("public"), "qmgr")
            TriggerService(reactor, path, manager.kick).setServiceParent(self)

    def _ensure_dirs(self):
        # twistd may run without ``pfx start`` (which runs ``pfx check``) first
        self.manager.store.ensure_dirs(("public", "incoming", "active", "deferred", "corrupt"))

    def privilegedStartService(self):
        self._ensure_dirs()
        super().privilegedStartService()

    def startService(self):
        self._ensure_dirs()
        super().startService()
        if self.context is not None:
            self.context.provide(IQueueManager, self.manager)
        self.manager.start()
        # the master's wakeup (an incoming scan) and the deferred scan granularity
        for interval, trigger in ((self._wakeup, b"W"), (self._run_delay, b"D")):
            if interval > 0:
                timer = task.LoopingCall(self.manager.kick, trigger)
                timer.clock = self.clock
                timer.start(interval, now=False)
                self._timers.append(timer)

    def stopService(self):
        for timer in self._timers:
            if timer.running:
                timer.stop()
        self._timers = []
        self.manager.stop()
        return super().stopService()


def _maxprocs(context, default_limit):
    """master.cf service name -> maxproc, for the per-transport process limits."""
    path = os.path.join(context.config_dir or "", "master.cf")
    try:
        entries = mastercf.read(path)
    except (OSError, ConfigError):
        return {}
    return {e.service: e.maxproc_or(default_limit) for e in entries}


def _notifier_lookup(context, log):
    """INotifier from the bounce row, looked up on use; without one, no notices."""
    state = {"warned": False}

    def notifier():
        try:
            return context.require(INotifier)
        except LookupError:
            if not state["warned"]:
                state["warned"] = True
                log.warning("no bounce service in master.cf: "
                            "delivery status notifications are not sent")
            return None
    return notifier


def _time_limits(settings):
    """transport -> seconds a deliver() call may take: max(daemon_timeout,
    $transport_time_limit), see params.DELIVERY_PARAMS."""
    cache = {}
    watchdog = int(settings.get("daemon_timeout"))

    def limit(transport):
        if transport not in cache:
            try:
                own = int(settings.get(f"{transport}_time_limit"))
            except (ConfigError, TypeError, ValueError):
                own = int(settings.get("command_time_limit"))
            cache[transport] = max(watchdog, own)
        return cache[transport]
    return limit


def make_manager(context, store=None, maxprocs=None) -> QueueManager:
    """Build the QueueManager for one master.cf row from its context."""
    settings, runtime = context.settings, context.runtime
    log = context.logger("qmgr")
    clock = runtime.clock
    if store is None:
        store = QueueStore(settings.get_str("queue_directory"), warn=log.warning,
                           clock=clock.seconds)
    if maxprocs is None:
        maxprocs = _maxprocs(context, int(settings.get("default_process_limit")))
    config = SchedulerConfig.from_settings(settings.get, maxprocs)
    tables = context.tables if context.tables is not None else Registry({}, log.warning)
    resolve_settings = make_resolve_settings(settings, tables)
    double_bounce = settings.get_str("double_bounce_sender")

    def router(address, sender):
        return resolve_route(address, sender, resolve_settings, double_bounce)

    filter_nexthop = settings.get_str("default_filter_nexthop")
    myhostname = settings.get_str("myhostname")

    def filter_router(content_filter, address):
        return filter_route(content_filter, address, filter_nexthop, myhostname)

    return QueueManager(
        store=store, scheduler=Scheduler(config, clock),
        retry=RetryPolicy.from_settings(settings.get), router=router,
        filter_router=filter_router,
        agent_for=context.agent_for, notifier=_notifier_lookup(context, log),
        clock=clock, run_blocking=runtime.run_blocking, log=log,
        time_limit=_time_limits(settings),
        resolution=int(settings.get("delay_logging_resolution_limit")),
        soft_bounce=bool(settings.get("soft_bounce")),
        agent_log=lambda transport: context.logger(transport))


def make_service(entry, context) -> QmgrService:
    manager = make_manager(context)
    runtime = context.runtime
    return QmgrService(manager, runtime.reactor, runtime.clock, entry.wakeup,
                       int(context.settings.get("queue_run_delay")), context=context)
