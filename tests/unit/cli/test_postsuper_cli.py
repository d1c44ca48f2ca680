"""postsuper -d/-h/-H/-r/-s/-p: moves, counts and messages as Postfix 3.7 prints them."""

import io
import os
import shutil
import time

import pytest

from pfx.cli import postsuper
from pfx.queue.qid import QueueId


def run(capsys, *argv, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    rc = postsuper.main(list(argv))
    out, err = capsys.readouterr()
    assert out == ""  # postsuper reports on stderr only
    return rc, err


def test_hold_one_then_again(q, capsys):
    qid = q.add(queue="deferred")
    # Postfix 3.7: `postsuper -h ID` twice
    assert run(capsys, "-c", q.dir, "-h", str(qid)) == (
        0, f"postsuper: {qid}: placed on hold\npostsuper: Placed on hold: 1 message\n")
    assert q.where(qid) == "hold"
    assert run(capsys, "-c", q.dir, "-h", str(qid)) == (0, "postsuper: Placed on hold: 0 messages\n")


def test_hold_all_in_a_named_queue(q, capsys):
    a, b, c = q.add(queue="deferred"), q.add(queue="deferred"), q.add(queue="incoming")
    # ALL reports only the count, as Postfix does
    assert run(capsys, "-c", q.dir, "-h", "ALL", "deferred") == (0, "postsuper: Placed on hold: 2 messages\n")
    assert (q.where(a), q.where(b), q.where(c)) == ("hold", "hold", "incoming")


def test_hold_skips_maildrop_and_release_only_from_hold(q, capsys):
    held = q.add(queue="hold")
    assert run(capsys, "-c", q.dir, "-h", "ALL", "maildrop") == (0, "postsuper: Placed on hold: 0 messages\n")
    assert run(capsys, "-c", q.dir, "-H", "ALL", "deferred") == (0, "postsuper: Released from hold: 0 messages\n")
    assert q.where(held) == "hold"


def test_release_moves_to_deferred_due_now(q, capsys, qmgr_socket):
    a, b = q.add(queue="hold"), q.add(queue="hold")
    os.utime(q.store.path("hold", a), (0, 0))
    assert run(capsys, "-c", q.dir, "-H", "ALL") == (0, "postsuper: Released from hold: 2 messages\n")
    assert q.where(a) == q.where(b) == "deferred"
    assert q.store.next_attempt("deferred", a) > time.time() - 60
    assert qmgr_socket() == b"D"


def test_delete_removes_the_logs_too(q, capsys):
    qid = q.add(queue="deferred")
    logs = [q.defer_log(qid, ("a@ok.test", "why"))]
    for name in ("bounce", "trace"):
        logs.append(q.store.path(name, qid))
        open(logs[-1], "w").close()
    assert run(capsys, "-c", q.dir, "-d", str(qid)) == (
        0, f"postsuper: {qid}: removed\npostsuper: Deleted: 1 message\n")
    assert q.where(qid) is None and not any(os.path.exists(p) for p in logs)


def test_delete_all_respects_queue_names(q, capsys):
    d, h, m = q.add(queue="deferred"), q.add(queue="hold"), q.add(queue="incoming")
    assert run(capsys, "-c", q.dir, "-d", "ALL", "deferred", "hold") == (0, "postsuper: Deleted: 2 messages\n")
    assert (q.where(d), q.where(h), q.where(m)) == (None, None, "incoming")
    assert run(capsys, "-c", q.dir, "-d", "ALL", "defer") == (0, "postsuper: Deleted: 0 messages\n")
    assert run(capsys, "-c", q.dir, "-d", "ALL") == (0, "postsuper: Deleted: 1 message\n")


def test_delete_from_maildrop_only_when_named(q, capsys):
    envelope = q.store.read_info("incoming", q.add()).envelope
    with q.store.new_file(envelope, "maildrop") as w:
        w.write(b"\n")
        dropped = w.commit()
    assert run(capsys, "-c", q.dir, "-d", str(dropped)) == (0, "postsuper: Deleted: 0 messages\n")
    assert run(capsys, "-c", q.dir, "-d", str(dropped), "maildrop")[1].startswith(f"postsuper: {dropped}: removed")


def test_ids_from_stdin_with_mailq_decorations(q, capsys, monkeypatch):
    a, b, c = q.add(queue="active"), q.add(queue="hold"), q.add(queue="deferred")
    rc, err = run(capsys, "-c", q.dir, "-d", "-", stdin=f"{a}*\n{b}!\n\n", monkeypatch=monkeypatch)
    assert rc == 0 and err.endswith("postsuper: Deleted: 2 messages\n")
    assert (q.where(a), q.where(b), q.where(c)) == (None, None, "deferred")


def maildrop(q):
    return sorted(n for n in os.listdir(q.store.queue_dir("maildrop")) if "." not in n)


def test_requeue_goes_to_maildrop_and_wakes_pickup(q, capsys, pickup_socket, qmgr_socket):
    h, d, i = q.add(queue="hold"), q.add(queue="deferred"), q.add(queue="incoming")
    assert run(capsys, "-c", q.dir, "-r", str(h)) == (
        0, f"postsuper: {h}: requeued\npostsuper: Requeued: 1 message\n")
    assert q.where(h) is None and len(maildrop(q)) == 1
    assert pickup_socket() == b"W" and qmgr_socket() == b""
    # default queues: hold, incoming, active, deferred; ALL reports only the count
    assert run(capsys, "-c", q.dir, "-r", "ALL", "deferred") == (0, "postsuper: Requeued: 1 message\n")
    assert q.where(d) is None and q.where(i) == "incoming"
    assert run(capsys, "-c", q.dir, "-r", "ALL") == (0, "postsuper: Requeued: 1 message\n")
    assert q.where(i) is None and len(maildrop(q)) == 3
    assert run(capsys, "-c", q.dir, "-r", "ALL") == (0, "postsuper: Requeued: 0 messages\n")
    assert pickup_socket() == b"WW"  # nothing requeued: no trigger


def test_requeue_ids_from_stdin_and_not_running(q, capsys, monkeypatch):
    a, b, c = q.add(queue="active"), q.add(queue="hold"), q.add(queue="deferred")
    rc, err = run(capsys, "-c", q.dir, "-v", "-r", "-", stdin=f"{a}*\n{b}!\n\n",
                  monkeypatch=monkeypatch)
    assert rc == 0 and err.endswith("postsuper: Requeued: 2 messages\n")
    assert f"postsuper: {a}: requeued\n" in err and f"postsuper: {b}: requeued\n" in err
    assert f"postsuper: {a}: requeued as maildrop/" in err  # -v names the new file
    assert (q.where(a), q.where(b), q.where(c)) == (None, None, "deferred")
    assert len(maildrop(q)) == 2  # no pfx running: they wait in maildrop/


def test_requeue_leaves_done_recipients_behind(q, capsys):
    qid = q.add(rcpts=["a@ok.test", "b@ok.test"], done=("a@ok.test",), queue="deferred")
    run(capsys, "-c", q.dir, "-r", str(qid))
    [new] = maildrop(q)
    info = q.store.read_info("maildrop", QueueId(new))
    assert [r.address for r in info.recipients] == ["b@ok.test"] and info.done == ()
    assert ("orig_id", str(qid)) in info.attributes


def test_requeue_reports_a_corrupt_file_and_keeps_it(q, capsys):
    qid = q.add(queue="deferred")
    path = q.store.path("deferred", qid)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 20)
    rc, err = run(capsys, "-c", q.dir, "-r", str(qid))
    assert rc == 0 and err.startswith(f"postsuper: warning: {qid}: corrupt queue file in deferred: ")
    assert err.endswith("; moved to queue corrupt\npostsuper: Requeued: 0 messages\n")
    assert q.where(qid) == "corrupt" and maildrop(q) == []


def test_reports_in_postfix_order(q, capsys):
    # Postfix 3.7: postsuper -H X -h Y -d Z -r W (none of them queued)
    ids = [str(QueueId.make(1795600832, n, 99)) for n in range(4)]
    rc, err = run(capsys, "-c", q.dir, "-H", ids[0], "-h", ids[1], "-d", ids[2], "-r", ids[3])
    assert err == ("postsuper: Requeued: 0 messages\npostsuper: Deleted: 0 messages\n"
                   "postsuper: Placed on hold: 0 messages\npostsuper: Released from hold: 0 messages\n")


def test_bad_names(q, capsys):
    assert run(capsys, "-c", q.dir, "-d", "bad/id") == (
        0, "postsuper: warning: invalid mail queue id: bad/id\npostsuper: Deleted: 0 messages\n")
    assert run(capsys, "-c", q.dir, "-d", "nonexist") == (0, "postsuper: Deleted: 0 messages\n")
    assert run(capsys, "-c", q.dir, "-d", "ALL", "foo") == (1, "postsuper: fatal: invalid directory name: foo\n")
    assert run(capsys, "-c", q.dir, "-h", "ALL", "corrupt")[0] == 1


def test_lowercase_all_is_a_queue_id(q, capsys):
    qid = q.add(queue="deferred")
    assert run(capsys, "-c", q.dir, "-d", "all") == (0, "postsuper: Deleted: 0 messages\n")
    assert q.where(qid) == "deferred"


def test_usage(q, capsys):
    rc, err = run(capsys, "-c", q.dir, "-x")
    assert rc == 1 and err == ("postsuper: invalid option -- 'x'\n"
                               f"postsuper: fatal: {postsuper.USAGE}\n")


def test_nothing_to_do_says_nothing(q, capsys):
    assert run(capsys, "-c", q.dir) == (0, "")
    assert run(capsys, "-c", q.dir, "-s", "-p") == (0, "")


def test_structure_check_renames_to_match_inode(q, capsys):
    qid = q.add(queue="deferred")
    old = q.store.path("deferred", qid)
    wrong = QueueId.make(qid.seconds, qid.microseconds, qid.inode + 1)
    os.makedirs(os.path.dirname(q.store.path("hold", wrong)), exist_ok=True)
    shutil.move(old, q.store.path("hold", wrong))
    rc, err = run(capsys, "-c", q.dir, "-s")
    assert rc == 0
    assert err.endswith("postsuper: Renamed to match inode number: 1 message\n"
                        "postsuper: warning: QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS\n")
    assert f"hold/{wrong}: does not match inode number: renamed to {qid}" in err
    assert q.where(qid) == "hold"


def test_purge_temporary_files(q, capsys):
    temp = os.path.join(q.store.queue_dir("incoming"), "123.4.deadbeef")
    fresh = os.path.join(q.store.queue_dir("incoming"), "123.5.deadbeef")
    for path in (temp, fresh):
        open(path, "w").close()
    os.utime(temp, (0, 0))
    assert run(capsys, "-c", q.dir, "-p", "-v") == (0, f"postsuper: {temp}: removed temporary file\n")
    assert not os.path.exists(temp) and os.path.exists(fresh)


@pytest.mark.parametrize("queue", ["active", "incoming", "deferred"])
def test_hold_works_from_each_default_queue(q, capsys, queue):
    qid = q.add(queue=queue)
    assert run(capsys, "-c", q.dir, "-h", str(qid))[1].startswith(f"postsuper: {qid}: placed on hold")
    assert q.where(qid) == "hold"


def test_hold_and_delete_leave_an_open_reader_intact(q, capsys):
    # qmgr may hold an active file open: postsuper only renames or unlinks it
    a, b = q.add(content=b"Subject: a\n\nA\n", queue="active"), q.add(queue="active")
    with q.store.open("active", a) as reader_a, q.store.open("active", b) as reader_b:
        run(capsys, "-c", q.dir, "-h", str(a), "-d", str(b))
        assert b"".join(reader_a.iter_content()) == b"Subject: a\n\nA\n"
        reader_b.verify()
    assert (q.where(a), q.where(b)) == ("hold", None)
