"""postcat: Postfix's framing and section rules, offsets, and clean errors for bad files."""

import io
import os

import pytest

from pfx.cli import postcat
from pfx.queue.records import CHUNK_SIZE

CONTENT = b"Subject: x\nFrom: root <root@ok.test>\n\nhi\n"


def run(capsys, *argv):
    rc = postcat.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def frames(out):
    return [line for line in out.splitlines() if line.startswith("***")]


def test_default_shows_everything_framed(q, capsys):
    qid = q.add(content=CONTENT, queue="deferred")
    label = os.path.relpath(q.store.path("deferred", qid), q.store.root)
    assert label == f"deferred/{qid.hash_dirs(1)[0]}/{qid}"  # as Postfix: deferred/0/ID
    rc, out, err = run(capsys, "-c", q.dir, "-q", str(qid))
    assert (rc, err) == (0, "")
    assert frames(out) == [f"*** {what} {label} ***" for what in
                           ("ENVELOPE RECORDS", "MESSAGE CONTENTS", "HEADER EXTRACTED", "MESSAGE FILE END")]
    lines = out.splitlines()
    assert lines[1].startswith("message_size: ") and len(lines[1].split()) == 6
    assert lines[2] == "message_arrival_time: Wed Nov 25 10:00:32 2026"  # Postfix's asctime form
    assert lines[3:5] == ["sender: root@ok.test", "recipient: a@ok.test"]
    assert out.split(f"MESSAGE CONTENTS {label} ***\n")[1].split("***")[0] == CONTENT.decode()


def test_headers_or_body_alone_are_not_framed(q, capsys):
    qid = q.add(content=CONTENT)
    assert run(capsys, "-c", q.dir, "-hq", str(qid))[1] == "Subject: x\nFrom: root <root@ok.test>\n"
    assert run(capsys, "-c", q.dir, "-bq", str(qid))[1] == "\nhi\n"  # Postfix: body starts at the blank line
    assert run(capsys, "-c", q.dir, "-h", "-b", "-q", str(qid))[1] == CONTENT.decode()


def test_envelope_only_keeps_all_frames(q, capsys):
    qid = q.add(content=CONTENT)
    out = run(capsys, "-c", q.dir, "-eq", str(qid))[1]
    assert len(frames(out)) == 4 and "Subject" not in out and "recipient: a@ok.test" in out
    out = run(capsys, "-c", q.dir, "-ehq", str(qid))[1]
    assert "Subject: x" in out and "\nhi\n" not in out and len(frames(out)) == 4


def test_offsets_point_at_the_bytes(q, capsys):
    body = b"".join(b"line %05d\n" % n for n in range(CHUNK_SIZE // 11 + 100))  # spans records
    qid = q.add(content=b"Subject: big\n\n" + body)
    path = q.store.path("incoming", qid)
    rc, out, _ = run(capsys, "-c", q.dir, "-o", "-q", str(qid))
    data = open(path, "rb").read()
    content_lines = out.split("MESSAGE CONTENTS")[1].split("*** HEADER")[0].splitlines()[1:-1]
    assert len(content_lines) == body.count(b"\n") + 2
    straddling = 0
    for line in content_lines:
        offset, _, text = line.lstrip().partition(" ")
        at = data[int(offset):int(offset) + len(text)]
        assert at[:1] == text.encode()[:1]
        straddling += at != text.encode()  # a line cut by a record header
    assert straddling == 1
    envelope = out.split("*** MESSAGE CONTENTS")[0].splitlines()[1:]
    assert all(line[:9].strip().isdigit() and line[9] == " " for line in envelope)
    assert int(envelope[0].split()[0]) > 0  # the version record is shown only with -v


def test_recipient_details_and_done(q, capsys):
    qid = q.add(rcpts=["a@ok.test", "b@ok.test"], orig="a@orig.test", orcpt="rfc822;a@orig.test",
                notify={"SUCCESS", "FAILURE"}, done=("a@ok.test",))
    out = run(capsys, "-c", q.dir, "-eq", str(qid))[1]
    assert ("named_attribute: dsn_orig_rcpt=rfc822;a@orig.test\ndsn_notify_flags: 6\n"
            "original_recipient: a@orig.test\ndone_recipient: a@ok.test\n") in out


def test_file_path_and_verbose(q, capsys):
    qid = q.add()
    path = q.store.path("incoming", qid)
    rc, out, _ = run(capsys, "-v", path)
    assert rc == 0 and out.startswith(f"*** ENVELOPE RECORDS {path} ***\nqueue_file_version: 1\n")
    assert "message_arrival_time: Wed Nov 25 10:00:32 2026 (1795600832.000000)" in out


def test_stdin(q, capsys, monkeypatch):
    qid = q.add(content=CONTENT)
    data = open(q.store.path("incoming", qid), "rb").read()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    rc, out, _ = run(capsys, "-h")
    assert (rc, out) == (0, "Subject: x\nFrom: root <root@ok.test>\n")


def test_missing_and_bad_names(q, capsys, tmp_path):
    # Postfix 3.7's messages
    assert run(capsys, "-c", q.dir, "-q", "BBBBBB") == (
        1, "", "postcat: fatal: open queue file BBBBBB: No such file or directory\n")
    assert run(capsys, "-c", q.dir, "-q", "a/b") == (1, "", "postcat: fatal: bad mail queue ID: a/b\n")
    assert run(capsys, str(tmp_path / "nonexist")) == (
        1, "", f"postcat: fatal: open {tmp_path}/nonexist: No such file or directory\n")


def test_not_a_queue_file_is_a_warning(q, capsys, tmp_path):
    junk = tmp_path / "junk"
    junk.write_text("root:x:0:0:root:/root:/bin/bash\n")
    qid = q.add()
    rc, out, err = run(capsys, str(junk), q.store.path("incoming", qid))
    assert rc == 0 and err == f"postcat: warning: {junk}: input is not a valid queue file\n"
    assert "recipient: a@ok.test" in out


@pytest.mark.parametrize("cut", [3, 20, 60])
def test_damaged_file_is_a_clean_fatal(q, capsys, tmp_path, cut):
    qid = q.add(content=CONTENT)
    data = open(q.store.path("incoming", qid), "rb").read()
    bad = tmp_path / "bad"
    bad.write_bytes(data[:-cut])
    rc, _, err = run(capsys, str(bad))
    assert rc == 1 and err.startswith(f"postcat: fatal: {bad}: corrupt queue file: ")
    assert "Traceback" not in err


def test_flipped_record_type_is_a_clean_fatal(q, capsys, tmp_path):
    qid = q.add(content=CONTENT)
    data = bytearray(open(q.store.path("incoming", qid), "rb").read())
    data[data.index(b"a@ok.test") - 9] = ord("?")  # the recipient record's type byte
    bad = tmp_path / "bad"
    bad.write_bytes(bytes(data))
    rc, _, err = run(capsys, str(bad))
    assert rc == 1 and "unknown record type" in err


def test_usage(capsys):
    rc, out, err = run(capsys, "-x")
    assert rc == 1 and err == f"postcat: invalid option -- 'x'\npostcat: fatal: {postcat.USAGE}\n"
