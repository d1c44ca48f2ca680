"""Proof (issue 8): mail for a virtual domain, SMTP in through smtpd, cleanup and qmgr, then
over LMTP (``virtual_transport = lmtp:unix:...`` / ``lmtp:inet:...``) to a real Dovecot,
read back over IMAP; per-recipient results; Dovecot down -> deferred -> flushed."""

import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import pfx_command, pfx_env
from tests.support.peers.common import LOOPBACK, kill_group, start_group, wait_banner
from tests.support.peers.dovecot import DOVECOT, strip_trace
from tests.support.proofs import SharedDir, start_pfx, submit, wait_for, wait_for_count

pytestmark = pytest.mark.e2e

SENDER = "sender@client.example.org"


def lmtp_main(transport, extra=""):
    return ("virtual_mailbox_domains = example.test\n"
            f"virtual_transport = {transport}\n"
            # Dovecot is the authority on its users: smtpd accepts, LMTP answers per user
            "smtpd_reject_unlisted_recipient = no\n"
            "default_transport = discard:no mail leaves this test\n" + extra)


# with Date and To present cleanup adds no header (a client on inet_interfaces counts as
# local for local_header_rewrite_clients, and Postfix adds missing Date/To for those)
HEADERS = "To: <alice@example.test>\r\nDate: Wed, 25 Nov 2026 10:00:00 +0000\r\n"


def message(msgid, body=b"hello over LMTP\r\n"):
    return (f"Subject: lmtp proof\r\nMessage-ID: <{msgid}@client.example.org>\r\n"
            f"From: <{SENDER}>\r\n{HEADERS}\r\n").encode() + body


BODY = (b"first\r\n.single dot start\r\n..two dots\r\nFrom a line\r\n \xc3\xa9t\xc3\xa9 8bit\r\n"
        + b"a long line " + b"y" * 900 + b"\r\n.\r\nlast\r\n")


def check_served(served, qid, rcpt, sent):
    """IMAP's bytes: Dovecot's trace lines, pfx's Received (cleanup's), then exactly what
    the client sent."""
    ours = strip_trace(served)
    assert ours.startswith(b"Received: from client.example.org (localhost [127.0.0.1])\r\n"
                           b"\tby mx.example.test (pfx) with ESMTP id "
                           + qid.encode() + b"\r\n\tfor <" + rcpt.encode() + b">; "), ours[:300]
    assert strip_trace(ours) == sent


@pytest.mark.parametrize("kind", ["unix", "inet"])
def test_virtual_domain_to_dovecot_read_back_over_imap(config_dir, run_twistd, dovecot, kind):
    nexthop = (f"unix:{dovecot.lmtp_socket}" if kind == "unix"
               else f"inet:127.0.0.1:{dovecot.lmtp_port}")
    _, port = start_pfx(config_dir, run_twistd, lmtp_main(f"lmtp:{nexthop}"))
    sent = message(f"imap-{kind}", BODY)
    qid = submit(port, SENDER, ["alice@example.test"], sent)
    config_dir.wait_for_log(f"{qid}: removed")
    [served] = dovecot.fetch_all("alice@example.test")
    check_served(served, qid, "alice@example.test", sent)
    relay = (r"mx\.example\.test\[" + re.escape(dovecot.lmtp_socket) + r"\]" if kind == "unix"
             else rf"127\.0\.0\.1\[127\.0\.0\.1\]:{dovecot.lmtp_port}")
    assert re.search(rf"pfx/lmtp\[\d+\]: {qid}: to=<alice@example\.test>, relay={relay}, .*"
                     r"dsn=2\.0\.0, status=sent \(250 2\.0\.0 <alice@example\.test> \S+ Saved\)",
                     config_dir.log_text()), config_dir.log_text()


def test_one_message_several_users_one_status_each(config_dir, run_twistd, dovecot):
    """alice and bob get it; ghost (unknown) bounces with Dovecot's RCPT reply quoted;
    carol (hard quota) bounces and dave (quota_full_tempfail) defers with Dovecot's
    after-DATA replies; the sender's non-delivery notice quotes the replies."""
    _, port = start_pfx(config_dir, run_twistd,
                        lmtp_main(f"lmtp:inet:127.0.0.1:{dovecot.lmtp_port}"))
    rcpts = ["alice@example.test", "ghost@example.test", "bob@example.test",
             "carol@example.test", "dave@example.test"]
    sent = message("several", (b"z" * 70 + b"\r\n") * 40)  # over carol's and dave's 1K
    qid = submit(port, "bob@example.test", rcpts, sent)
    wait_for_count(config_dir, re.compile(rf"pfx/lmtp\[\d+\]: {qid}: to="), 5)
    log = config_dir.log_text()
    lines = re.findall(rf"pfx/lmtp\[\d+\]: {qid}: to=<([^>]+)>, relay=([^,]+), .*"
                       r"dsn=([\d.]+), status=(\w+) \((.*)\)", log)
    relay = f"127.0.0.1[127.0.0.1]:{dovecot.lmtp_port}"
    assert sorted(r[0] for r in lines) == sorted(rcpts)   # exactly one status per user
    by = {r[0]: r[1:] for r in lines}
    assert by["alice@example.test"][:3] == (relay, "2.0.0", "sent")
    assert by["bob@example.test"][:3] == (relay, "2.0.0", "sent")
    assert by["ghost@example.test"] == (
        relay, "5.1.1", "bounced", "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 "
        "<ghost@example.test> User doesn't exist: ghost@example.test (in reply to RCPT TO "
        "command)")
    assert by["carol@example.test"][:3] == (relay, "5.2.2", "bounced")
    assert re.fullmatch(r"host 127\.0\.0\.1\[127\.0\.0\.1\] said: 552 5\.2\.2 "
                        r"<carol@example\.test> Quota exceeded.* \(in reply to end of DATA "
                        r"command\)", by["carol@example.test"][3]), by["carol@example.test"]
    assert by["dave@example.test"][:3] == (relay, "4.2.2", "deferred")
    assert re.fullmatch(r"host 127\.0\.0\.1\[127\.0\.0\.1\] said: 452 4\.2\.2 "
                        r"<dave@example\.test> Quota exceeded.* \(in reply to end of DATA "
                        r"command\)", by["dave@example.test"][3]), by["dave@example.test"]
    for user in ("alice@example.test", "bob@example.test"):
        [served] = dovecot.fetch_by_message_id(user, "several@client.example.org")
        assert strip_trace(strip_trace(served)) == sent
    assert not dovecot.maildir_files("carol@example.test")
    # bob sent it: the non-delivery notice (ghost, carol) reaches bob's Dovecot mailbox
    # logged after the last status line: wait for it rather than race the bounce program
    config_dir.wait_for_log(f"{qid}: sender non-delivery notification: ")
    log = config_dir.log_text()
    m = re.search(rf"{qid}: sender non-delivery notification: (\w+)", log)
    assert m, log
    config_dir.wait_for_log(f"{m.group(1)}: removed")
    notices = [msg for msg in dovecot.fetch_all("bob@example.test")
               if b"Message-ID: <several@" not in msg.split(b"\r\n\r\n", 1)[0]]
    assert len(notices) == 1
    text = notices[0].decode("utf-8", "replace")
    assert "<ghost@example.test>: host 127.0.0.1[127.0.0.1] said: 550 5.1.1" in text
    assert "<carol@example.test>: host 127.0.0.1[127.0.0.1] said: 552 5.2.2" in text
    assert "<dave@example.test>" not in text          # deferred, so not in this notice


def test_dovecot_down_defers_then_flush_delivers(config_dir, run_twistd, dovecot):
    _, port = start_pfx(config_dir, run_twistd,
                        lmtp_main(f"lmtp:inet:127.0.0.1:{dovecot.lmtp_port}"))
    kill_group(dovecot.proc)                  # Dovecot stopped, its mail and config kept
    dovecot.proc = None
    sent = message("later")
    qid = submit(port, SENDER, ["alice@example.test"], sent)
    config_dir.wait_for_log(f"{qid}: to=<alice@example.test>")
    assert re.search(rf"pfx/lmtp\[\d+\]: {qid}: to=<alice@example\.test>, relay=none, .*"
                     r"dsn=4\.4\.1, status=deferred \(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:"
                     rf"{dovecot.lmtp_port}: Connection refused\)", config_dir.log_text()), \
        config_dir.log_text()
    deferred = config_dir.path / "var" / "spool" / "deferred"
    wait_for(lambda: any(p.is_file() for p in deferred.rglob("*")), what="the deferred file")

    dovecot.proc = start_group([DOVECOT, "-F", "-c", dovecot.conf_path],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_banner((LOOPBACK, dovecot.lmtp_port), b"220 ", proc=dovecot.proc, goodbye=b"QUIT\r\n")
    wait_banner((LOOPBACK, dovecot.imap_port), b"* OK", proc=dovecot.proc,
                goodbye=b"x LOGOUT\r\n")
    done = subprocess.run(pfx_command("-c", str(config_dir.path), "postqueue", "-f"),
                          env=pfx_env(), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    config_dir.wait_for_log(f"{qid}: removed")
    assert re.search(rf"{qid}: to=<alice@example\.test>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:"
                     rf"{dovecot.lmtp_port}, .*status=sent", config_dir.log_text())
    [served] = dovecot.fetch_all("alice@example.test")
    check_served(served, qid, "alice@example.test", sent)
    assert not any(p.is_file() for p in deferred.rglob("*"))


def test_relayhost_to_smtp_sink_byte_exact(config_dir, run_twistd, make_smtp_sink):
    """The sending side through the whole pipeline: smtpd -> cleanup -> qmgr -> smtp ->
    smtp-sink as ``relayhost = [127.0.0.1]:PORT``, the message dumped by smtp-sink."""
    dump = SharedDir()
    try:
        out = dump.sub("dump", 0o1777)
        sink = make_smtp_sink("-d", f"{out}/%M.")
        _, port = start_pfx(config_dir, run_twistd,
                            f"relayhost = [127.0.0.1]:{sink.port}\n"
                            "smtp_dns_support_level = disabled\n")
        sent = message("relayed", BODY)
        qid = submit(port, SENDER, ["one@remote.example", "two@remote.example"], sent)
        config_dir.wait_for_log(f"{qid}: removed")
        log = config_dir.log_text()
        for rcpt in ("one@remote.example", "two@remote.example"):
            assert re.search(rf"pfx/smtp\[\d+\]: {qid}: to=<{rcpt}>, relay=127\.0\.0\.1"
                             rf"\[127\.0\.0\.1\]:{sink.port}, .*dsn=2\.0\.0, status=sent "
                             r"\(250 2\.0\.0 Ok", log), log
        files = wait_for(lambda: [p for p in Path(out).iterdir() if p.is_file()],
                         what="smtp-sink's dump")
        assert len(files) == 1                       # one transaction, two RCPTs
        dumped = files[0].read_bytes()                # smtp-sink writes LF line ends
        lines = dumped.split(b"\n")
        assert lines[3:6] == [b"X-Mail-Args: <sender@client.example.org>",
                              b"X-Rcpt-Args: <one@remote.example>",
                              b"X-Rcpt-Args: <two@remote.example>"]
        ours = dumped.index(b"Received: from client.example.org (localhost [127.0.0.1])\n"
                            b"\tby mx.example.test (pfx) with ESMTP id " + qid.encode() + b";\n")
        after = dumped[ours:].split(b"\n", 3)[3]       # past pfx's three Received lines
        # dot-stuffed on the wire, unstuffed by smtp-sink: the client's bytes exactly (the
        # dump ends every message with one empty line of its own)
        assert after == sent.replace(b"\r\n", b"\n") + b"\n", after[-200:]
    finally:
        dump.cleanup()
