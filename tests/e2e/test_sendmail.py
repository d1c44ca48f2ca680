"""Local submission end to end: pfx sendmail with pfx stopped, then pickup and cleanup."""

import os
import subprocess

import pytest

from tests.conftest import pfx_command, pfx_env, run_pfx as pfx
from tests.support.peers.common import wait_until

pytestmark = pytest.mark.e2e

MASTER = ("pickup     unix  n       -       n       60      1       pickup\n"
          "cleanup    unix  n       -       n       -       0       cleanup\n")


def queue(config_dir, name):
    path = config_dir.path / "var" / "spool" / name
    return sorted(p for p in os.listdir(path) if "." not in p) if path.exists() else []


def test_mail_sent_while_stopped_is_picked_up_at_start(config_dir, run_twistd):
    config_dir.write(master=MASTER)
    assert pfx(config_dir, "-c", str(config_dir.path), "check").returncode == 0
    done = pfx(config_dir, "sendmail", "-C", str(config_dir.path), "-f", "bob", "carol",
               stdin=b"Subject: while stopped\n\nhello\n")
    assert done.returncode == 0, done.stderr
    [waiting] = queue(config_dir, "maildrop")
    assert queue(config_dir, "incoming") == []

    run_twistd(config_dir.path)
    config_dir.wait_for_log("message-id=")
    wait_until(lambda: queue(config_dir, "maildrop") == [], timeout=15.0)
    [qid] = queue(config_dir, "incoming")
    log = config_dir.log_text()
    assert f"pfx/pickup[" in log and f"{qid}: uid={os.getuid()} from=<bob>" in log
    assert f"pfx/cleanup[" in log and f"{qid}: message-id=<{qid}@mx.example.test>" in log

    # while pfx runs, the trigger brings the next one in at once (wakeup is 60 s)
    done = pfx(config_dir, "sendmail", "-C", str(config_dir.path), "-t",
               stdin=b"To: dave\nSubject: running\n\nhi\n.\n")
    assert done.returncode == 0, done.stderr
    wait_until(lambda: len(queue(config_dir, "incoming")) == 2, timeout=10)
    assert queue(config_dir, "maildrop") == []


def test_sendmail_bs_speaks_smtp(config_dir):
    config_dir.write(master=MASTER)
    assert pfx(config_dir, "-c", str(config_dir.path), "check").returncode == 0
    done = pfx(config_dir, "sendmail", "-C", str(config_dir.path), "-bs",
               stdin=b"HELO me\r\nMAIL FROM:<bob@example.test>\r\nRCPT TO:<carol>\r\n"
                     b"DATA\r\nSubject: bs\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().split("\r\n")
    assert lines[:4] == ["220 mx.example.test ESMTP pfx", "250 mx.example.test",
                         "250 2.1.0 Ok", "250 2.1.5 Ok"]
    assert lines[4].startswith("354 ") and lines[5].startswith("250 2.0.0 Ok: queued as ")
    assert lines[6] == "221 2.0.0 Bye"
    assert queue(config_dir, "maildrop") == [lines[5].rsplit(" ", 1)[1]]


def test_a_signal_or_a_refusal_leaves_nothing_in_maildrop(config_dir):
    import signal
    config_dir.write(master=MASTER)
    assert pfx(config_dir, "-c", str(config_dir.path), "check").returncode == 0
    maildrop = config_dir.path / "var" / "spool" / "maildrop"
    proc = subprocess.Popen(pfx_command("sendmail", "-C", str(config_dir.path), "carol"),
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=pfx_env())
    proc.stdin.write(b"Subject: half\n\n" + b"x" * 100000 + b"\n")
    proc.stdin.flush()
    wait_until(lambda: os.listdir(maildrop) != [], timeout=15.0)  # the temporary file exists
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 75
    assert b"caught signal 15" in proc.stderr.read()
    proc.stdin.close()
    proc.stderr.close()
    assert os.listdir(maildrop) == []
    done = pfx(config_dir, "sendmail", "-C", str(config_dir.path), "-t",
               stdin=b"Subject: nobody\n\nx\n")
    assert done.returncode == 64 and os.listdir(maildrop) == []
