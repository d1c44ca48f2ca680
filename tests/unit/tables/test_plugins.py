"""The table types are discoverable plugins, verified, and cheap to import."""

import subprocess
import sys

from twisted.plugin import getPlugins
from zope.interface.verify import verifyObject

import twisted.plugins
from pfx.interfaces import ILookupTable, ITableType
from pfx.tables.types import BUILTIN


def test_every_builtin_type_is_a_verified_plugin():
    found = {p.name: p for p in getPlugins(ITableType, twisted.plugins)}
    assert {name for name, *_ in BUILTIN} <= set(found)
    for provider in found.values():
        verifyObject(ITableType, provider)
        assert provider.description


def test_opened_tables_provide_ilookuptable(registry, tmp_path):
    (tmp_path / "t").write_text("a b\n")
    for spec in ("static:x", "inline:{a=b}", f"texthash:{tmp_path / 't'}", "fail:x",
                 "regexp:{ {/a/ b} }", "pcre:{ {/a/ b} }", "cidr:{ {::/0 x} }", "environ:x",
                 "unix:passwd.byname", "unionmap:{static:a}", "pipemap:{static:a, static:b}"):
        verifyObject(ILookupTable, registry.open_strict(spec))


def test_plugin_module_imports_nothing_heavy():
    # Compared with what twisted.plugin and pfx.interfaces import anyway.
    code = ("import sys, twisted.plugin, twisted.plugins, pfx.interfaces; "
            "before = set(sys.modules); "
            "import twisted.plugins.pfx_tables; "
            "print(sorted(set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['pfx.tables', 'pfx.tables.types', 'twisted.plugins.pfx_tables']"


def test_tables_package_does_not_use_the_reactor():
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[3] / "pfx" / "tables"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                assert not name.startswith("twisted.internet"), (path, name)
                assert not name.startswith(("pfx.cli", "pfx.app")), (path, name)
        assert len(path.read_text().splitlines()) < 500, path
