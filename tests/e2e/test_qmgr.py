"""qmgr as a process: ``twistd -n pfx -c DIR`` delivers queue files dropped in incoming/."""

import re
import shutil
import subprocess
import time

import pytest

from pfx.cli.trigger import send_trigger
from tests.conftest import pfx_command, pfx_env
from pfx.envelope import Envelope, Recipient
from pfx.queue.qid import QueueId
from pfx.queue.store import QueueStore

pytestmark = pytest.mark.e2e

MASTER = ("qmgr unix n - n 300 1 qmgr\n"
          "discard unix - - n - - discard\n"
          "error unix - - n - - error\n")


def drop(store, rcpts, sender="sender@example.org", queue="incoming"):
    env = Envelope(sender, tuple(Recipient(r) for r in rcpts))
    writer = store.new_file(env)
    writer.write(b"Subject: e2e\n\nhello\n")
    qid = writer.commit()
    if queue != "incoming":
        store.move(qid, "incoming", queue)
    return str(qid)


def wait_for_queue(store, qid, queue, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if store.find(QueueId(qid)) == queue:
            return
        time.sleep(0.05)
    raise AssertionError(f"{qid} in {store.find(QueueId(qid))}, not {queue}")


def test_queue_files_are_delivered_logged_and_removed(config_dir, run_twistd, tmp_path):
    (tmp_path / "transport").write_text("bounce.example error:5.1.1 no such user\n")
    config_dir.write(main_extra="default_transport = discard:discarded\n"
                                f"transport_maps = texthash:{tmp_path}/transport\n",
                     master=MASTER)
    spool = str(config_dir.path / "var" / "spool")
    store = QueueStore(spool)
    store.check(repair=True)
    early = drop(store, ["user@example.com"])
    crashed = drop(store, ["other@example.com"], queue="active")  # left by a "crash"
    proc = run_twistd(config_dir.path)
    config_dir.wait_for_log(f"{early}: removed")
    config_dir.wait_for_log(f"{crashed}: removed")

    late = drop(store, ["a@example.com", "b@bounce.example"])
    assert send_trigger(spool, "qmgr", b"I")
    config_dir.wait_for_log(f"{late}: removed")
    for qid in (early, crashed, late):
        wait_for_queue(store, qid, None)

    log = config_dir.log_text()
    assert re.search(rf"pfx/qmgr\[\d+\]: {early}: from=<sender@example.org>, size=20, "
                     rf"nrcpt=1 \(queue active\)", log)
    assert re.search(rf"pfx/discard\[\d+\]: {early}: to=<user@example.com>, relay=none, "
                     r"delay=[\d.]+, delays=[\d.]+/[\d.]+/0/[\d.]+, dsn=2\.0\.0, "
                     r"status=sent \(discarded\)", log)
    assert re.search(rf"pfx/qmgr\[\d+\]: {late}: to=<b@bounce.example>, relay=none, "
                     r".*dsn=5\.1\.1, status=bounced \(no such user\)", log)
    assert "no bounce service in master.cf" in log
    assert proc.poll() is None


@pytest.mark.skipif(shutil.which("pflogsumm") is None, reason="pflogsumm not installed")
def test_pflogsumm_counts_pfx_deliveries(config_dir, run_twistd, tmp_path):
    (tmp_path / "transport").write_text("bounce.example error:5.1.1 no such user\n"
                                        "later.example retry:4.4.1 try again\n")
    config_dir.write(main_extra="default_transport = discard:discarded\n"
                                f"transport_maps = texthash:{tmp_path}/transport\n",
                     master=MASTER)
    store = QueueStore(str(config_dir.path / "var" / "spool"))
    store.check(repair=True)
    qids = [drop(store, ["a@example.com", "b@example.com"]),
            drop(store, ["c@bounce.example"]), drop(store, ["d@later.example"])]
    run_twistd(config_dir.path)
    for qid in qids[:2]:
        config_dir.wait_for_log(f"{qid}: removed")
    config_dir.wait_for_log(f"{qids[2]}: to=<d@later.example>")
    out = subprocess.run(["pflogsumm", "--syslog-name=pfx", str(config_dir.maillog)],
                         capture_output=True, text=True, check=True).stdout
    counts = dict((m.group(2), int(m.group(1)))
                  for m in re.finditer(r"^\s+(\d+)\s+(delivered|deferred|bounced)\b", out,
                                       re.M))
    assert counts == {"delivered": 2, "deferred": 1, "bounced": 1}, out


def test_mail_for_a_missing_transport_is_deferred(config_dir, run_twistd):
    config_dir.write(main_extra="default_transport = nowhere\n", master=MASTER)
    spool = str(config_dir.path / "var" / "spool")
    store = QueueStore(spool)
    store.check(repair=True)
    qid = drop(store, ["user@example.com"])
    run_twistd(config_dir.path)
    config_dir.wait_for_log("status=deferred (mail transport unavailable)")
    wait_for_queue(store, qid, "deferred")


def test_bounce_program_gets_the_logs_and_its_notice_is_delivered(config_dir, run_twistd,
                                                                   tmp_path):
    (tmp_path / "transport").write_text("bounce.example error:5.1.1 no such user\n")
    config_dir.write(main_extra="default_transport = discard:discarded\n"
                                f"transport_maps = texthash:{tmp_path}/transport\n",
                     master=MASTER + "cleanup unix n - n - 0 cleanup\n"
                                     "bounce unix - - n - 0 bounce\n"
                                     "defer unix - - n - 0 bounce\n"
                                     "trace unix - - n - 0 bounce\n")
    store = QueueStore(str(config_dir.path / "var" / "spool"))
    store.check(repair=True)
    qid = drop(store, ["ok@example.com", "gone@bounce.example"])
    run_twistd(config_dir.path)
    config_dir.wait_for_log(f"{qid}: removed")
    notice = re.search(rf"{qid}: sender non-delivery notification: (\w+)",
                       config_dir.log_text()).group(1)
    config_dir.wait_for_log(f"{notice}: removed")
    log = config_dir.log_text()
    assert re.search(rf"{notice}: from=<>, size=\d+, nrcpt=1 \(queue active\)", log)
    assert re.search(rf"{notice}: to=<sender@example.org>, relay=none, .*status=sent "
                     r"\(discarded\)", log)
    assert "no bounce service" not in log
    assert not list(store.scan("bounce", ready_only=False))


def test_postqueue_flush_retries_deferred_mail_at_once(config_dir, run_twistd):
    config_dir.write(main_extra="default_transport = retry:4.4.1 try again later\n",
                     master=MASTER + "retry unix - - n - - retry\n")
    store = QueueStore(str(config_dir.path / "var" / "spool"))
    store.check(repair=True)
    qid = drop(store, ["user@example.com"])
    run_twistd(config_dir.path)
    wait_for_queue(store, qid, "deferred")
    active = f"{qid}: from=<sender@example.org>, size=20, nrcpt=1 (queue active)"
    assert config_dir.log_text().count(active) == 1
    done = subprocess.run(pfx_command("-c", str(config_dir.path), "postqueue", "-f"),
                          env=pfx_env(), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 10
    while config_dir.log_text().count(active) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert config_dir.log_text().count(active) == 2
    assert "dsn=4.4.1, status=deferred (try again later)" in config_dir.log_text()


def test_relay_end_to_end_smtp_source_to_smtp_sink(config_dir, run_twistd, make_smtp_sink):
    from tests.conftest import free_port, wait_for_port
    from tests.support.peers.postfix import smtp_source
    sink = make_smtp_sink()
    port = free_port()
    config_dir.write(main_extra=f"relayhost = [127.0.0.1]:{sink.port}\n"
                                "smtp_dns_support_level = disabled\n",
                     master=MASTER + f"127.0.0.1:{port} inet n - n - - smtpd\n"
                                     "cleanup unix n - n - 0 cleanup\n"
                                     "bounce unix - - n - 0 bounce\n"
                                     "smtp unix - - n - - smtp\n")
    proc = run_twistd(config_dir.path)
    wait_for_port(port, proc=proc)
    done, _ = smtp_source(port, messages=20, sessions=4, recipients=2,
                          to="rcpt@example.test")
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 30
    while config_dir.log_text().count(": removed") < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    log = config_dir.log_text()
    assert log.count(": removed") == 20, log[-3000:]
    assert len(re.findall(r"pfx/smtp\[\d+\]: \w+: to=<\d*rcpt@example.test>, "
                          rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{sink.port}, .*status=sent",
                          log)) == 40, log[-3000:]
    store = QueueStore(str(config_dir.path / "var" / "spool"))
    assert not any(True for q in ("incoming", "active", "deferred")
                   for _ in store.scan(q, ready_only=False))
