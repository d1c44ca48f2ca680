"""MasterService without a reactor: build order, agents registered, reload by diff."""

import pytest
from twisted.application.service import Service
from twisted.internet.task import Clock
from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.agents.simple import discard
from pfx.config import maincf, mastercf
from pfx.config.core import CORE_PARAMS
from pfx.config.load import Config
from pfx.config.params import ParamRegistry
from pfx.config.settings import Settings
from pfx.discover import Installed
from pfx.errors import ConfigError
from pfx.interfaces import IServiceFactory
from pfx.master.service import MasterService
from pfx.plugin import Param
from pfx.runtime.build import inline_runtime


class RecordingLog:
    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)

    warning = error = info


class Recorded(Service):
    def __init__(self, events, label):
        self.events, self.label = events, label

    def startService(self):
        super().startService()
        self.events.append(("start", self.label))

    def stopService(self):
        super().stopService()
        self.events.append(("stop", self.label))


@implementer(IPlugin, IServiceFactory)
class Factory:
    def __init__(self, name, order, events, parameters=()):
        self.name, self.start_order, self.events = name, order, events
        self.description, self.parameters = name, parameters
        self.built = []

    def make_service(self, entry, context):
        value = context.settings.get_str("knob") if self.parameters else ""
        if value == "explode":
            raise ConfigError("knob cannot explode", entry.file, entry.line, "knob")
        self.built.append(entry.service)
        return Recorded(self.events, f"{entry.service}:{value}")


def make_config(main, master):
    registry = ParamRegistry(CORE_PARAMS, ())
    registry.add(Param("knob", "default"))
    m = maincf.parse(main, "/cf/main.cf")
    entries = tuple(mastercf.parse(master, "/cf/master.cf"))
    return Config("/cf", m, entries, Settings.from_maincf(registry, m, "/cf"))


@pytest.fixture
def world():
    events = []
    factories = {"front": Factory("front", 50, events, (Param("knob", "default"),)),
                 "core": Factory("core", 20, events)}
    installed = Installed(factories, {"discard": discard}, {})
    return events, factories, installed


MASTER = ("front1 unix - - n - - front\n"
          "core unix - - n - - core\n"
          "front2 unix - - n - - front\n  -o knob=pinned\n"
          "discard unix - - n - - discard\n")


def test_rows_start_in_order_and_stop_in_reverse(world):
    events, _, installed = world
    master = MasterService(make_config("", MASTER), installed, inline_runtime(Clock()),
                           RecordingLog())
    master.startService()
    assert events == [("start", "core:"), ("start", "front1:default"),
                      ("start", "front2:pinned")]
    assert master.components.agents["discard"] is not None
    events.clear()
    master.stopService()
    assert events == [("stop", "front2:pinned"), ("stop", "front1:default"), ("stop", "core:")]


def test_reload_rebuilds_only_changed_rows(world):
    events, factories, installed = world
    log = RecordingLog()
    master = MasterService(make_config("", MASTER), installed, inline_runtime(Clock()), log)
    master.startService()
    before = master.row_services()
    events.clear()
    # knob changes for front1 only (front2 pins it); discard's row is untouched
    result = []
    master.reload(make_config("knob = new\n", MASTER)).addCallback(result.append)
    assert result == [(1, 1)]
    assert events == [("stop", "front1:default"), ("start", "front1:new")]
    after = master.row_services()
    assert after["front2/unix"] is before["front2/unix"]
    assert after["core/unix"] is before["core/unix"]
    assert after["discard/unix"] is before["discard/unix"]
    assert log.lines[-1].startswith("reload -- version")


def test_reload_adds_and_removes_rows(world):
    events, _, installed = world
    master = MasterService(make_config("", MASTER), installed, inline_runtime(Clock()),
                           RecordingLog())
    master.startService()
    events.clear()
    smaller = "core unix - - n - - core\nfront3 unix - - n - - front\n"
    master.reload(make_config("", smaller))
    assert sorted(master.row_services()) == ["core/unix", "front3/unix"]
    assert ("start", "front3:default") in events
    assert ("stop", "front1:default") in events and ("stop", "front2:pinned") in events
    assert "discard" not in master.components.agents


def test_failed_reload_changes_nothing(world):
    events, _, installed = world
    master = MasterService(make_config("", MASTER), installed, inline_runtime(Clock()),
                           RecordingLog())
    master.startService()
    before = master.row_services()
    events.clear()
    failures = []
    d = master.reload(make_config("knob = explode\n", MASTER))
    d.addErrback(failures.append)
    assert failures and failures[0].check(ConfigError)
    assert "knob cannot explode" in str(failures[0].value)
    assert events == []
    assert master.row_services() == before


def test_unknown_command_names_file_line_and_installed(world):
    _, _, installed = world
    with pytest.raises(ConfigError) as e:
        MasterService(make_config("", "x unix - - n - - nope\n"), installed,
                      inline_runtime(Clock()), RecordingLog())
    assert str(e.value) == ('/cf/master.cf, line 1: unknown command "nope": installed '
                            "services and delivery agents: core, discard, front")
