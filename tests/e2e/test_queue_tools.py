"""The queue tools as processes: `python -m pfx.cli.main TOOL -c DIR ...` and `-m pfx.cli.TOOL`."""

import json
import subprocess
import sys

import pytest

from pfx.envelope import Envelope, Recipient
from pfx.queue.store import QueueStore

from tests.conftest import pfx_command, pfx_env

pytestmark = pytest.mark.e2e


def run(*argv, stdin="", module=None):
    command = [sys.executable, "-m", module, *argv] if module else pfx_command(*argv)
    env = pfx_env()
    env["TZ"] = "UTC"
    return subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, timeout=30)


@pytest.fixture
def queue(tmp_path):
    (tmp_path / "main.cf").write_text(f"queue_directory = {tmp_path}/spool\n")
    (tmp_path / "master.cf").write_text("")
    store = QueueStore(tmp_path / "spool")
    store.check()
    ids = []
    for n, sender in enumerate(["", "root@ok.test"]):
        with store.new_file(Envelope(sender, [Recipient(f"u{n}@ok.test")], arrival=1795600832)) as w:
            w.write(b"Subject: %d\n\nbody\n" % n)
            ids.append(w.commit())
    store.move(ids[1], "incoming", "deferred")
    return str(tmp_path), store, ids


def test_list_hold_cat_delete(queue):
    config, store, (first, second) = queue
    listing = run("postqueue", "-c", config, "-p")
    assert listing.returncode == 0 and listing.stderr == ""
    assert listing.stdout.startswith("----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------\n")
    assert f"{first}  " in listing.stdout and "Wed Nov 25 10:00:32 MAILER-DAEMON" in listing.stdout
    assert listing.stdout.endswith("\n-- 0 Kbytes in 2 Requests.\n")
    assert run("mailq", "-c", config).stdout == listing.stdout

    held = run("postsuper", "-c", config, "-h", "-", stdin=f"{second}\n")
    assert held.returncode == 0
    assert held.stderr == f"postsuper: {second}: placed on hold\npostsuper: Placed on hold: 1 message\n"
    objects = [json.loads(line) for line in run("postqueue", "-c", config, "-j").stdout.splitlines()]
    assert [(o["queue_name"], o["queue_id"]) for o in objects] == [("incoming", str(first)), ("hold", str(second))]

    shown = run("postcat", "-c", config, "-q", str(second))
    assert shown.returncode == 0
    assert shown.stdout.startswith(f"*** ENVELOPE RECORDS hold/{second} ***\n")
    assert "Subject: 1\n\nbody\n" in shown.stdout

    deleted = run("postsuper", "-c", config, "-d", "ALL")
    assert deleted.stderr == "postsuper: Deleted: 2 messages\n"
    assert run("postqueue", "-c", config, "-p").stdout == "Mail queue is empty\n"


def test_modules_run_directly_and_fail_cleanly(queue, tmp_path):
    config, store, (first, _) = queue
    flush = run("-c", config, "-f", module="pfx.cli.postqueue")
    assert (flush.returncode, flush.stderr) == (
        69, "postqueue: fatal: Cannot flush mail queue - mail system is down\n")
    junk = tmp_path / "junk"
    junk.write_bytes(open(store.path("incoming", first), "rb").read()[:-4])
    cat = run(str(junk), module="pfx.cli.postcat")
    assert cat.returncode == 1 and cat.stderr.startswith(f"postcat: fatal: {junk}: corrupt queue file")
    assert run("-c", config, "-s", module="pfx.cli.postsuper").returncode == 0
