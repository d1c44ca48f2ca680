"""aliases(5) parsing, and agreement with the real postalias on what gets stored."""

import pytest

from pfx.errors import TableConfigError
from pfx.tables.aliases import parse_aliases, split_rhs

SOURCE = """\
# comment
root: Admin@Example.COM,  bob
"quoted user": alice
postmaster:   root
multi: a,
  b,
    c
    # comment inside a continuation
  d
owner-list: root
list: :include:/etc/pfx/list, |"/usr/bin/foo bar", /var/mail/file, "|cmd arg"
Weird.Case: x
addr: "quoted, local"@example.com, <angle@example.com>, Name (a, comment) <named@example.com>
"""

EXPECTED = {
    "root": "Admin@Example.COM, bob",
    "quoted user": "alice",
    "postmaster": "root",
    "multi": "a, b, c d",
    "owner-list": "root",
    "list": ':include:/etc/pfx/list, |"/usr/bin/foo bar", /var/mail/file, "|cmd arg"',
    "weird.case": "x",
    "addr": '"quoted, local"@example.com, <angle@example.com>, '
            'Name (a, comment) <named@example.com>',
}


def test_parse():
    got = {key: value for _, key, value in parse_aliases(SOURCE, "aliases")}
    assert got == EXPECTED


def test_split_rhs_gives_local_its_elements():
    assert split_rhs(EXPECTED["list"]) == [
        ":include:/etc/pfx/list", '|"/usr/bin/foo bar"', "/var/mail/file", '"|cmd arg"']
    assert split_rhs(EXPECTED["addr"])[0] == '"quoted, local"@example.com'


@pytest.mark.parametrize("text,message", [
    ("nocolon value\n", "aliases, line 1: need name:value pair"),
    ("ok: x\nempty:\n", "aliases, line 2: need name:value pair"),
    ("x: :include:\n", "aliases, line 1: :include: without a file name"),
])
def test_errors_name_file_and_line(text, message):
    with pytest.raises(TableConfigError, match=message):
        parse_aliases(text, "aliases")


def test_real_postalias_agrees(tmp_path, real_postfix):
    from tests.unit.tables.conftest import REAL_POSTALIAS

    path = tmp_path / "aliases"
    path.write_text(SOURCE)
    done = real_postfix.run(REAL_POSTALIAS, f"hash:{path}")
    assert done.returncode == 0, done.stderr
    found = real_postfix.query(f"hash:{path}", list(EXPECTED), program=REAL_POSTALIAS)
    assert found == EXPECTED
