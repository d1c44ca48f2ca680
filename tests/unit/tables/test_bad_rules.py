"""Bad rules in pattern tables: a warning naming file and line, the rule skipped, lookups go on."""

import re

import pytest

from tests.unit.tables.conftest import REAL_POSTMAP

BAD = {
    "regexp": """\
/ok/ fine
/a[/ unbalanced bracket
/(x)/ $2 out of range
/(y)/ $1y non-numeric
!/(z)/ $1 in a negative rule
/nodelim
/noresult/
endif
if /c/
""",
    "pcre": """\
/ok/ fine
/a(/ unbalanced paren
/(x)/ $2 out of range
/(y)/ ${1 unterminated
/q/Z unknown flag
endif
if /c/
""",
    "cidr": """\
10.0.0.0/8 fine
10.0.0.1/8 host bits
300.1.1.1 bad address
10.0.0.0/33 bad length
1.2.3.4
endif
if 10.0.0.0/8
""",
}


def warned_lines(messages):
    return sorted({int(m) for m in re.findall(r", line (\d+):", "\n".join(messages))})


@pytest.mark.parametrize("kind", sorted(BAD))
def test_pfx_warns_and_keeps_going(kind, tmp_path, registry, warnings):
    path = tmp_path / f"bad.{kind}"
    path.write_text(BAD[kind])
    table = registry.open_strict(f"{kind}:{path}")
    key = "10.1.1.1" if kind == "cidr" else "ok"
    assert table.lookup(key) == "fine"
    assert warned_lines(warnings) == list(range(2, len(BAD[kind].splitlines()) + 1))
    # mac_parse's own "truncated macro reference" line names neither, as in Postfix
    assert all(str(path) in w for w in warnings if ", line " in w)


@pytest.mark.parametrize("kind", sorted(BAD))
def test_real_postmap_warns_about_the_same_lines(kind, tmp_path, real_postfix):
    real_postfix.require(kind)
    path = tmp_path / f"bad.{kind}"
    path.write_text(BAD[kind])
    key = "10.1.1.1" if kind == "cidr" else "ok"
    done = real_postfix.run(REAL_POSTMAP, "-q", key, f"{kind}:{path}")
    assert done.stdout == "fine\n"
    assert warned_lines(done.stderr.splitlines()) == \
        list(range(2, len(BAD[kind].splitlines()) + 1))


def test_stale_database_warning(tmp_path, registry, warnings):
    import os

    from pfx.cli import postmap

    source = tmp_path / "t"
    source.write_text("a b\n")
    assert postmap.main([f"hash:{source}"]) == 0
    os.utime(source, (2_000_000_000, 2_000_000_000))
    registry.open_strict(f"hash:{source}")
    assert any("is older than source file" in w for w in warnings)
