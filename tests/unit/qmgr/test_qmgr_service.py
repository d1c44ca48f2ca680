"""The qmgr service: timers on a Clock, and the plugin building it from a master.cf row."""

from twisted.internet.testing import MemoryReactorClock
from zope.interface.verify import verifyObject

from pfx.agents.simple import discard
from pfx.config import mastercf
from pfx.config.core import CORE_PARAMS
from pfx.config.params import ParamRegistry
from pfx.config.settings import Setting, Settings
from pfx.interfaces import IQueueManager, IServiceFactory
from pfx.qmgr.plugin import QmgrFactory
from pfx.qmgr.service import QmgrService, make_manager
from pfx.runtime.build import inline_runtime
from pfx.runtime.context import Components, ServiceContext
from pfx.tables.registry import Registry

from qmgr_fakes import RecordingLog, World


def test_deferred_mail_follows_the_backoff_schedule_with_the_timers(tmp_path):
    w = World(tmp_path)
    w.agents["smtp"].plan = lambda address: ("deferred", "4.4.1", "connect failed")
    start = w.clock.seconds()
    qid = w.submit()
    service = QmgrService(w.manager, None, w.clock, wakeup=300, queue_run_delay=300,
                          with_socket=False)
    service.startService()
    w.clock.pump([100] * 140)  # 14,000 s
    attempts = [line for line in w.log.with_id(qid) if "(queue active)" in line]
    delays = [int(line.split("delay=")[1].split(",")[0])
              for line in w.log.with_id(qid) if "status=deferred" in line]
    assert len(attempts) == 8
    # the file's age at each attempt: QM-3's schedule, each a multiple of queue_run_delay
    assert delays == [0, 300, 600, 1200, 2400, 4800, 9000, 13200]
    service.stopService()
    assert not w.clock.getDelayedCalls()
    assert w.clock.seconds() - start == 14000


def test_wakeup_timer_scans_incoming_without_a_trigger(tmp_path):
    w = World(tmp_path)
    service = QmgrService(w.manager, None, w.clock, wakeup=60, queue_run_delay=300,
                          with_socket=False)
    service.startService()
    qid = w.submit()  # no "I" trigger: the next wakeup finds it
    w.clock.advance(59)
    assert w.where(qid) == "incoming"
    w.clock.advance(1)
    assert w.where(qid) is None
    service.stopService()


def _context(tmp_path, master, main=None, agents=None):
    (tmp_path / "master.cf").write_text(master)
    entries = mastercf.read(str(tmp_path / "master.cf"))
    registry = ParamRegistry(CORE_PARAMS)
    registry.add_declarations(QmgrFactory.parameters)
    registry = registry.for_services(e.service for e in entries)
    explicit = {"queue_directory": Setting(str(tmp_path / "spool")),
                "myhostname": Setting("mx.example.test"),
                "inet_interfaces": Setting("127.0.0.1"),
                "inet_protocols": Setting("ipv4")}
    explicit.update({k: Setting(v) for k, v in (main or {}).items()})
    settings = Settings(registry, explicit, str(tmp_path))
    clock = MemoryReactorClock()
    components = Components()
    components.agents.update(agents or {})
    runtime = inline_runtime(clock, log=RecordingLog(), reactor=clock)
    context = ServiceContext(settings.for_service("qmgr"), runtime, str(tmp_path),
                             components, Registry({}))
    context.logger = lambda program: runtime.log
    return context, entries, clock


MASTER = ("qmgr unix n - n 300 1 qmgr\n"
          "smtp unix - - n - 7 discard\n"
          "discard unix - - n - - discard\n")


def test_plugin_builds_and_starts_the_service(tmp_path):
    factory = QmgrFactory()
    verifyObject(IServiceFactory, factory)
    assert factory.start_order == 30
    context, entries, clock = _context(tmp_path, MASTER, agents={
        "discard": discard.make_agent(None, None)},
        main={"transport_maps": "", "smtp_time_limit": "77s", "daemon_timeout": "60s"})
    service = factory.make_service(entries[0], context)
    service.privilegedStartService()
    service.startService()
    manager = context.require(IQueueManager)
    verifyObject(IQueueManager, manager)
    assert manager is service.manager
    assert clock.unixServers and clock.unixServers[0][0].endswith("/public/qmgr")
    assert manager.scheduler.config.policy("smtp").process_limit == 7
    # the larger of daemon_timeout and $transport_time_limit (default $command_time_limit)
    assert manager._time_limit("smtp") == 77
    assert manager._time_limit("discard") == 1000
    service.stopService()


def test_mail_to_the_discard_transport_through_real_settings(tmp_path):
    context, entries, clock = _context(
        tmp_path, MASTER, agents={"discard": discard.make_agent(None, None)},
        main={"default_transport": "discard:discarded"})
    manager = make_manager(context)
    manager.store.check(repair=True)
    w = World.__new__(World)  # reuse submit() against this manager's store
    w.store, w.clock = manager.store, clock
    qid = World.submit(w)
    manager.start()
    lines = context.runtime.log.lines
    assert any(f"{qid}: to=<user@example.com>, relay=none" in x
               and x.endswith("dsn=2.0.0, status=sent (discarded)") for x in lines)
    assert lines[-1] == f"{qid}: removed"


def test_default_filter_nexthop_reaches_the_filter_router(tmp_path):
    context, entries, clock = _context(tmp_path, MASTER,
                                       main={"default_filter_nexthop": "[127.0.0.1]:10025"})
    manager = make_manager(context)
    route = manager._filter_router("smtp:", "user@example.com")
    assert (route.transport, route.nexthop) == ("smtp", "[127.0.0.1]:10025")
    assert manager._filter_router("smtp:[10.0.0.2]", "u@example.com").nexthop == "[10.0.0.2]"
