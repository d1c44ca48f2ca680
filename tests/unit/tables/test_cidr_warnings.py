"""cidr_table(5) rule errors worded as Postfix 3.7's postmap words them, line by line."""

import pytest

from tests.unit.tables.conftest import REAL_POSTMAP

SOURCE = """\
10.0.0.0/8 fine
10.0.0.1/8 X
10.0.0.0/33 X
not-an-ip X
1.2.3.4
1.2.3.4/x X
foo/24 X
foo/99 X
/24 X
[1.2.3.4 X
[1.2.3.4]x X
[::1]/200 X
1.2.3.4/024 X
if 1.2.3.0/24 extra
endif
if
"""

#: (line, message) as /usr/sbin/postmap 3.7.11 printed them for SOURCE
EXPECTED = [
    (2, 'non-null host address bits in "10.0.0.1/8", perhaps you should use "10.0.0.0/8" '
        'instead: skipping this rule'),
    (3, 'bad mask length in "10.0.0.0/33": skipping this rule'),
    (4, 'bad address pattern: "not-an-ip": skipping this rule'),
    (5, "no lookup result: skipping this rule"),
    (6, 'bad mask value in "1.2.3.4/x": skipping this rule'),
    (7, 'bad network value in "foo/24": skipping this rule'),
    (8, 'bad mask length in "foo/99": skipping this rule'),
    (9, 'bad network value in "/24": skipping this rule'),
    (10, 'missing \']\' character after "[1.2.3.4": skipping this rule'),
    (11, 'garbage after "[1.2.3.4]": skipping this rule'),
    (12, 'bad mask length in "::1/200": skipping this rule'),
    (13, 'non-null host address bits in "1.2.3.4/024", perhaps you should use "1.2.3.0/24" '
         'instead: skipping this rule'),
    (14, 'bad mask value in "1.2.3.0/24 extra": skipping this rule'),
    (15, "ENDIF without IF: skipping this rule"),
    (16, "no address pattern: skipping this rule"),
]


def expected(path, prefix=""):
    return [f"{prefix}cidr map {path}, line {n}: {text}" for n, text in EXPECTED]


def test_pfx_words_cidr_errors_as_postfix(tmp_path, registry, warnings):
    path = tmp_path / "bad.cidr"
    path.write_text(SOURCE)
    table = registry.open_strict(f"cidr:{path}")
    assert table.lookup("10.1.1.1") == "fine"
    assert warnings == expected(path)


def test_real_postmap_words_them_so(tmp_path, real_postfix):
    real_postfix.require("cidr")
    path = tmp_path / "bad.cidr"
    path.write_text(SOURCE)
    done = real_postfix.run(REAL_POSTMAP, "-q", "10.1.1.1", f"cidr:{path}")
    assert done.stdout == "fine\n"
    assert done.stderr.splitlines() == expected(path, "postmap: warning: ")


@pytest.mark.parametrize("line, error", [
    ("1.2.3.4/-1 X", 'bad mask value in "1.2.3.4/-1"'),
    ("1.2.3/24 X", 'bad network value in "1.2.3/24"'),
    ("01.2.3.4 X", 'bad address pattern: "01.2.3.4"'),
    ("!foo X", 'bad address pattern: "foo"'),
])
def test_more_bad_patterns(tmp_path, registry, warnings, line, error):
    path = tmp_path / "one.cidr"
    path.write_text(line + "\n")
    registry.open_strict(f"cidr:{path}")
    assert warnings == [f"cidr map {path}, line 1: {error}: skipping this rule"]
