"""cleanup's Submitter: verdicts, fsync before the Deferred, abort, envelope rewriting."""

import errno
import os

import pytest
from zope.interface.verify import verifyObject

from pfx.cleanup.writer import NO_RECIPIENTS, NO_SPACE, TOO_BIG, WRITE_ERROR
from pfx.envelope import Client, Envelope, Recipient
from pfx.errors import SubmitRejected
from pfx.interfaces import IMailSubmitter, IMessageWriter
from pfx.queue.qid import QueueId
from pfx.queue.records import CHUNK_SIZE
from tests.unit.cleanup.cleanup_fakes import SteppedPool, make_submitter, result_of

SMTP = Client(name="client.example", addr="192.0.2.1", helo="client.example",
              protocol="ESMTP")
LOCAL = Client(name="localhost", protocol="local")
MESSAGE = b"From: a@example.test\r\nSubject: hi\r\nBcc: hidden@example.test\r\n\r\nbody\r\n"


def envelope(*rcpts, sender="a@example.test", client=SMTP):
    return Envelope(sender, tuple(Recipient(r) if isinstance(r, str) else r for r in rcpts),
                    client=client)


def files(sub, queue="incoming"):
    return sorted(os.listdir(sub.store.queue_dir(queue)))


def read_back(sub, qid):
    with sub.store.open("incoming", QueueId(qid)) as reader:
        return reader.info, b"".join(reader.iter_content()), reader.info.sizes.body_offset


def rejection(d):
    with pytest.raises(SubmitRejected) as info:
        result_of(d)
    return info.value.reply


def test_queues_a_message_logs_its_message_id_and_kicks_qmgr(tmp_path):
    kicks = []
    sub, log = make_submitter(tmp_path, kick=lambda: kicks.append(1))
    verifyObject(IMailSubmitter, sub)
    w = sub.open_message(envelope("b@example.test"))
    verifyObject(IMessageWriter, w)
    w.write(MESSAGE.replace(b"Subject", b"Message-ID: <m1@example.test>\r\nSubject"))
    qid = result_of(w.commit())
    assert qid == w.queue_id and files(sub) == [qid]
    info, content, body_offset = read_back(sub, qid)
    assert content == (b"From: a@example.test\nMessage-ID: <m1@example.test>\nSubject: hi\n"
                       b"\nbody\n")
    assert content[body_offset:] == b"\nbody\n"
    assert info.envelope.client == SMTP
    assert log.lines == [f"{qid}: message-id=<m1@example.test>"]
    assert kicks == [1]


def test_missing_headers_are_added_for_local_submission_only(tmp_path):
    sub, log = make_submitter(tmp_path)
    w = sub.open_message(envelope("b", sender="bob", client=LOCAL), full_name="Bob Smith")
    w.write(b"Subject: hi\n\nbody\n")
    qid = result_of(w.commit())
    _, content, _ = read_back(sub, qid)
    head = content.split(b"\n\n")[0].decode()
    assert f"Message-Id: <{qid}@mx.example.test>" in head
    assert "From: Bob Smith <bob@example.test>" in head and "\nDate: " in head
    assert log.lines == [f"{qid}: message-id=<{qid}@mx.example.test>"]
    w = sub.open_message(envelope("b@example.test"))
    w.write(b"Subject: hi\n\nbody\n")
    _, content, _ = read_back(sub, result_of(w.commit()))
    assert content == b"Subject: hi\n\nbody\n"
    assert log.lines[-1].endswith(": message-id=<>")


def test_always_add_missing_headers_adds_them_for_remote_mail_too(tmp_path):
    sub, _ = make_submitter(tmp_path, always_add_missing_headers=True)
    w = sub.open_message(envelope("b@example.test"))
    w.write(b"Subject: hi\n\nbody\n")
    _, content, _ = read_back(sub, result_of(w.commit()))
    assert b"\nMessage-Id: <" in content and b"\nFrom: a@example.test\n" in content


def test_unqualified_addresses_get_myorigin_and_remember_the_original(tmp_path):
    sub, _ = make_submitter(tmp_path)
    w = sub.open_message(envelope("bob", "carol@else.test", "site!dave", "eve%else.test",
                                  sender="alice"))
    w.write(MESSAGE)
    info, _, _ = read_back(sub, result_of(w.commit()))
    assert info.sender == "alice@example.test"
    assert [(r.address, r.orig) for r in info.recipients] == [
        ("bob@example.test", "bob"), ("carol@else.test", None), ("dave@site", "site!dave"),
        ("eve@else.test", "eve%else.test")]


def test_null_sender_stays_null_and_append_at_myorigin_no_leaves_addresses(tmp_path):
    sub, _ = make_submitter(tmp_path, append_at_myorigin=False)
    w = sub.open_message(envelope("bob", sender=""))
    w.write(MESSAGE)
    info, _, _ = read_back(sub, result_of(w.commit()))
    assert info.sender == "" and info.recipients[0].address == "bob"


def test_duplicate_recipients_are_folded_but_not_across_dsn_settings(tmp_path):
    sub, _ = make_submitter(tmp_path)
    rcpts = ["b@example.test", "B@Example.Test", "b", "c@example.test",
             Recipient("b@example.test", notify={"NEVER"}), "c@example.test"]
    w = sub.open_message(envelope(*rcpts))
    w.write(MESSAGE)
    info, _, _ = read_back(sub, result_of(w.commit()))
    # "b" became b@example.test but keeps its original recipient "b": cleanup's
    # duplicate key includes it (cleanup_out_recipient), so it is a separate request.
    assert [(r.address, r.orig, r.notify) for r in info.recipients] == [
        ("b@example.test", None, frozenset()), ("b@example.test", "b", frozenset()),
        ("c@example.test", None, frozenset()),
        ("b@example.test", None, frozenset({"NEVER"}))]


def test_duplicate_filter_limit_bounds_the_memory_not_the_delivery(tmp_path):
    sub, _ = make_submitter(tmp_path, duplicate_filter_limit=1)
    w = sub.open_message(envelope("a@x.test", "b@x.test", "b@x.test", "a@x.test"))
    w.write(MESSAGE)
    info, _, _ = read_back(sub, result_of(w.commit()))
    assert [r.address for r in info.recipients] == ["a@x.test", "b@x.test", "b@x.test"]


def test_message_size_limit_gives_552_and_leaves_nothing(tmp_path):
    sub, _ = make_submitter(tmp_path, message_size_limit=100)
    w = sub.open_message(envelope("b@example.test"))
    w.write(b"Subject: big\n\n" + b"x" * 80 + b"\n")
    w.write(b"y" * 30)
    assert rejection(w.commit()) == TOO_BIG
    assert str(TOO_BIG) == "552 5.3.4 Message size exceeds fixed limit"
    assert files(sub) == []


def test_too_many_hops_gives_554(tmp_path):
    sub, log = make_submitter(tmp_path, hopcount_limit=3)
    w = sub.open_message(envelope("b@example.test"))
    w.write(b"Received: from x\n" * 4 + b"\nbody\n")
    assert str(rejection(w.commit())) == "554 5.4.0 Error: too many hops"
    assert files(sub) == []


def test_queue_minfree_gives_452(tmp_path):
    sub, _ = make_submitter(tmp_path, queue_minfree=1 << 62)
    w = sub.open_message(envelope("b@example.test"))
    w.write(MESSAGE)
    reply = rejection(w.commit())
    assert reply == NO_SPACE and str(reply) == "452 4.3.1 Insufficient system storage"
    assert files(sub) == []


def test_disk_full_during_writes_gives_452_and_other_errors_451(tmp_path, monkeypatch):
    for err, want in ((errno.ENOSPC, NO_SPACE), (errno.EIO, WRITE_ERROR)):
        sub, log = make_submitter(tmp_path / str(err))
        w = sub.open_message(envelope("b@example.test"))

        def fail(data, err=err):
            raise OSError(err, os.strerror(err))
        monkeypatch.setattr(w._qfile, "write", fail)
        w.write(b"Subject: x\n\n" + b"z" * (2 * CHUNK_SIZE))
        assert rejection(w.commit()) == want
        assert files(sub) == []
        assert f"warning: {w.queue_id}: queue file write error: " in log.text()


def test_no_recipients_is_refused(tmp_path):
    sub, _ = make_submitter(tmp_path)
    w = sub.open_message(envelope())
    w.write(MESSAGE)
    assert rejection(w.commit()) == NO_RECIPIENTS


def test_cannot_create_the_file_gives_a_writer_that_refuses(tmp_path):
    sub, log = make_submitter(tmp_path)
    os.rmdir(sub.store.queue_dir("incoming"))
    w = sub.open_message(envelope("b@example.test"))
    assert w.queue_id == "NOQUEUE"
    w.write(MESSAGE)
    assert rejection(w.commit()).code == 451
    assert "NOQUEUE: create file in incoming" in log.text()


def test_abort_leaves_nothing(tmp_path):
    sub, _ = make_submitter(tmp_path)
    w = sub.open_message(envelope("b@example.test"))
    w.write(MESSAGE + b"x" * (3 * CHUNK_SIZE))
    assert files(sub) != []
    result_of(w.abort())
    assert files(sub) == []
    with pytest.raises(ValueError):
        w.commit()


def test_commit_fires_only_after_file_and_directory_fsync(tmp_path, monkeypatch):
    events = []
    real_fsync = os.fsync

    def fsync(fd):
        events.append("fsync")
        real_fsync(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    pool = SteppedPool()
    sub, _ = make_submitter(tmp_path, pool=pool)
    w = sub.open_message(envelope("b@example.test"))
    w.write(MESSAGE + b"x" * CHUNK_SIZE)  # one chunk goes to the pool
    d = w.commit()
    d.addCallback(lambda qid: events.append(("fired", qid)))
    assert events == [] and len(pool.pending) == 1
    # nothing but creating the file happened outside run_blocking
    assert os.path.getsize(w._qfile.temp_path) == 0
    pool.run_all()
    assert events == ["fsync", "fsync", ("fired", w.queue_id)]
    assert files(sub) == [w.queue_id]


def test_write_deferreds_pace_the_caller_one_chunk_at_a_time(tmp_path):
    pool = SteppedPool()
    sub, _ = make_submitter(tmp_path, pool=pool)
    w = sub.open_message(envelope("b@example.test"))
    assert result_of(w.write(b"Subject: x\n\n")) is None  # buffered: at once
    d1 = w.write(b"a" * CHUNK_SIZE)
    d2 = w.write(b"b" * CHUNK_SIZE)
    fired = []
    d1.addCallback(lambda _: fired.append(1))
    d2.addCallback(lambda _: fired.append(2))
    assert fired == []
    pool.run_one()
    assert fired == [1]
    pool.run_one()
    assert fired == [1, 2]
    d = w.commit()
    pool.run_all()
    _, content, _ = read_back(sub, result_of(d))
    assert content == b"Subject: x\n\n" + b"a" * CHUNK_SIZE + b"b" * CHUNK_SIZE


def test_chunking_does_not_change_the_file(tmp_path):
    message = (b"Received: from a\r\n\tby b\r\nSubject: s\r\n" + b"X-Long: " + b"y" * 70000
               + b"\r\n\r\n" + b"line\r\n" * 30000)
    outs = []
    for i, size in enumerate((1, 7, 4096, CHUNK_SIZE, len(message))):
        sub, _ = make_submitter(tmp_path / str(i))
        w = sub.open_message(envelope("b@example.test"))
        step = max(size, 5000) if size == 1 else size  # byte at a time only for the headers
        pieces = [message[:200]] if size == 1 else []
        pos = 200 if size == 1 else 0
        for p in pieces:
            for b in range(len(p)):
                w.write(p[b:b + 1])
        while pos < len(message):
            w.write(message[pos:pos + step])
            pos += step
        outs.append(read_back(sub, result_of(w.commit()))[1:])
    assert all(o == outs[0] for o in outs)
    assert outs[0][0][outs[0][1]:].startswith(b"\nline\n")


def test_header_block_ended_by_a_non_header_line_marks_the_body_there(tmp_path):
    sub, _ = make_submitter(tmp_path)
    w = sub.open_message(envelope("b@example.test"))
    w.write(b"Subject: x\nthis is body\n\nmore\n")
    _, content, body_offset = read_back(sub, result_of(w.commit()))
    assert content[body_offset:] == b"this is body\n\nmore\n"


def test_header_address_token_limit_discards_the_excess():
    from pfx.cleanup.header_rewrite import within_token_limit
    value = "a@x.test, b@x.test, c@x.test"  # 17 tokens: a @ x . test , b @ ...
    assert within_token_limit(value, 17) == value
    assert within_token_limit(value, 12) == "a@x.test, b@x.test"
    assert within_token_limit(value, 5) == "a@x.test"
