"""The import rules of STYLE.md, checked by walking every module's imports with ast."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = ("pfx.master", "pfx.smtpd", "pfx.pickup", "pfx.cleanup", "pfx.qmgr", "pfx.bounce",
            "pfx.agents")
PURE = ("pfx.config", "pfx.address", "pfx.tables", "pfx.queue", "pfx.smtp", "pfx.delivery")
PUBLIC_API = ("pfx.interfaces", "pfx.envelope", "pfx.dsn", "pfx.errors", "pfx.plugin")
# modules of a program package that may face the reactor (endpoints, protocols, ssl, task)
REACTOR_FACING = ("service", "protocol", "connect")
REACTOR_MODULES = ("twisted.internet.endpoints", "twisted.internet.protocol",
                   "twisted.internet.ssl", "twisted.internet.task",
                   "twisted.internet.reactor", "twisted.application.internet")
MAX_LINES = 500
OVERSIZE_ALLOWED: dict[str, str] = {}  # module -> why it may exceed MAX_LINES


def modules():
    for path in sorted((ROOT / "pfx").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts)
        yield name.removesuffix(".__init__"), path


def imports(path):
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node))
            found += [(f"{node.module}.{a.name}", node) for a in node.names]
    return found


def under(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer(name):
    if under(name, ("pfx.util",)):
        return 0
    if under(name, PUBLIC_API):
        return 1
    if under(name, PURE):
        return 2
    if under(name, PROGRAMS + ("pfx.runtime", "pfx.tables.net")):
        return 3
    return 4  # pfx.app, pfx.cli, pfx.discover


def program_of(name):
    for p in PROGRAMS:
        if under(name, (p,)):
            return p if p != "pfx.agents" else ".".join(name.split(".")[:3])
    return None


def violations():
    for name, path in modules():
        yield from check_module(name, [t for t, _ in imports(path)])


def check_module(name, targets):
    mine = layer(name)
    for target in targets:
        if target.startswith("pfx.") or target == "pfx":
            if target == "pfx" or target == "pfx.__version__":
                continue
            if layer(target) > mine:
                yield f"{name} (L{mine}) imports {target} (L{layer(target)})"
            a, b = program_of(name), program_of(target)
            if a and b and a != b:
                yield f"program {a} imports program {b}: meet through pfx.interfaces"
        if mine <= 1 and target.startswith("twisted"):
            yield f"{name} (L{mine}) imports {target}"
        if mine == 2 and target.startswith("twisted.internet"):
            yield f"pure {name} imports {target}"
        if under(name, ("pfx.smtp",)) and target.startswith("twisted"):
            yield f"{name} imports {target}: pfx.smtp is sans-IO"
        if target == "twisted.internet.reactor" and mine < 4:
            yield f"{name} imports the global reactor"
        if mine == 3 and not under(name, ("pfx.runtime",)) \
                and name.rsplit(".", 1)[-1] not in REACTOR_FACING \
                and any(under(target, (m,)) for m in REACTOR_MODULES):
            yield f"{name} imports {target}: only service/protocol modules face the reactor"


def test_layers():
    assert list(violations()) == []


def test_plugin_modules_import_only_public_api_and_their_class():
    for path in sorted((ROOT / "twisted" / "plugins").glob("*.py")):
        for target, node in imports(path):
            if target.startswith("pfx"):
                assert under(target, PUBLIC_API + ("pfx.agents", "pfx.tables.types",
                                                   "pfx.smtpd.plugin", "pfx.pickup.plugin",
                                                   "pfx.cleanup.plugin", "pfx.qmgr.plugin",
                                                   "pfx.bounce.plugin")), \
                    f"{path.name} imports {target}"
            assert not target.startswith("pfx.app"), f"{path.name} imports the application"


def test_no_init_py_in_plugins_dir():
    assert not (ROOT / "twisted" / "plugins" / "__init__.py").exists()
    assert not (ROOT / "twisted" / "__init__.py").exists()


@pytest.mark.parametrize("name,path", list(modules()))
def test_module_is_small_and_says_what_it_is(name, path):
    text = path.read_text()
    lines = text.count("\n")
    assert lines <= MAX_LINES or name in OVERSIZE_ALLOWED, f"{name}: {lines} lines"
    assert ast.get_docstring(ast.parse(text)), f"{name} has no module docstring"


@pytest.mark.parametrize("name,target", [
    ("pfx.smtp.server", "twisted.internet.defer"),
    ("pfx.queue.qfile", "twisted.internet.reactor"),
    ("pfx.config.params", "pfx.master.service"),
    ("pfx.smtpd.session", "pfx.qmgr.scheduler"),
    ("pfx.smtpd.session", "twisted.internet.endpoints"),
    ("pfx.envelope", "twisted.internet.defer"),
])
def test_the_checker_catches_violations(name, target):
    assert list(check_module(name, [target]))


def test_the_checker_allows_the_layers():
    assert not list(check_module("pfx.smtpd.service", ["twisted.internet.endpoints",
                                                       "pfx.interfaces", "pfx.smtp.server"]))
