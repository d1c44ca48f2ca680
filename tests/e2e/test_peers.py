"""Self-tests of the real peers in tests/support/peers: each starts, answers as documented in
COMPONENTS.md, and is gone after teardown. No pfx code is involved."""

import smtplib
import socket
import subprocess
import sys
import time

import pytest
from twisted.internet.testing import MemoryReactorClock
from twisted.names import dns as tdns

from bench.lib.measure import Result, format_table, tree_cpu_seconds
from bench.lib.reference import run_reference
from tests.support.peers.common import PeerUnavailable, alive, process_tree, wait_until
from tests.support.peers.dns import make_resolver, resolve
from tests.support.peers.dovecot import MailUser, strip_trace
from tests.support.peers.fixtures import (dns_server, dovecot, make_dns_server,  # noqa: F401
                                          make_postfix, make_smtp_sink, swaks_available)
from tests.support.peers.postfix import _spread_aliases, smtp_source, smtp_source_argv
from tests.support.peers.swaks import swaks, swaks_argv

MESSAGE = (b"From: <sender@client.test>\r\nTo: <alice@example.test>\r\n"
           b"Subject: peer self-test\r\nMessage-ID: <peers.1@client.test>\r\n\r\n"
           b"line one\r\n..leading dot\r\nlast line\r\n")


# -- pure helpers (no processes) -------------------------------------------------------------
def test_strip_trace_keeps_the_message_byte_exact():
    served = (b"Return-Path: <s@x>\r\nDelivered-To: a@b\r\nReceived: from c\r\n\tby d with LMTP"
              b"\r\n\tfor <a@b>; date\r\nReceived: earlier\r\nSubject: s\r\n\r\nbody\r\n")
    assert strip_trace(served) == b"Received: earlier\r\nSubject: s\r\n\r\nbody\r\n"
    assert strip_trace(b"Subject: s\r\n\r\n") == b"Subject: s\r\n\r\n"


def test_spread_aliases_cover_every_sequence_number():
    import re
    rules = [line.split() for line in _spread_aliases(100, "example.test").splitlines()]

    def target(addr):
        for pattern, result in rules:
            m = re.match(pattern.strip("/"), addr)
            if m:
                return result.replace("$1", m.group(1))

    assert target("7u@example.test") == "u07@example.test"
    assert target("42u@example.test") == "u42@example.test"
    assert target("4999u@example.test") == "u99@example.test"
    assert target("5000u@example.test") == "u00@example.test"


def test_command_lines():
    assert swaks_argv(server=("127.0.0.1", 25), to=["a@x", "b@x"], tls=True, auth_user="u")[1:] \
        == ["--helo", "client.test", "--from", "sender@client.test", "--server", "127.0.0.1:25",
            "--to", "a@x,b@x", "--suppress-data", "--tls", "--auth-user", "u"]
    argv = smtp_source_argv(2525, messages=10, sessions=2, size=5120, sequence=True)
    assert argv[-1] == "inet:127.0.0.1:2525" and "-N" in argv and "5120" in argv
    with pytest.raises(ValueError):
        smtp_source_argv(25, "192.0.2.1")


# -- Dovecot ---------------------------------------------------------------------------------
@pytest.mark.e2e
def test_dovecot_lmtp_delivers_and_imap_reads_back(dovecot):
    lmtp = smtplib.LMTP("127.0.0.1", dovecot.lmtp_port, timeout=10)
    try:
        assert lmtp.ehlo("client.test")[0] == 250
        assert lmtp.mail("sender@client.test")[0] == 250
        assert lmtp.rcpt("alice@example.test")[0] == 250
        code, text = lmtp.rcpt("ghost@example.test")
        assert (code, text.split()[0]) == (550, b"5.1.1")
        assert lmtp.rcpt("carol@example.test")[0] == 250
        code, text = lmtp.data(MESSAGE + b"x" * 2000 + b"\r\n")     # over carol's 1K quota
        assert code == 250 and b"<alice@example.test>" in text
        code, text = lmtp.getreply()                                 # one reply per rcpt
        assert (code, text.split()[:2]) == (552, [b"5.2.2", b"<carol@example.test>"])
        lmtp.quit()
    finally:
        lmtp.close()
    [served] = dovecot.fetch_by_message_id("alice@example.test", "peers.1@client.test")
    assert strip_trace(served) == MESSAGE + b"x" * 2000 + b"\r\n"
    assert served.startswith(b"Return-Path: <sender@client.test>\r\n")
    assert dovecot.fetch_all("alice@example.test") == [served]
    assert len(dovecot.maildir_files("alice@example.test")) == 1

    with smtplib.LMTP(dovecot.lmtp_socket, timeout=10) as unix:     # the unix socket too
        assert unix.ehlo("client.test")[0] == 250
        assert unix.sendmail("sender@client.test", ["bob@example.test"], MESSAGE) == {}
    assert dovecot.wait_for_messages("bob@example.test", 1)

    dovecot.set_users([*dovecot.users, MailUser("frank@example.test", "frankpw")])
    with smtplib.LMTP(dovecot.lmtp_socket, timeout=10) as unix:     # re-read by itself
        unix.ehlo("client.test")
        unix.mail("sender@client.test")
        assert unix.rcpt("frank@example.test")[0] == 250

    for addr in (dovecot.auth_socket, ("127.0.0.1", dovecot.auth_port)):
        family = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
        with socket.socket(family) as s:
            s.settimeout(5)
            s.connect(addr)
            s.sendall(b"VERSION\t1\t2\nCPID\t1\n")
            greeting = b""
            while not greeting.endswith(b"DONE\n"):
                chunk = s.recv(4096)
                assert chunk, greeting
                greeting += chunk
            assert b"MECH\tPLAIN" in greeting


# -- DNS -------------------------------------------------------------------------------------
@pytest.mark.e2e
def test_dns_answers_through_make_resolver(dns_server):
    mx, nomx, nx, servfail, big, silent = resolve(dns_server.port, [
        ("MX", "example.test"), ("MX", "nomx.test"), ("MX", "nosuch.test"),
        ("MX", "servfail.test"), ("A", "big.test"), ("A", "timeout.test")], timeout=(0.3,))
    assert mx["error"] is None
    assert [a.split()[1:3] for a in mx["answers"]] == [
        ["preference=10", "name=mx1.example.test"], ["preference=20", "name=mx2.example.test"]]
    assert "<A address=127.0.0.1 ttl=60>" in mx["additional"]       # trailing-dot fix
    assert (nomx["error"], nomx["answers"], len(nomx["authority"])) == (None, [], 1)
    assert nx["error"] == "twisted.names.error.DNSNameError"
    assert servfail["error"] == "twisted.names.error.DNSServerError"
    assert len(big["answers"]) == 40                                  # TC, then TCP
    assert silent["error"] == "twisted.internet.defer.TimeoutError"


@pytest.mark.e2e
def test_dns_truncates_big_udp_answers(dns_server):
    query = tdns.Message(id=4711)
    query.queries = [tdns.Query(b"big.test", tdns.A)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(query.toStr(), ("127.0.0.1", dns_server.port))
        reply = tdns.Message()
        reply.fromStr(s.recv(4096))
    assert (reply.id, reply.trunc, reply.answers) == (4711, 1, [])
    resolver = make_resolver(dns_server.port, reactor=MemoryReactorClock())   # no global reactor
    assert resolver.servers == [("127.0.0.1", dns_server.port)] and not resolver.dynServers


@pytest.mark.e2e
def test_dns_custom_zone(make_dns_server):
    ns = make_dns_server(zones=["$ORIGIN example.org.\n$TTL 30\n"
                                "@ IN SOA ns.example.org. h.example.org. 1 60 60 600 60\n"
                                "@ IN MX 5 mail.example.org.\nmail IN A 127.0.0.2\n"],
                         servfail=(), silent=())
    [mx, a] = resolve(ns.port, [("MX", "example.org"), ("A", "example.test")])
    assert mx["answers"] == ["<MX preference=5 name=mail.example.org ttl=30>"]
    assert mx["additional"] == ["<A address=127.0.0.2 ttl=30>"]
    assert a["error"] == "twisted.names.error.DNSNameError"


# -- Postfix, smtp-sink, smtp-source, swaks --------------------------------------------------
@pytest.mark.e2e
def test_postfix_accepts_from_swaks_and_discards(make_postfix, dovecot, swaks_available):
    pf = make_postfix("discard", main_extra={           # with Dovecot as its SASL server
        "smtpd_sasl_auth_enable": "yes", "smtpd_sasl_type": "dovecot",
        "smtpd_sasl_path": dovecot.auth_socket})
    rc, transcript = swaks(server=pf.address, to="anyone@example.test",
                           header="Subject: discard me", auth="PLAIN",
                           auth_user="alice@example.test", auth_password="alicepw")
    assert rc == 0, transcript
    assert "235 2.7.0 Authentication successful" in transcript
    qid = transcript.split("queued as ")[1].split()[0]
    log = pf.wait_for_log(f"{qid}: removed")
    assert "postfix/discard[" in log and f"{qid}: to=<anyone@example.test>, relay=none" in log
    assert f"{qid}: client=unknown[127.0.0.1], sasl_method=PLAIN, " \
        "sasl_username=alice@example.test" in log
    pids = process_tree(pf.master_pid)
    assert len(pids) > 1
    pf.stop()
    assert not any(alive(p) for p in pids)


@pytest.mark.e2e
def test_smtp_sink_accepts_from_smtp_source(make_smtp_sink):
    sink = make_smtp_sink()
    done, elapsed = smtp_source(sink.port, messages=20, sessions=4, size=2000, timeout=30)
    assert (done.returncode, done.stderr) == (0, "")
    refusing = make_smtp_sink("-r", "RCPT")
    done, _ = smtp_source(refusing.port, messages=1, timeout=30)
    assert done.returncode != 0 and "450" in done.stderr
    proc = sink.proc
    with sink:                                  # already started: not started twice
        assert sink.proc is proc
    assert sink.proc is None and proc.poll() is not None


@pytest.mark.e2e
def test_postfix_relays_to_smtp_sink_and_delivers_to_maildirs(make_postfix, make_smtp_sink):
    sink = make_smtp_sink()
    relay = make_postfix("relay", relay_to=sink.address)
    maildirs = make_postfix("maildir", maildir_users=10)
    done, _ = smtp_source(relay.port, messages=5, sessions=2, timeout=30)
    assert done.returncode == 0, done.stderr
    done, _ = smtp_source(maildirs.port, messages=12, sessions=2, sequence=True,
                          to="u@example.test", timeout=30)
    assert done.returncode == 0, done.stderr
    log = relay.wait_for_log("status=sent (250 2.0.0 Ok", count=5)
    assert f"relay=127.0.0.1[127.0.0.1]:{sink.port}" in log
    wait_until(lambda: maildirs.maildir_count() == 12, what="12 messages in the Maildirs")
    assert (maildirs.maildir_count("u2"), maildirs.maildir_count("u3")) == (2, 1)   # 2, 12 / 3
    assert relay.queue_count() == maildirs.queue_count() == 0


# -- bench harness -------------------------------------------------------------------------
def test_tree_cpu_counts_exited_grandchildren():
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    script = (f"import subprocess, sys, time\n"
              f"subprocess.run([sys.executable, '-c', {burn!r}])\n"  # reaped by the child
              f"print('done', flush=True)\ntime.sleep(30)")
    before = time.process_time()
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"done\n"
        assert 0.3 <= tree_cpu_seconds(proc.pid) < 5
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert time.process_time() - before < 0.3          # not our own CPU
    assert tree_cpu_seconds(proc.pid) == 0              # gone


def test_result_table_format():
    r = Result("accept", "pfx", 1000, 20, 5120, 1, 2.0, 4.0, 3.0, 0.5, 0)
    assert (r.accept_rate, r.total_rate, r.cpu_per_1000) == (500, 250, 3.0)
    header, row = format_table([r]).splitlines()
    assert header.split()[6:12] == ["accept_s", "accept_msg/s", "total_s", "total_msg/s",
                                    "cpu_s", "cpu_s/1000msg"]
    assert row.split() == ["accept", "pfx", "1000", "20", "5120", "1", "2.00", "500.0",
                           "4.00", "250.0", "3.00", "3.000", "0.50"]


@pytest.mark.e2e
def test_postfix_reference_smoke():
    try:
        r = run_reference("accept", messages=20, sessions=2, size=1000, warmup=0)
    except PeerUnavailable as e:
        pytest.skip(str(e))
    assert r.returncode == 0, r.stderr
    # 20 messages take only about 20 ms of CPU: no exact figure asserted
    assert r.server_cpu_seconds >= 0 and r.accept_rate > 0 and r.total_rate > 0
