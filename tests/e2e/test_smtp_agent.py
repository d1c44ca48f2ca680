"""The smtp and lmtp agents end to end: a twisted.names DNS server, smtp-sink, a Python ESMTP
server with STARTTLS (a CA this test makes with openssl) and SASL, and a real Dovecot over LMTP.

The agent runs in a child process (tests/support/smtpagent_drive.py) with the resolver
pfx.app builds from pfx_dns_servers; everything listens on 127.0.0.x.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.peers.common import free_port
from tests.support.peers.dns import DnsServer
from tests.support.peers.dovecot import strip_trace
from tests.support.peers.fixtures import started
from tests.support.smtpagent_server import ScriptedSmtpServer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "support" / "smtpagent_drive.py"

ZONE = """\
$ORIGIN test.
$TTL 60
@            IN SOA ns.test. hostmaster.test. 1 60 60 600 60
@            IN NS  ns.test.
ns           IN A   127.0.0.1
order        IN MX  10 mx1.order.test.
order        IN MX  20 mx2.order.test.
mx1.order    IN A   127.0.0.2
mx2.order    IN A   127.0.0.3
nomx         IN A   127.0.0.3
nullmx       IN MX  0 .
tls          IN MX  10 mx.tls.test.
mx.tls       IN A   127.0.0.4
v6only       IN AAAA ::1
"""


def drive(*jobs, timeout=60):
    done = subprocess.run([sys.executable, str(DRIVER)], input=json.dumps({"jobs": list(jobs)}),
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    for r in results:
        assert not isinstance(r, dict), r
    return results


@pytest.fixture(scope="module")
def dns():
    ns = DnsServer(zones=(ZONE,), servfail=("servfail.test",), silent=("timeout.test",))
    try:
        yield started(ns)
    finally:
        ns.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA and a server certificate for mx.tls.test signed by it."""
    d = tmp_path_factory.mktemp("pki")

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=pfx test CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "mx.key", "-out", "mx.csr", "-subj", "/CN=mx.tls.test")
    (d / "ext.cnf").write_text("subjectAltName=DNS:mx.tls.test\n")
    openssl("x509", "-req", "-in", "mx.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "mx.pem", "-days", "2", "-extfile", "ext.cnf")
    return d


@pytest.fixture(scope="module")
def port():
    return free_port()


@pytest.fixture(scope="module")
def servers(port, pki):
    plain = ScriptedSmtpServer("127.0.0.3", port).start()
    tls = ScriptedSmtpServer("127.0.0.4", port, certfile=str(pki / "mx.pem"),
                         keyfile=str(pki / "mx.key")).start()
    sasl = ScriptedSmtpServer("127.0.0.6", port, certfile=str(pki / "mx.pem"),
                          keyfile=str(pki / "mx.key"), auth=("joe", "s3cret")).start()
    v6 = ScriptedSmtpServer("::1", port).start()
    yield {"plain": plain, "tls": tls, "sasl": sasl, "v6": v6}
    for s in (plain, tls, sasl, v6):
        s.stop()


def main_cf(dns, port, **extra):
    return {"pfx_dns_servers": f"127.0.0.1:{dns.port}", "pfx_dns_timeout": "1s",
            "smtp_tcp_port": str(port), "inet_protocols": "ipv4", **extra}


def job(dns, port, nexthop, *rcpts, **extra):
    return {"main": main_cf(dns, port, **extra), "nexthop": nexthop,
            "recipients": list(rcpts or ["a@" + nexthop.strip("[]").split(":")[0]])}


def test_mx_order_failover_fallbacks_and_dns_failures(dns, port, servers):
    order, nomx, nullmx, nx, servfail, slow = drive(
        job(dns, port, "order.test"), job(dns, port, "nomx.test"), job(dns, port, "nullmx.test"),
        job(dns, port, "nosuch.test"), job(dns, port, "servfail.test"),
        job(dns, port, "timeout.test"))
    # mx1 (127.0.0.2) refuses, so the preference-20 host gets the mail
    assert order == [["sent", "2.0.0", "250 2.0.0 Ok: queued as 7B2F1C",
                      f"mx2.order.test[127.0.0.3]:{port}"]]
    assert nomx[0][0] == "sent" and nomx[0][3] == f"nomx.test[127.0.0.3]:{port}"
    assert nullmx == [["bounced", "5.1.0", "Domain nullmx.test does not accept mail (nullMX)", "none"]]
    assert nx == [["bounced", "5.4.4", "Host or domain name not found. Name service error for "
                   "name=nosuch.test type=A: Host not found", "none"]]
    assert servfail[0][:2] == ["deferred", "4.4.3"] and slow[0][:2] == ["deferred", "4.4.3"]
    assert servers["plain"].messages[0][1] == ["a@order.test"]


def test_aaaa_only_host_over_ipv6_and_inet_protocols(dns, port, servers):
    v6, v4only = drive(job(dns, port, "v6only.test", inet_protocols="all"),
                       job(dns, port, "v6only.test", inet_protocols="ipv4"))
    assert v6[0][0] == "sent" and v6[0][3] == f"v6only.test[::1]:{port}"
    assert v4only[0][:3] == ["bounced", "5.4.4", "Host or domain name not found. Name service "
                             "error for name=v6only.test type=A: Host found but no data record "
                             "of requested type"]


def test_per_recipient_partial_failure(dns, port, servers):
    [res] = drive(job(dns, port, "nomx.test", "ok@nomx.test", "reject@nomx.test", "defer@nomx.test"))
    relay = f"nomx.test[127.0.0.3]:{port}"
    assert res == [
        ["sent", "2.0.0", "250 2.0.0 Ok: queued as 7B2F1C", relay],
        ["bounced", "5.1.1", "host nomx.test[127.0.0.3] said: 550 5.1.1 <reject@nomx.test>: "
                             "Recipient address rejected: no such user (in reply to RCPT TO command)", relay],
        ["deferred", "4.3.0", "host nomx.test[127.0.0.3] said: 451 4.3.0 <defer@nomx.test>: "
                              "Temporary lookup failure (in reply to RCPT TO command)", relay]]


def test_smtp_sink_accepts_and_refuses(dns, port, make_smtp_sink):
    ok, refusing = make_smtp_sink(), make_smtp_sink("-r", "RCPT")
    good, bad = drive(job(dns, port, f"[127.0.0.1]:{ok.port}", "a@x.test"),
                      job(dns, port, f"[127.0.0.1]:{refusing.port}", "a@x.test"))
    assert good[0][:2] == ["sent", "2.0.0"] and good[0][3] == f"127.0.0.1[127.0.0.1]:{ok.port}"
    assert bad == [["deferred", "4.3.0", "host 127.0.0.1[127.0.0.1] said: 450 4.3.0 Error: command "
                    "failed (in reply to RCPT TO command)", f"127.0.0.1[127.0.0.1]:{refusing.port}"]]


def test_starttls_levels_with_a_private_ca(dns, port, servers, pki):
    ca = str(pki / "ca.pem")
    capath = pki / "capath"
    capath.mkdir(exist_ok=True)
    (capath / "ca.pem").write_bytes((pki / "ca.pem").read_bytes())
    may, verify, secure, untrusted, plain_encrypt, wrong_name, by_path = drive(
        job(dns, port, "tls.test", smtp_tls_security_level="may"),
        job(dns, port, "tls.test", smtp_tls_security_level="verify", smtp_tls_CAfile=ca),
        job(dns, port, "tls.test", smtp_tls_security_level="secure", smtp_tls_CAfile=ca),
        job(dns, port, "tls.test", smtp_tls_security_level="verify",
            smtp_tls_CAfile=str(pki / "mx.pem")),
        job(dns, port, "nomx.test", smtp_tls_security_level="encrypt"),
        job(dns, port, "tls.test", smtp_tls_security_level="verify", smtp_tls_CAfile=ca,
            smtp_tls_verify_cert_match="other.tls.test"),
        job(dns, port, "tls.test", smtp_tls_security_level="verify", smtp_tls_CApath=str(capath)))
    assert [may[0][0], verify[0][0], secure[0][0], by_path[0][0]] == ["sent"] * 4
    assert all(m[3] for m in servers["tls"].messages)  # every message arrived over TLS
    assert untrusted[0][:3] == ["deferred", "4.7.5", "Server certificate not verified"]
    assert wrong_name[0][:3] == ["deferred", "4.7.5", "Server certificate not verified"]
    assert plain_encrypt == [["deferred", "4.7.4", "TLS is required, but was not offered by host "
                              "nomx.test[127.0.0.3]", f"nomx.test[127.0.0.3]:{port}"]]


def test_sasl_plain_over_tls_to_a_submission_server(dns, port, servers, tmp_path):
    maps = tmp_path / "sasl_passwd"
    maps.write_text(f"[127.0.0.6]:{port} joe:s3cret\n")
    wrong = tmp_path / "wrong"
    wrong.write_text(f"[127.0.0.6]:{port} joe:nope\n")
    sasl = dict(smtp_sasl_auth_enable="yes", smtp_sasl_security_options="noanonymous",
                smtp_tls_security_level="encrypt")
    ok, bad = drive(job(dns, port, f"[127.0.0.6]:{port}", "a@x.test",
                        smtp_sasl_password_maps=f"texthash:{maps}", **sasl),
                    job(dns, port, f"[127.0.0.6]:{port}", "a@x.test",
                        smtp_sasl_password_maps=f"texthash:{wrong}", **sasl))
    assert ok[0][0] == "sent"
    assert servers["sasl"].messages[-1][3:] == (True, "joe")
    assert bad[0][:2] == ["deferred", "4.7.8"] and "nope" not in bad[0][2]


def test_lmtp_to_dovecot_inet_and_unix(dovecot, dns, port):
    body = "Subject: lmtp test\nMessage-ID: <lmtp-1@pfx.test>\n\nhello .\n.dot line\n"
    inet, unix = drive(
        {"lmtp": True, "main": main_cf(dns, port), "nexthop": f"inet:127.0.0.1:{dovecot.lmtp_port}",
         "recipients": ["alice@example.test", "ghost@example.test", "bob@example.test",
                        "carol@example.test", "dave@example.test"],
         "body": body + ("x" * 75 + "\n") * 40},
        {"lmtp": True, "main": main_cf(dns, port), "nexthop": f"unix:{dovecot.lmtp_socket}",
         "recipients": ["bob@example.test"], "body": body})
    relay = f"127.0.0.1[127.0.0.1]:{dovecot.lmtp_port}"
    assert [r[0] for r in inet] == ["sent", "bounced", "sent", "bounced", "deferred"]
    assert inet[4][1] == "4.2.2"  # dave: over quota with quota_full_tempfail
    assert inet[1] == ["bounced", "5.1.1", "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 "
                       "<ghost@example.test> User doesn't exist: ghost@example.test "
                       "(in reply to RCPT TO command)", relay]
    assert inet[3][1] == "5.2.2" and inet[3][2].endswith(
        "Quota exceeded (mailbox for user is full) (in reply to end of DATA command)")
    assert inet[0][2].startswith("250 2.0.0 <alice@example.test> ") and inet[0][2].endswith(" Saved")
    assert unix[0][0] == "sent" and unix[0][3] == f"client.pfx.test[{dovecot.lmtp_socket}]"
    [msg] = dovecot.fetch_all("alice@example.test")
    assert strip_trace(msg) == (body + ("x" * 75 + "\n") * 40).replace("\n", "\r\n").encode()
    assert len(dovecot.fetch_all("bob@example.test")) == 2


def test_lmtp_server_down_defers(dns, port):
    dead = free_port()
    [res] = drive({"lmtp": True, "main": main_cf(dns, port), "nexthop": f"inet:127.0.0.1:{dead}",
                   "recipients": ["alice@example.test"]})
    assert res == [["deferred", "4.4.1", f"connect to 127.0.0.1[127.0.0.1]:{dead}: Connection refused",
                    "none"]]


def test_connection_reuse_and_a_large_message_over_tls(dns, port, servers, pki):
    tls = servers["tls"]
    before, count = tls.sessions, len(tls.messages)
    big = "Subject: big\n\n" + ("0123456789" * 99 + "\n.leading dot\n") * 2000  # about 2 MB
    [results] = drive({**job(dns, port, "tls.test", smtp_tls_security_level="verify",
                             smtp_tls_CAfile=str(pki / "ca.pem")), "repeat": 3, "body": big})
    assert [r[0][0] for r in results] == ["sent"] * 3
    assert tls.sessions - before == 1  # one TLS session carried all three
    data = tls.messages[count][2]
    assert data.count(b"\r\n..leading dot\r\n") == 2000 and len(data) > 2_000_000


def test_relayhost_without_a_transport_nexthop(dns, port, make_smtp_sink):
    sink = make_smtp_sink()
    [res] = drive({"main": main_cf(dns, port, relayhost=f"[127.0.0.1]:{sink.port}"),
                   "nexthop": "", "recipients": ["someone@nosuch.test"]})
    assert res[0][0] == "sent" and res[0][3] == f"127.0.0.1[127.0.0.1]:{sink.port}"


def test_starttls_and_sasl_to_a_real_postfix_submission_server(dns, port, pki, dovecot,
                                                               make_postfix, tmp_path):
    keydir = tmp_path / "keys"
    keydir.mkdir()
    for name in ("mx.pem", "mx.key"):
        (keydir / name).write_bytes((pki / name).read_bytes())
    pf = make_postfix("discard", main_extra={
        "smtpd_sasl_auth_enable": "yes", "smtpd_sasl_type": "dovecot",
        "smtpd_sasl_path": dovecot.auth_socket, "smtpd_tls_auth_only": "yes",
        "smtpd_tls_security_level": "may", "smtpd_tls_cert_file": str(keydir / "mx.pem"),
        "smtpd_tls_key_file": str(keydir / "mx.key"), "mynetworks": "192.0.2.250/32",
        "smtpd_relay_restrictions": "permit_sasl_authenticated, reject"})
    maps = tmp_path / "sasl_passwd"
    maps.write_text(f"[127.0.0.1]:{pf.port} alice@example.test:alicepw\n")
    nexthop = f"[127.0.0.1]:{pf.port}"
    ok, no_auth = drive(
        job(dns, port, nexthop, "rcpt@elsewhere.test", smtp_sasl_auth_enable="yes",
            smtp_sasl_password_maps=f"texthash:{maps}", smtp_sasl_security_options="noanonymous",
            smtp_tls_security_level="verify", smtp_tls_CAfile=str(pki / "ca.pem"),
            smtp_tls_verify_cert_match="mx.tls.test"),
        job(dns, port, nexthop, "rcpt@elsewhere.test", smtp_tls_security_level="may"))
    assert ok[0][:2] == ["sent", "2.0.0"], ok
    assert no_auth[0][:2] == ["bounced", "5.7.1"] and no_auth[0][2].endswith(
        "Recipient address rejected: Access denied (in reply to RCPT TO command)")
    pf.wait_for_log("sasl_method=PLAIN, sasl_username=alice@example.test")
    assert "alicepw" not in pf.log_text()
