"""master.cf parsing: the 8 columns, -o forms, { } groups, errors."""

import pytest

from pfx.config import mastercf
from pfx.errors import ConfigError

MASTER = """\
# service type private unpriv chroot wakeup maxproc command
smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
# a comment inside the row
  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }
  -osmtpd_tls_security_level=encrypt
pickup    unix  n       -       y       60      1       pickup
tlsmgr    unix  -       -       y       1000?   1       tlsmgr
maildrop  unix  -       n       n       -       -       pipe
  flags=DRhu user=vmail argv=/usr/bin/maildrop { -d x } ${recipient}
127.0.0.1:2525 inet n - n - 0 smtpd
"""


def rows():
    return {e.key: e for e in mastercf.parse(MASTER, "/x/master.cf")}


def test_columns():
    smtp = rows()["smtp/inet"]
    assert (smtp.service, smtp.type, smtp.private, smtp.unpriv, smtp.chroot) == \
        ("smtp", "inet", False, True, True)
    assert (smtp.wakeup, smtp.maxproc, smtp.command, smtp.args) == (0, None, "smtpd", ())
    assert smtp.columns == ("smtp", "inet", "n", "-", "y", "-", "-")
    assert (smtp.file, smtp.line) == ("/x/master.cf", 2)
    assert smtp.maxproc_or(100) == 100


def test_wakeup_and_maxproc():
    r = rows()
    assert (r["pickup/unix"].wakeup, r["pickup/unix"].maxproc) == (60, 1)
    assert (r["tlsmgr/unix"].wakeup, r["tlsmgr/unix"].wakeup_if_used) == (1000, True)
    assert r["127.0.0.1:2525/inet"].maxproc_or(100) == 0


def test_overrides_every_form_in_order_with_their_line():
    sub = rows()["submission/inet"]
    assert [(n, s.value) for n, s in sub.overrides] == [
        ("syslog_name", "postfix/submission"),
        ("smtpd_client_restrictions", "permit_sasl_authenticated, reject"),
        ("smtpd_tls_security_level", "encrypt"),
    ]
    assert all(s.file == "/x/master.cf" and s.line == 3 for _, s in sub.overrides)
    assert sub.args == ()


def test_grouped_arguments_keep_spaces():
    assert rows()["maildrop/unix"].args == (
        "flags=DRhu", "user=vmail", "argv=/usr/bin/maildrop", "-d x", "${recipient}")


def test_split_args():
    assert mastercf.split_args("a {b  c} { d } {}", "f", 1) == ["a", "b  c", "d", ""]


@pytest.mark.parametrize("row, fragment", [
    ("a unix - - n - -", "missing command name field"),
    ("a unix - -", "too few fields"),
    ("a bogus - - n - - local", 'bad transport type "bogus"'),
    ("a unix x - n - - local", 'bad private field "x"'),
    ("a unix - - n zz - local", 'bad wakeup field "zz"'),
    ("a unix - - n - zz local", 'bad process limit field "zz"'),
    ("a unix - - n - - local -o", '"-o" option requires'),
    ("a unix - - n - - local -o x", '-o option requires "name=value"'),
    ("a unix - - n - - local { a b", 'missing "}"'),
    ("a unix - - n - - local {a}b", 'syntax error after "}"'),
])
def test_bad_rows_name_file_and_line(row, fragment):
    with pytest.raises(ConfigError) as e:
        mastercf.parse(f"# x\n{row}\n", "/x/master.cf")
    assert (e.value.file, e.value.line) == ("/x/master.cf", 2)
    assert fragment in str(e.value)


def test_duplicate_row_is_an_error():
    with pytest.raises(ConfigError, match="duplicate service name/type"):
        mastercf.parse("a unix - - n - - local\na unix - - n - - local\n")


def test_leading_whitespace_is_an_error():
    with pytest.raises(ConfigError, match="must not start with whitespace"):
        mastercf.parse("  a unix - - n - - local\n")


def _shipped_submission_rows(text):
    """The commented-out submission rows, uncommented: those after the "Submission" note."""
    lines = text[text.index("# Submission (587)"):].splitlines()
    return "\n".join(line[1:] for line in lines if line.startswith(("#127.0.0.1:", "#  -o")))


def test_shipped_submission_rows_have_postfix_s_settings():
    import pathlib
    shipped = pathlib.Path(__file__).resolve().parents[3] / "etc" / "master.cf"
    ports = ("127.0.0.1:2587", "127.0.0.1:2465")
    rows = {e.service: e for e in mastercf.parse(_shipped_submission_rows(shipped.read_text()))}
    assert sorted(rows) == sorted(ports)
    sub, subs = (dict((n, s.value) for n, s in rows[p].overrides) for p in ports)
    for o in (sub, subs):
        assert o["smtpd_sasl_auth_enable"] == "yes"
        assert o["smtpd_reject_unlisted_recipient"] == "no"
        assert o["smtpd_relay_restrictions"] == "permit_sasl_authenticated,reject"
    assert sub["smtpd_tls_security_level"] == "encrypt" and sub["smtpd_tls_auth_only"] == "yes"
    assert subs["smtpd_tls_wrappermode"] == "yes"
    assert rows[ports[0]].command == rows[ports[1]].command == "smtpd"
