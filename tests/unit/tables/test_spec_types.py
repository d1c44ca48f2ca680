"""Tables named by their spec alone (inline, static, unionmap, pipemap, unix, ...); surrogates."""

import os
import pwd

import pytest

from pfx.errors import TableConfigError, TableRetry
from pfx.plugin import TableFlags
from pfx.tables.registry import Registry, SurrogateTable, parse_spec

# (spec, key, expected answer or None); checked in pfx and, when present, real postmap.
CASES = [
    ("inline:{A=b, { c = d e }}", "a", "b"),
    ("inline:{A=b, { c = d e }}", "C", "d e"),
    ("inline:{A=b, { c = d e }}", "x", None),
    ("static:fixed", "anything", "fixed"),
    ("static:{ two words }", "x", "two words"),
    ("unionmap:{inline:{zz=1}, static:2}", "zz", "1,2"),
    ("unionmap:{inline:{zz=1}, inline:{yy=2}}", "yy", "2"),
    ("unionmap:{inline:{zz=1}, inline:{yy=2}}", "xx", None),
    ("pipemap:{inline:{zz=1}, inline:{1=2}}", "zz", "2"),
    ("pipemap:{inline:{zz=1}, inline:{1=2}}", "yy", None),
    ("regexp:{ {/^(a)(b)?/ x${1}y}, {!/q/ neg} }", "abc", "xay"),
    ("regexp:{ {/^(a)(b)?/ x${1}y}, {!/q/ neg} }", "zzz", "neg"),
    ("pcre:{ {/^(?<u>\\w+)@/ user $1} }", "bob@x", "user bob"),
    ("cidr:{ {10.0.0.0/8 ten}, {::/0 six} }", "10.1.1.1", "ten"),
    ("cidr:{ {10.0.0.0/8 ten}, {::/0 six} }", "fe80::1", "six"),
    ("unix:passwd.byname", "root", ":".join(
        str(x) for x in pwd.getpwnam("root")[:2]) + ":0:0:" + ":".join(pwd.getpwnam("root")[4:])),
    ("unix:passwd.byname", "ROOT", ":".join(
        str(x) for x in pwd.getpwnam("root")[:2]) + ":0:0:" + ":".join(pwd.getpwnam("root")[4:])),
    ("unix:passwd.byname", "no-such-user-pfx", None),
]


@pytest.mark.parametrize("spec,key,expected", CASES)
def test_pfx(spec, key, expected, registry):
    assert registry.open_strict(spec).lookup(key) == expected


@pytest.mark.parametrize("spec,key,expected", CASES)
def test_real_postmap_agrees(spec, key, expected, real_postfix):
    real_postfix.require(parse_spec(spec)[0])
    done = real_postfix.run("/usr/sbin/postmap", "-q", key, spec)
    assert (done.stdout.rstrip("\n") if done.returncode == 0 else None) == expected, done.stderr


def test_unix_group(registry):
    assert registry.open_strict("unix:group.byname").lookup("root").startswith("root:")


def test_environ(registry, monkeypatch):
    monkeypatch.setenv("PFX_TABLE_TEST", "yes")
    monkeypatch.setenv("pfx_table_test_lower", "low")
    table = registry.open_strict("environ:whatever")
    # Postfix's dict_env folds the key first: an upper-case variable is out of reach.
    assert table.lookup("PFX_TABLE_TEST") is None
    assert table.lookup("PFX_TABLE_TEST_LOWER") == "low"
    assert table.lookup("PFX_TABLE_TEST_MISSING") is None
    unfolded = registry.open_strict("environ:whatever", TableFlags(fold=False))
    assert unfolded.lookup("PFX_TABLE_TEST") == "yes"


def test_real_postmap_folds_environ_keys(real_postfix, monkeypatch):
    real_postfix.require("environ")
    monkeypatch.setenv("PFX_TABLE_TEST", "yes")
    monkeypatch.setenv("pfx_table_test_lower", "low")
    assert real_postfix.query("environ:x", ["PFX_TABLE_TEST", "PFX_TABLE_TEST_LOWER"]) == {
        "PFX_TABLE_TEST_LOWER": "low"}


def test_pipemap_of_one_table_is_that_table(registry):
    assert registry.open_strict("pipemap:{inline:{k=1}}").lookup("k") == "1"


def test_real_postmap_takes_a_pipemap_of_one_table(real_postfix):
    real_postfix.require("pipemap")
    assert real_postfix.query("pipemap:{inline:{k=1}}", ["k"]) == {"k": "1"}


def test_proxy_passes_through(registry):
    assert registry.open_strict("proxy:inline:{a=b}").lookup("a") == "b"


def test_fail_table_fails_soft(registry):
    with pytest.raises(TableRetry, match="fail:x"):
        registry.open_strict("fail:x").lookup("k")


@pytest.mark.parametrize("spec", ["nosuchtype:/x", "hash:/nonexistent/pfx", "unix:nope",
                                  "inline:{a}", "inline:no-braces"])
def test_unopenable_tables_become_soft_failing_surrogates(spec, registry, warnings):
    table = registry.open(spec)
    assert isinstance(table, SurrogateTable)
    with pytest.raises(TableRetry):
        table.lookup("key")
    assert any(spec in w for w in warnings)
    with pytest.raises(TableConfigError):
        registry.open_strict(spec)


def test_union_with_a_broken_member_fails_soft(registry):
    with pytest.raises(TableRetry):
        registry.open("unionmap:{inline:{a=1}, nosuch:x}").lookup("a")


def test_surrogate_retries_and_recovers(tmp_path, warnings):
    from pfx.tables.types import builtin_types

    now = [0.0]
    registry = Registry(builtin_types(), warn=warnings.append, retry_interval=10,
                        clock=lambda: now[0])
    path = tmp_path / "late"
    table = registry.open(f"texthash:{path}")
    with pytest.raises(TableRetry):
        table.lookup("k")
    path.write_text("k v\n")
    now[0] = 11
    assert table.lookup("k") == "v"


def test_registry_caches_and_lists_types(registry):
    assert registry.open("static:x") is registry.open("static:x")
    assert {"hash", "btree", "regexp", "pcre", "cidr", "sqlite"} <= set(registry.type_names())


@pytest.mark.parametrize("spec", ["nocolon", ":name", "type:"])
def test_bad_specs(spec):
    with pytest.raises(TableConfigError):
        parse_spec(spec)


def test_parse_spec_keeps_nested_colons():
    assert parse_spec("proxy:hash:/etc/x") == ("proxy", "hash:/etc/x")
    assert parse_spec("inline:{a=b:c}") == ("inline", "{a=b:c}")


def test_chain_searches_in_order_and_stops_on_soft_error(registry):
    chain = registry.open_list("inline:{a=1}, inline:{a=2, b=2} static:3")
    assert [chain.lookup(k) for k in "abc"] == ["1", "2", "3"]
    broken = registry.open_list("inline:{a=1}, fail:x, static:3")
    assert broken.lookup("a") == "1"
    with pytest.raises(TableRetry):
        broken.lookup("b")


def test_chain_follows_deferreds(registry):
    from twisted.internet.defer import succeed

    from pfx.tables.chain import TableChain

    class Later:
        def __init__(self, value):
            self.value = value

        def lookup(self, key):
            return succeed(self.value)

    results = []
    TableChain([Later(None), Later("x")]).lookup("k").addCallback(results.append)
    assert results == ["x"]


def test_texthash_reloads_after_change(tmp_path, registry):
    path = tmp_path / "t"
    path.write_text("a 1\n")
    table = registry.open_strict(f"texthash:{path}")
    assert table.lookup("a") == "1"
    path.write_text("a 22\n")
    os.utime(path, ns=(1, 1))  # a different mtime even within one clock tick
    assert table.lookup("a") == "22"


def test_a_broken_plugin_becomes_a_surrogate_and_lookups_fail_soft(warnings):
    from pfx.tables.chain import TableChain

    class Broken:
        name, description = "broken", "raises the wrong things"

        def open(self, name, flags):
            raise RuntimeError("bug in open")

    class Buggy:
        def lookup(self, key):
            raise KeyError(key)

    registry = Registry({"broken": Broken()}, warn=warnings.append)
    with pytest.raises(TableRetry):
        registry.open("broken:x").lookup("k")
    assert "RuntimeError: bug in open" in warnings[0]
    with pytest.raises(TableRetry, match="KeyError"):
        TableChain([Buggy()]).lookup("k")
