"""Unit tests never start a reactor (STYLE.md habit 3): none of them imports the global
reactor, runs one, or uses trial's reactor-driven TestCase; time is task.Clock, I/O is
StringTransport/MemoryReactor, and Deferreds fire synchronously."""

import ast
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent
REACTOR_MODULES = {"twisted.internet.reactor", "twisted.internet.default",
                   "twisted.internet.epollreactor", "twisted.internet.selectreactor",
                   "twisted.internet.pollreactor", "twisted.internet.asyncioreactor"}


def offences(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name in REACTOR_MODULES]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module == "twisted.internet":
                found += [f"{module}.{a.name}" for a in node.names
                          if f"{module}.{a.name}" in REACTOR_MODULES]
            elif module in REACTOR_MODULES:
                found.append(module)
            elif module == "twisted.trial.unittest":
                found += [f"{module}.{a.name}" for a in node.names if a.name == "TestCase"]
            elif module.startswith("pytest_twisted"):
                found.append(module)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "run" and isinstance(node.func.value, ast.Name) \
                and node.func.value.id == "reactor":
            found.append("reactor.run()")
    return found


@pytest.mark.parametrize("path", sorted(UNIT.rglob("*.py")), ids=lambda p: str(p.relative_to(UNIT)))
def test_no_unit_test_module_touches_a_real_reactor(path):
    assert offences(path.read_text()) == []


@pytest.mark.parametrize("source", [
    "from twisted.internet import reactor\n",
    "import twisted.internet.reactor\n",
    "from twisted.trial.unittest import TestCase\n",
    "def f(reactor):\n    reactor.run()\n",
])
def test_the_check_catches_each_form(source):
    assert offences(source) != []


def test_the_check_allows_what_unit_tests_use():
    assert offences("from twisted.internet.task import Clock\n"
                    "from twisted.internet import defer\n"
                    "from twisted.trial.unittest import SynchronousTestCase\n"
                    "from twisted.test.proto_helpers import MemoryReactorClock\n") == []
