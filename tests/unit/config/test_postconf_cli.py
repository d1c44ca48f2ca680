"""pfx postconf: output, warnings, edits and exit codes, as Postfix 3.7's postconf."""

import os
import subprocess
import sys

import pytest

import pfx.discover
from pfx.cli.postconf import main
from pfx.discover import Installed

MASTER = """\
# service type private unpriv chroot wakeup maxproc command
smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       y       -       -       smtpd
  -o syslog_name=postfix/submission
  -o { mydestination = a.test, b.test }
pickup    unix  n       -       y       60      1       pickup
scalemail-backend unix - n n - 2 pipe flags=R user=s argv=/bin/store ${nexthop} { a b }
"""


@pytest.fixture(autouse=True)
def core_only(monkeypatch):
    """Only the core parameters and two table types: independent of installed plugins."""
    installed = Installed({}, {}, {"hash": object(), "cidr": object()})
    monkeypatch.setattr(pfx.discover, "discover", lambda: installed)
    monkeypatch.delenv("MAIL_CONFIG", raising=False)


@pytest.fixture
def cfdir(tmp_path):
    (tmp_path / "main.cf").write_text("# main.cf\nmyhostname = mx.example.test\n"
                                      "mydomain = example.test\nmyorigin = $mydomain\n")
    (tmp_path / "master.cf").write_text(MASTER)
    return tmp_path


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_n_lists_explicit_known_parameters_and_config_directory(cfdir, capsys):
    assert run(capsys, "-c", cfdir, "-n") == (0, (
        f"config_directory = {cfdir}\nmydomain = example.test\n"
        "myhostname = mx.example.test\nmyorigin = $mydomain\n"), "")


def test_x_expands_and_h_drops_names(cfdir, capsys):
    assert run(capsys, "-c", cfdir, "-x", "myorigin", "mydestination")[1] == (
        "myorigin = example.test\n"
        "mydestination = mx.example.test, localhost.example.test, localhost\n")
    assert run(capsys, "-c", cfdir, "-h", "myorigin", "relay_domains")[1] == "$mydomain\n\n"


def test_empty_value_has_no_trailing_space(cfdir, capsys):
    assert run(capsys, "-c", cfdir, "relay_domains")[1] == "relay_domains =\n"


def test_d_shows_defaults_not_main_cf(cfdir, capsys):
    status, out, err = run(capsys, "-c", cfdir, "-d", "myorigin", "config_directory")
    assert out == "myorigin = $myhostname\nconfig_directory = /etc/pfx\n"


def test_default_listing_is_every_parameter_sorted(cfdir, capsys):
    out = run(capsys, "-c", cfdir)[1]
    names = [line.split(" =")[0] for line in out.splitlines()]
    assert names == sorted(names) and "soft_bounce" in names and "mail_name" in names


def test_values_are_printed_word_by_word(cfdir, capsys):
    (cfdir / "main.cf").write_text("myorigin = x   y\t z\n  w\n")
    assert run(capsys, "-c", cfdir, "-n", "myorigin")[1] == "myorigin = x y z w\n"


def test_unknown_unused_and_undefined_warnings(cfdir, capsys):
    with open(cfdir / "main.cf", "a") as f:
        f.write("foo = bar\nbaz = $foo\nqux = x\nrelay_domains = $nosuch a$$b\n")
    status, out, err = run(capsys, "-c", cfdir, "-n", "nosuch", "foo", "qux")
    assert (status, out) == (0, "foo = bar\n")
    assert err.splitlines() == [
        "postconf: warning: nosuch: unknown parameter",
        "postconf: warning: qux: unknown parameter",
        f"postconf: warning: {cfdir}/main.cf: unused parameter: baz=$foo",
        f"postconf: warning: {cfdir}/main.cf: unused parameter: qux=x",
        f"postconf: warning: {cfdir}/main.cf: undefined parameter: nosuch",
    ]


def test_overriding_warning(cfdir, capsys):
    (cfdir / "main.cf").write_text("myorigin = a\nmyorigin = b\n")
    status, out, err = run(capsys, "-c", cfdir, "-h", "myorigin")
    assert (status, out) == (0, "b\n")
    assert err == (f"postconf: warning: {cfdir}/main.cf, line 2: overriding earlier "
                   "entry: myorigin=a\n")


def test_mail_config_environment(cfdir, capsys, monkeypatch):
    monkeypatch.setenv("MAIL_CONFIG", str(cfdir))
    assert run(capsys, "-n", "config_directory")[1] == f"config_directory = {cfdir}\n"


@pytest.mark.parametrize("main_cf, message", [
    ("a = 1\nbad line\n", "{d}/main.cf, line 2: missing '=' after attribute name: \"bad line\""),
    ("myorigin = $a\na = $b\nb = $a\n", "{d}/main.cf, line 1: parameter myorigin: "
                                        "recursive parameter expansion: a -> b -> a"),
])
def test_config_errors_are_fatal_without_traceback(cfdir, capsys, main_cf, message):
    (cfdir / "main.cf").write_text(main_cf)
    status, out, err = run(capsys, "-c", cfdir, "-x", "myorigin")
    assert (status, out) == (1, "")
    assert err == f"postconf: fatal: {message.format(d=cfdir)}\n"


def test_missing_main_cf(tmp_path, capsys):
    assert run(capsys, "-c", tmp_path / "nope", "-n") == (
        1, "", f"postconf: fatal: open {tmp_path}/nope/main.cf: No such file or directory\n")


def test_missing_master_cf_is_a_warning_for_main_cf_queries(cfdir, capsys):
    os.unlink(cfdir / "master.cf")
    status, out, err = run(capsys, "-c", cfdir, "-h", "mydomain")
    assert (status, out) == (0, "example.test\n")
    assert err == f"postconf: warning: open {cfdir}/master.cf: No such file or directory\n"
    assert run(capsys, "-c", cfdir, "-M")[0] == 1


@pytest.mark.parametrize("argv, message", [
    (["-Z"], "postconf: invalid option -- 'Z'\npostconf: fatal: usage: postconf"),
    (["-c"], "postconf: option requires an argument -- 'c'\npostconf: fatal: usage:"),
    (["-d", "-n"], "postconf: fatal: specify one of -d -n"),
    (["-e", "-X", "a"], "postconf: fatal: specify one of -e -X"),
    (["-M", "-P"], "postconf: fatal: specify one of -M -P"),
    (["-m", "-n"], "postconf: fatal: with option -m, do not specify -n"),
    (["-e"], "postconf: fatal: -e requires name=value argument"),
    (["-X"], "postconf: fatal: missing service argument"),
    (["-e", "bad"], "postconf: fatal: missing '=' after attribute name: \"bad\""),
    (["-e", "=x"], "postconf: fatal: missing attribute name: \"=x\""),
    (["-e", "a=1\nb=2"], "postconf: fatal: -e, -X, or -# accepts no multi-line input"),
    (["-X", "a=1"], "postconf: fatal: specify one of -e -X"),
    (["-X", "b", "a=1"], "postconf: fatal: -X or -# requires parameter names without value"),
    (["-MX", "smtp"], "postconf: fatal: -Me, -MX or -M# requires service_name/type"),
    (["-Me", "a/unix=a unix - - n -"], 'postconf: fatal: bad field count: "a unix - - n -"'),
    (["-Pe", "smtp/inet/x=a b"], "postconf: fatal: -Pe does not accept whitespace"),
    (["-F", "smtp/inet/bogus"], 'postconf: fatal: invalid service attribute name: "bogus"'),
])
def test_usage_errors_exit_1(cfdir, capsys, argv, message):
    before = {p: p.read_text() for p in cfdir.iterdir()}
    status, out, err = run(capsys, "-c", cfdir, *argv)
    assert status == 1 and err.startswith(message)
    assert {p: p.read_text() for p in cfdir.iterdir()} == before


def test_options_stop_at_the_first_name(cfdir, capsys):
    # As Postfix's getopt: "-X" after a name=value is an argument, not an option.
    status, _, err = run(capsys, "-c", cfdir, "-e", "c=1", "-X")
    assert status == 1 and "missing '=' after attribute name: \"-X\"" in err


def test_e_edits_in_place_keeping_comments_order_and_mode(cfdir, capsys):
    path = cfdir / "main.cf"
    path.write_text("# top\nmyorigin = q\n  r\n# inside\n  s\nrelay_domains=a\nfoo = 1")
    os.chmod(path, 0o640)
    assert run(capsys, "-c", cfdir, "-e", "myorigin = new  val ", "new=3",
               "relay_domains=b") == (0, "", "")
    assert path.read_text() == ("# top\nmyorigin = new  val\n# inside\nrelay_domains = b\n"
                                "foo = 1\nnew = 3\n")
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in cfdir.iterdir()) == ["main.cf", "master.cf"]


def test_name_value_without_e_edits(cfdir, capsys):
    assert run(capsys, "-c", cfdir, "relay_domains=x.test") == (0, "", "")
    assert (cfdir / "main.cf").read_text().endswith("\nrelay_domains = x.test\n")


def test_e_multiple_entries_warning(cfdir, capsys):
    (cfdir / "main.cf").write_text("a = 1\nb = 2\na = 3\n")
    status, out, err = run(capsys, "-c", cfdir, "-e", "a=9")
    assert (cfdir / "main.cf").read_text() == "a = 9\nb = 2\na = 9\n"
    assert err == f'postconf: warning: {cfdir}/main.cf: multiple entries for "a"\n'


def test_X_and_comment_out(cfdir, capsys):
    assert run(capsys, "-c", cfdir, "-X", "myorigin", "nosuch")[0] == 0
    assert run(capsys, "-c", cfdir, "-#", "mydomain")[0] == 0
    assert (cfdir / "main.cf").read_text() == (
        "# main.cf\nmyhostname = mx.example.test\n#mydomain = example.test\n")


def test_e_on_missing_file(tmp_path, capsys):
    status, _, err = run(capsys, "-c", tmp_path, "-e", "a=b")
    assert status == 1
    assert err == (f"postconf: fatal: open {tmp_path}/main.cf for reading: "
                   "No such file or directory\n")


def test_failed_write_leaves_the_old_file(cfdir, capsys, monkeypatch):
    before = (cfdir / "main.cf").read_text()

    def broken(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", broken)
    status, _, err = run(capsys, "-c", cfdir, "-e", "myorigin=x")
    assert status == 1 and "No space left on device" in err
    assert (cfdir / "main.cf").read_text() == before
    assert sorted(p.name for p in cfdir.iterdir()) == ["main.cf", "master.cf"]


def test_m_lists_installed_table_types(cfdir, capsys, monkeypatch):
    assert run(capsys, "-m") == (0, "cidr\nhash\n", "")
    monkeypatch.setattr(pfx.discover, "discover", lambda: Installed({}, {}, {}))
    assert run(capsys, "-m") == (0, "", "")


M_OUT = """\
smtp       inet  n       -       y       -       -       smtpd
submission inet  n       -       y       -       -       smtpd -o syslog_name=postfix/submission -o {mydestination=a.test, b.test}
pickup     unix  n       -       y       60      1       pickup
scalemail-backend unix - n       n       -       2       pipe flags=R user=s argv=/bin/store ${nexthop} {a b}
"""


def test_M_prints_postfix_columns(cfdir, capsys):
    status, out, err = run(capsys, "-c", cfdir, "-M")
    assert (status, out, err) == (0, M_OUT, "")
    (cfdir / "master.cf").write_text("a unix - - n - - local -o x=1\n")
    assert run(capsys, "-c", cfdir, "-M")[2] == \
        f"postconf: warning: {cfdir}/master.cf: unused parameter: x=1\n"


def test_M_selects_rows_and_warns_about_unmatched(cfdir, capsys):
    status, out, err = run(capsys, "-c", cfdir, "-M", "pickup/unix", "smtp", "nosuch/inet")
    assert out == M_OUT.splitlines(keepends=True)[0] + M_OUT.splitlines(keepends=True)[2]
    assert 'postconf: warning: unmatched request: "nosuch/inet"\n' in err


def test_Mx_expands_override_values(cfdir, capsys):
    (cfdir / "master.cf").write_text(
        "relay unix - - n - - smtp -o syslog_name=pfx/$service_name -o myorigin=$mydomain.x\n")
    assert run(capsys, "-c", cfdir, "-Mx")[1] == (
        "relay      unix  -       -       n       -       -       smtp "
        "-o syslog_name=pfx/relay -o myorigin=example.test.x\n")
    assert run(capsys, "-c", cfdir, "-Px")[1] == (
        "relay/unix/myorigin = example.test.x\nrelay/unix/syslog_name = pfx/relay\n")


def test_runs_as_a_module(cfdir):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    env = {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}
    done = subprocess.run([sys.executable, "-m", "pfx.cli.postconf", "-c", str(cfdir), "-h",
                           "mydomain", "nosuch"], cwd=root, env=env, capture_output=True,
                          text=True)
    assert (done.returncode, done.stdout) == (0, "example.test\n")
    assert "postconf: warning: nosuch: unknown parameter" in done.stderr


def test_Mf_folds(cfdir, capsys):
    out = run(capsys, "-c", cfdir, "-Mf", "submission")[1]
    assert out == ("submission inet  n       -       y       -       -       smtpd\n"
                   "    -o syslog_name=postfix/submission\n"
                   "    -o {mydestination=a.test, b.test}\n")


def test_Me_replaces_or_appends_and_MX_removes(cfdir, capsys):
    assert run(capsys, "-c", cfdir, "-Me", "pickup/unix=pickup unix n - n 30 1 pickup",
               "new/unix=new unix - - n - - local -o a=1")[0] == 0
    text = (cfdir / "master.cf").read_text()
    assert "pickup     unix  n       -       n       30      1       pickup\n" in text
    assert text.endswith("new        unix  -       -       n       -       -       local\n"
                         "    -o a=1\n")
    assert run(capsys, "-c", cfdir, "-MX", "submission/inet", "nosuch/inet")[0] == 0
    text = (cfdir / "master.cf").read_text()
    assert "submission" not in text and "syslog_name" not in text
    assert text.startswith("# service type")


def test_P_lists_overrides_sorted_per_row(cfdir, capsys):
    assert run(capsys, "-c", cfdir, "-P")[1] == (
        "submission/inet/mydestination = a.test, b.test\n"
        "submission/inet/syslog_name = postfix/submission\n")
    assert run(capsys, "-c", cfdir, "-Ph", "submission/inet/syslog_name")[1] == \
        "postfix/submission\n"
    status, out, err = run(capsys, "-c", cfdir, "-P", "smtp/inet/x")
    assert (status, out) == (0, "")
    assert 'unmatched request: "smtp/inet/x"' in err


def test_Pe_PX_and_Fe(cfdir, capsys):
    assert run(capsys, "-c", cfdir, "-Pe", "smtp/inet/smtpd_tls_security_level=may")[0] == 0
    assert run(capsys, "-c", cfdir, "-PX", "submission/inet/mydestination")[0] == 0
    assert run(capsys, "-c", cfdir, "-Fe", "pickup/unix/process_limit=2")[0] == 0
    text = (cfdir / "master.cf").read_text()
    assert ("smtp       inet  n       -       y       -       -       smtpd\n"
            "    -o smtpd_tls_security_level=may\n") in text
    assert ("submission inet  n       -       y       -       -       smtpd\n"
            "    -o syslog_name=postfix/submission\npickup") in text
    assert "pickup     unix  n       -       y       60      2       pickup\n" in text
    status, _, err = run(capsys, "-c", cfdir, "-Pe", "nosuch/unix/a=1")
    assert status == 0 and 'unmatched service_name/type: "nosuch/unix/a=1"' in err


def test_F_lists_fields(cfdir, capsys):
    assert run(capsys, "-c", cfdir, "-F", "pickup/unix")[1] == (
        "pickup/unix/service = pickup\npickup/unix/type = unix\npickup/unix/private = n\n"
        "pickup/unix/unprivileged = -\npickup/unix/chroot = y\npickup/unix/wakeup = 60\n"
        "pickup/unix/process_limit = 1\npickup/unix/command = pickup\n")


def test_bad_master_cf_is_fatal_with_file_and_line(cfdir, capsys):
    (cfdir / "master.cf").write_text("# x\na bogus - - n - - local\n")
    status, out, err = run(capsys, "-c", cfdir, "-M")
    assert status == 1
    assert err.startswith(f'postconf: fatal: {cfdir}/master.cf, line 2: bad transport type')
