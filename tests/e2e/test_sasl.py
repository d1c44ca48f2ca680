"""SASL AUTH end to end: ``twistd -n pfx`` with submission-style rows, a real throwaway
Dovecot as the SASL server (unix socket and inet), the built-in scrypt backend, and swaks
as the client over STARTTLS and implicit TLS.

Dovecot slows down repeated failures from one client address (COMPONENTS.md 1.4): the
failing tests connect from their own 127.0.0.x address (swaks --local-interface).
"""

import base64
import json
import smtplib
import subprocess

import pytest

from tests.conftest import ConfigDir, free_port, pfx_command, pfx_env, twistd_command, wait_for_port
from tests.support.peers.dovecot import Dovecot
from tests.support.peers.fixtures import started
from tests.support.peers.swaks import swaks

pytestmark = pytest.mark.e2e

RELAY = "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n"


@pytest.fixture(scope="module")
def mx(tmp_path_factory):
    dc = Dovecot()
    try:
        started(dc)
    except BaseException:
        dc.stop()
        raise
    path = tmp_path_factory.mktemp("sasl")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(path / "key.pem"), "-out", str(path / "cert.pem"), "-days", "1",
                    "-subj", "/CN=mx.example.test"], check=True, capture_output=True)
    subprocess.run(pfx_command("saslpasswd", "-f", f"texthash:{path}/sasl_users", "carol"), input=b"carolpw\n",
                   check=True, env=pfx_env(), capture_output=True)
    submission, submissions, builtin = free_port(), free_port(), free_port()
    cfg = ConfigDir(path)
    cfg.write(main_extra=(
        "mynetworks = 192.0.2.0/24\nmydestination = mx.example.test\n"
        f"test_submit_directory = {path}/received\n"
        f"smtpd_tls_cert_file = {path}/cert.pem\nsmtpd_tls_key_file = {path}/key.pem\n"
        "smtpd_sasl_type = dovecot\n"
        f"smtpd_sasl_path = {dc.auth_socket}\n"
        "smtpd_sender_login_maps = inline:{ { alice@example.test = alice@example.test },"
        " { bob@example.test = bob@example.test } }\n"),
        master=("dirsubmit unix - - n - - dirsubmit\n"
                f"127.0.0.1:{submission} inet n - n - - smtpd\n"
                "  -o smtpd_tls_security_level=encrypt\n  -o smtpd_sasl_auth_enable=yes\n"
                "  -o smtpd_tls_auth_only=yes\n  -o smtpd_sasl_authenticated_header=yes\n"
                "  -o smtpd_sender_restrictions=reject_sender_login_mismatch\n  " + RELAY +
                f"127.0.0.1:{submissions} inet n - n - - smtpd\n"
                "  -o smtpd_tls_wrappermode=yes\n  -o smtpd_sasl_auth_enable=yes\n"
                f"  -o smtpd_sasl_path=inet:127.0.0.1:{dc.auth_port}\n  " + RELAY +
                f"127.0.0.1:{builtin} inet n - n - - smtpd\n"
                "  -o smtpd_sasl_auth_enable=yes\n  -o smtpd_sasl_type=pfx\n"
                f"  -o smtpd_sasl_path=texthash:{path}/sasl_users\n  " + RELAY))
    proc = subprocess.Popen(twistd_command(path), env=pfx_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for port in (submission, submissions, builtin):
            wait_for_port(port, proc=proc)
        cfg.submission, cfg.submissions, cfg.builtin = submission, submissions, builtin
        cfg.received = path / "received"
        yield cfg
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        dc.stop()


def stored(mx, transcript):
    qid = transcript.split("Ok: queued as ")[1].split()[0]
    return qid, (mx.received / f"{qid}.msg").read_bytes(), json.loads((mx.received / f"{qid}.env").read_text())


def run_swaks(port, *args, **kw):
    return swaks(*args, server=("127.0.0.1", port), to="someone@elsewhere.example", **kw)


def test_auth_plain_over_starttls_relays(mx):
    rc, out = run_swaks(mx.submission, "--tls", "--auth", "PLAIN", "--auth-user", "alice@example.test",
                        "--auth-password", "alicepw", sender="alice@example.test")
    assert rc == 0, out
    assert "250-AUTH PLAIN LOGIN" in out
    assert "235 2.7.0 Authentication successful" in out
    qid, body, env = stored(mx, out)
    assert env["client"]["sasl_method"] == "PLAIN"
    assert env["client"]["sasl_username"] == "alice@example.test"
    assert b"\t(Authenticated sender: alice@example.test)\n\tby mx.example.test (pfx) with ESMTPSA id " in body
    mx.wait_for_log(f"{qid}: client=localhost[127.0.0.1], sasl_method=PLAIN, sasl_username=alice@example.test")
    assert "alicepw" not in mx.log_text()


def test_auth_login_over_starttls(mx):
    rc, out = run_swaks(mx.submission, "--tls", "--auth", "LOGIN", "--auth-user", "bob@example.test",
                        "--auth-password", "bobpw", sender="bob@example.test")
    assert rc == 0, out
    assert "334 VXNlcm5hbWU6" in out and "235 2.7.0 Authentication successful" in out


def test_sender_login_mismatch(mx):
    rc, out = run_swaks(mx.submission, "--tls", "--auth", "PLAIN", "--auth-user", "bob@example.test",
                        "--auth-password", "bobpw", sender="alice@example.test")
    assert "553 5.7.1 <alice@example.test>: Sender address rejected: not owned by user bob@example.test" in out


def test_no_auth_before_starttls_and_no_relay_without_auth(mx):
    with smtplib.SMTP("127.0.0.1", mx.submission, local_hostname="c.example.org") as s:
        code, text = s.ehlo()
        assert b"AUTH" not in text
        auth = base64.b64encode(b"\0alice@example.test\0alicepw").decode()
        assert s.docmd("AUTH", f"PLAIN {auth}") == (530, b"5.7.0 Must issue a STARTTLS command first")
    rc, out = run_swaks(mx.submission, "--tls", sender="stranger@example.org")
    assert rc == 24 and "554 5.7.1 <someone@elsewhere.example>" in out


def test_wrong_password(mx):
    rc, out = run_swaks(mx.submission, "--tls", "--auth", "PLAIN", "--auth-user", "bob@example.test",
                        "--auth-password", "nope", "--local-interface", "127.0.0.7")
    assert rc == 28, out
    assert "535 5.7.8 Error: authentication failed:" in out
    mx.wait_for_log("SASL PLAIN authentication failed")
    assert "nope" not in mx.log_text()


def test_auth_over_implicit_tls_and_inet_socket(mx):
    rc, out = run_swaks(mx.submissions, "--tlsc", "--auth", "PLAIN", "--auth-user", "bob@example.test",
                        "--auth-password", "bobpw", sender="bob@example.test")
    assert rc == 0, out
    _, body, env = stored(mx, out)
    assert env["client"]["protocol"] == "ESMTPSA"


def test_builtin_backend(mx):
    rc, out = run_swaks(mx.builtin, "--auth", "LOGIN", "--auth-user", "carol", "--auth-password", "carolpw")
    assert rc == 0, out
    _, body, env = stored(mx, out)
    assert env["client"]["sasl_username"] == "carol" and env["client"]["protocol"] == "ESMTPA"
    rc, out = run_swaks(mx.builtin, "--auth", "PLAIN", "--auth-user", "carol", "--auth-password", "wrong")
    assert rc == 28 and "535 5.7.8 Error: authentication failed: (reason unavailable)" in out
