"""Queue files on disk: the writer's durability steps, the streaming reader, mark_done."""

import hashlib
import os
import stat
import tracemalloc

import pytest

from pfx.envelope import Envelope, Recipient
from pfx.errors import QueueFileCorrupt
from pfx.queue import qfile
from pfx.queue.qfile import QueueFileReader, QueueFileWriter, mark_done
from pfx.queue.qid import QueueId
from pfx.queue.records import HEADER, MAILDROP, R

ENV = Envelope("s@example.com", [Recipient("a@example.net"), Recipient("b@example.net")])
MESSAGE = b"Subject: test\nFrom: s@example.com\n\nHello.\n"


def write(tmp_path, content=MESSAGE, env=ENV, **kw):
    with QueueFileWriter(tmp_path, env, clock=lambda: 1_700_000_000.25, **kw) as w:
        w.write(content)
        return w.commit()


def test_commit_names_the_file_by_queue_id_ready_and_0700(tmp_path):
    qid = write(tmp_path)
    assert os.listdir(tmp_path) == [str(qid)]
    st = os.stat(tmp_path / str(qid))
    assert stat.S_IMODE(st.st_mode) == 0o700 and qfile.is_ready(st.st_mode)
    assert qid.inode == st.st_ino and qid.created == 1_700_000_000.25


def test_temp_file_is_0600_exclusive_and_not_a_queue_id(tmp_path):
    w = QueueFileWriter(tmp_path, ENV)
    name = os.path.basename(w.temp_path)
    assert qfile.is_temp_name(name)
    assert stat.S_IMODE(os.stat(w.temp_path).st_mode) == 0o600
    assert not qfile.is_ready(os.stat(w.temp_path).st_mode)
    w.abort()
    assert os.listdir(tmp_path) == []


def test_exception_in_with_block_aborts(tmp_path):
    with pytest.raises(RuntimeError):
        with QueueFileWriter(tmp_path, ENV) as w:
            w.write(b"partial")
            raise RuntimeError
    assert os.listdir(tmp_path) == []


def test_fsyncs_file_before_naming_it_and_directory_before_returning(tmp_path, monkeypatch):
    events = []
    real_fsync, real_link, real_fsync_dir = os.fsync, os.link, qfile.fsync_dir
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "link", lambda a, b: (events.append("link"), real_link(a, b))[1])
    monkeypatch.setattr(qfile, "fsync_dir", lambda p: (events.append("fsync_dir"), real_fsync_dir(p))[1])
    write(tmp_path)
    assert events == ["fsync", "link", "fsync_dir", "fsync"]  # the last is fsync_dir's own


def test_failed_directory_fsync_takes_the_message_back(tmp_path, monkeypatch):
    def broken(path):
        raise OSError(5, "EIO")
    monkeypatch.setattr(qfile, "fsync_dir", broken)
    with pytest.raises(OSError):
        write(tmp_path)
    assert os.listdir(tmp_path) == []


def test_reader_gives_envelope_and_streams_content(tmp_path):
    qid = write(tmp_path)
    with QueueFileReader(tmp_path / str(qid)) as r:
        assert r.info.queue_id == qid
        assert r.info.sender == "s@example.com"
        assert r.info.content_size == len(MESSAGE)
        assert b"".join(r.iter_content()) == MESSAGE
        assert b"".join(r.header_chunks()) == b"Subject: test\nFrom: s@example.com\n"
        assert b"".join(r.body_chunks()) == b"\nHello.\n"
        assert b"".join(r.iter_content(3, 10)) == MESSAGE[3:10]
        assert r.open_content().read() == MESSAGE
        r.verify()
        assert [rec.type for rec, _ in r.records(content=False)] == [
            R.VERSION, R.SIZE, R.TIME, R.FROM, R.RCPT, R.RCPT, R.MESG, R.XTRA, R.END]


def test_extracted_recipients_are_read_without_the_content(tmp_path):
    w = QueueFileWriter(tmp_path, Envelope("s@x", []))
    w.write(b"To: x@y\n\n" + b"z" * 300_000)
    qid = w.commit(extracted=[Recipient("x@y")], attributes=[("full_name", "X")])
    with QueueFileReader(tmp_path / str(qid)) as r:
        assert [x.address for x in r.info.recipients] == ["x@y"]
        assert r.info.attributes == (("full_name", "X"),)


def test_mark_done_crosses_off_in_place(tmp_path):
    qid = write(tmp_path)
    path = tmp_path / str(qid)
    before = path.read_bytes()
    with QueueFileReader(path) as r:
        first = r.info.recipients[0]
        r.mark_done([first.offset])
    after = path.read_bytes()
    assert len(after) == len(before)
    assert [i for i in range(len(before)) if before[i] != after[i]] == [first.offset + HEADER.size]
    with QueueFileReader(path) as r:
        assert [x.address for x in r.info.recipients] == ["b@example.net"]
        assert [x.address for x in r.info.done] == ["a@example.net"]
        r.mark_done([first.offset])  # idempotent
        with pytest.raises(QueueFileCorrupt):
            r.mark_done([r.info.sizes.content_offset])  # not a recipient record


@pytest.mark.parametrize("damage", [
    lambda b: b[:-1],  # END cut off
    lambda b: b[:len(b) // 2],  # half-written
    lambda b: b + b"E\x00\x00\x00\x00",  # trailing record
    lambda b: b.replace(b"Hello.", b"Hell\x00\x00\x00"),  # same size: still fine, content is opaque
])
def test_damaged_files(tmp_path, damage):
    qid = write(tmp_path)
    path = tmp_path / str(qid)
    path.write_bytes(damage(path.read_bytes()))
    try:
        with QueueFileReader(path) as r:
            r.verify()
    except QueueFileCorrupt:
        return
    assert b"Hell\x00" in path.read_bytes()


def test_content_length_mismatch_found_by_streaming(tmp_path):
    qid = write(tmp_path, content=b"x" * 100)
    path = tmp_path / str(qid)
    data = bytearray(path.read_bytes())
    with QueueFileReader(path) as r:
        off = r.info.sizes.content_offset
    data[off:off + HEADER.size] = b"N\x00\x00\x00\x50"  # claims 80 bytes, then 20 stray bytes
    path.write_bytes(bytes(data))
    with pytest.raises(QueueFileCorrupt):
        with QueueFileReader(path) as r:
            r.verify()


def test_maildrop_writer_and_reader(tmp_path):
    qid = write(tmp_path, policy=MAILDROP, attributes=[("full_name", "Sam")])
    with QueueFileReader(tmp_path / str(qid), policy=MAILDROP) as r:
        assert r.info.attributes == (("full_name", "Sam"),)


def test_missing_file_is_oserror_not_corrupt(tmp_path):
    with pytest.raises(FileNotFoundError):
        QueueFileReader(tmp_path / "4jZDwy2c1tzJJ3p")


def test_reader_takes_queue_id_only_from_a_valid_name(tmp_path):
    qid = write(tmp_path)
    os.rename(tmp_path / str(qid), tmp_path / "copy")
    with QueueFileReader(tmp_path / "copy") as r:
        assert r.info.queue_id is None
    with QueueFileReader(tmp_path / "copy", queue_id=QueueId(str(qid))) as r:
        assert r.info.queue_id == qid


SIZE_50MB = 50 * 1024 * 1024
PIECE = 256 * 1024


def test_50mb_message_with_bounded_memory(tmp_path):
    pattern = (b"0123456789abcdefghijklmnopqrstuvwxyz" * 8)[:255] + b"\n"
    piece = pattern * (PIECE // len(pattern))
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        with QueueFileWriter(tmp_path, ENV) as w:
            w.write(b"Subject: big\n\n")
            digest.update(b"Subject: big\n\n")
            while w.size + len(piece) <= SIZE_50MB:
                w.write(piece)
                digest.update(piece)
            qid = w.commit()
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        check = hashlib.sha256()
        with QueueFileReader(tmp_path / str(qid)) as r:
            assert r.info.content_size > 49 * 1024 * 1024
            for chunk in r.iter_content():
                check.update(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert check.digest() == digest.digest()
    # A few chunk-sized buffers (64 KiB records, the 256 KiB write buffer), never the body.
    print(f"tracemalloc peaks: write {write_peak}, read {read_peak}")
    assert write_peak < 1_000_000, write_peak
    assert read_peak < 500_000, read_peak


def test_mark_done_fsyncs_once_per_batch(tmp_path, monkeypatch):
    qid = write(tmp_path)
    with QueueFileReader(tmp_path / str(qid)) as r:
        offsets = [x.offset for x in r.info.recipients]
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd))[1])
    mark_done(tmp_path / str(qid), offsets)
    assert len(synced) == 1
    with QueueFileReader(tmp_path / str(qid)) as r:
        assert r.info.recipients == () and len(r.info.done) == 2
