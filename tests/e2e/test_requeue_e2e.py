"""postsuper -r with pfx running and stopped: a deferred (or held) message goes through
pickup and cleanup again, so a virtual_alias_maps entry added since takes effect; it gets
a new queue ID."""

import os
import re
import signal

import pytest

from tests.conftest import run_pfx as pfx
from tests.support.peers.common import wait_until

pytestmark = pytest.mark.e2e

MASTER = ("pickup     unix  n       -       n       60      1       pickup\n"
          "cleanup    unix  n       -       n       -       0       cleanup\n"
          "qmgr       unix  n       -       n       300     1       qmgr\n"
          "discard    unix  -       -       n       -       -       discard\n"
          "retry      unix  -       -       n       -       -       retry\n")


def spool(config_dir, name):
    path = config_dir.path / "var" / "spool" / name
    found = []
    for top, _, files in os.walk(path):
        found += [f for f in files if "." not in f]
    return sorted(found)


def deferred_id(config_dir, rcpt):
    config_dir.wait_for_log(f"to=<{rcpt}>")
    m = re.search(rf"(\w+): to=<{re.escape(rcpt)}>, relay=none, .*status=deferred \(not now\)",
                  config_dir.log_text())
    assert m, config_dir.log_text()
    return m.group(1)


def submit(config_dir, rcpt):
    done = pfx(config_dir, "sendmail", "-C", str(config_dir.path), "-f", "alice@example.org",
               rcpt, stdin=f"Subject: for {rcpt}\n\nhello\n".encode())
    assert done.returncode == 0, done.stderr


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)


def test_requeue_applies_a_new_virtual_alias(config_dir, run_twistd, tmp_path):
    (tmp_path / "transport").write_text("defer.test retry:4.4.1 not now\n")
    virtual = tmp_path / "virtual"
    virtual.write_text("/^nobody@nowhere\\.test$/ nobody@ok.test\n")
    config_dir.write(main_extra="default_transport = discard:discarded\n"
                                f"transport_maps = texthash:{tmp_path}/transport\n"
                                f"virtual_alias_maps = regexp:{virtual}\n",
                     master=MASTER)
    assert pfx(config_dir, "-c", str(config_dir.path), "check").returncode == 0
    proc = run_twistd(config_dir.path)
    submit(config_dir, "old@defer.test")
    submit(config_dir, "old2@defer.test")
    first = deferred_id(config_dir, "old@defer.test")
    second = deferred_id(config_dir, "old2@defer.test")
    wait_until(lambda: spool(config_dir, "deferred") == sorted([first, second]), timeout=15.0)

    # the mapping changes after the message was queued
    virtual.write_text("/^old@defer\\.test$/ new@ok.test\n/^old2@defer\\.test$/ new2@ok.test\n")
    done = pfx(config_dir, "postsuper", "-c", str(config_dir.path), "-r", first)
    assert (done.returncode, done.stderr.decode()) == (
        0, f"postsuper: {first}: requeued\npostsuper: Requeued: 1 message\n")
    config_dir.wait_for_log("to=<new@ok.test>")
    log = config_dir.log_text()
    m = re.search(rf"pfx/pickup\[\d+\]: (\w+): uid={os.getuid()} from=<alice@example.org> "
                  rf"orig_id={first}\n", log)
    assert m, log
    new = m.group(1)
    assert new != first
    assert re.search(rf"{new}: to=<new@ok.test>, orig_to=<old@defer.test>, relay=none, .*"
                     r"status=sent \(discarded\)", log), log
    wait_until(lambda: spool(config_dir, "deferred") == [second], timeout=15.0)
    assert spool(config_dir, "maildrop") == []

    # pfx stopped, the message on hold: requeued (IDs on stdin), it waits in maildrop/
    stop(proc)
    done = pfx(config_dir, "postsuper", "-c", str(config_dir.path), "-h", second)
    assert done.returncode == 0 and spool(config_dir, "hold") == [second]
    done = pfx(config_dir, "postsuper", "-c", str(config_dir.path), "-r", "ALL", "deferred")
    assert (done.returncode, done.stderr.decode()) == (0, "postsuper: Requeued: 0 messages\n")
    done = pfx(config_dir, "postsuper", "-c", str(config_dir.path), "-r", "-",
               stdin=f"{second}!\n".encode())
    assert (done.returncode, done.stderr.decode()) == (
        0, f"postsuper: {second}: requeued\npostsuper: Requeued: 1 message\n")
    assert spool(config_dir, "hold") == [] and len(spool(config_dir, "maildrop")) == 1
    run_twistd(config_dir.path)
    config_dir.wait_for_log("to=<new2@ok.test>")
    assert re.search(r"\w+: to=<new2@ok.test>, orig_to=<old2@defer.test>, relay=none, .*"
                     r"status=sent \(discarded\)", config_dir.log_text())
    assert re.search(rf"orig_id={second}\n", config_dir.log_text())
    wait_until(lambda: spool(config_dir, "maildrop") == [], timeout=15.0)
