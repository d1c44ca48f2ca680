"""Every discovered plugin provides its interface; pfx and the example agent install
their twisted/plugins modules so that a plain installation finds them."""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from twisted.internet.task import Clock
from twisted.plugin import getPlugins
from zope.interface.verify import verifyObject

from pfx.config.settings import Settings
from pfx.discover import discover
from pfx.interfaces import (IDeliveryAgent, IDeliveryAgentFactory, IServiceFactory,
                            ITableType)
from pfx.runtime.build import inline_runtime

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "pfx_example_agent"


@pytest.mark.parametrize("interface", [IDeliveryAgentFactory, IServiceFactory, ITableType])
def test_every_plugin_provides_its_interface(interface):
    for plugin in getPlugins(interface):
        verifyObject(interface, plugin)
        assert plugin.name and plugin.description


# master.cf arguments an agent cannot do without (pipe's argv=, and user= under root)
ROW_ARGS = {"pipe": ("user=nobody", "argv=/bin/true")}


def test_every_agent_factory_makes_an_agent_with_default_settings():
    installed = discover()
    assert {"discard", "error", "retry"} <= set(installed.agents)
    settings = Settings(installed.registry(), {}, "/nonexistent")
    for factory in installed.agents.values():
        row = settings.for_service(factory.name, master_args=ROW_ARGS.get(factory.name, ()))
        agent = factory.make_agent(row, inline_runtime(Clock()))
        verifyObject(IDeliveryAgent, agent)


def test_plugin_declarations_agree():
    # two plugins declaring one parameter differently would make registry() raise
    assert "mydestination" in discover().registry()


def _install(source, target, tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(wheels), str(source)],
                   check=True, capture_output=True)
    [wheel] = [w for w in wheels.glob("*.whl")]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(target), str(wheel)], check=True, capture_output=True)
    return wheel


def _discover_in(paths):
    """Run discovery in a child that sees only ``paths`` and the dependencies: no
    checkout on sys.path, no .pth files."""
    site = sysconfig.get_paths()["purelib"]
    code = ("from pfx.discover import discover; from twisted.plugin import getPlugins;"
            "from twisted.application.service import IServiceMaker;"
            "i = discover(); print(sorted(i.agents)); print(i.failures);"
            "print([p.tapname for p in getPlugins(IServiceMaker) if p.tapname == 'pfx'])")
    env = {"PYTHONPATH": ":".join([*map(str, paths), site]), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-S", "-c", code], env=env, cwd="/",
                          capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


@pytest.mark.e2e
def test_wheels_carry_their_plugins(tmp_path):
    target = tmp_path / "site"
    wheel = _install(ROOT, target, tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "twisted/plugins/pfx_twistd.py" in names
    assert "twisted/plugins/pfx_builtins.py" in names
    assert "twisted/plugins/__init__.py" not in names and "twisted/__init__.py" not in names
    assert not [n for n in names if n.startswith("tests/")]
    # pip --target will not merge into an existing twisted/: a second site directory,
    # as a separately installed third-party package would be
    _install(EXAMPLE, tmp_path / "site2", tmp_path / "ex")
    agents, failures, tapnames = _discover_in([target, tmp_path / "site2"])
    assert "example" in agents and "discard" in agents
    assert failures == "()"
    assert tapnames == "['pfx']"
