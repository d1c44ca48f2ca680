"""The per-message status logs: round trips, Postfix's attribute names, damage tolerance."""

import os

from pfx.bounce import log as statuslog
from pfx.dsn import Dsn
from pfx.envelope import Recipient, RecipientStatus


def status(address="u@example.com", **kw):
    rcpt = Recipient(address, orig=kw.pop("orig", "o@example.com"),
                     orcpt=kw.pop("orcpt", "rfc822;o@example.com"),
                     notify=kw.pop("notify", ("FAILURE", "DELAY")), offset=kw.pop("offset", 1234))
    args = dict(action="bounced", dsn=Dsn("5.1.1"), text="host mx[192.0.2.1] said: 550 nope",
                relay="mx.example.com[192.0.2.1]:25", remote_reply="550 5.1.1 nope")
    args.update(kw)
    return RecipientStatus(rcpt, **args)


def test_round_trip_keeps_every_field(tmp_path):
    path = str(tmp_path / "bounce" / "QID")
    first, second = status(), status("v@example.com", action="deferred", dsn=Dsn("4.4.1"),
                                     text="connect timed out", relay="none", remote_reply=None,
                                     notify=(), orig=None, orcpt=None, offset=None)
    statuslog.append(path, first, 1700000000.5)
    statuslog.append(path, second, 1700000001)
    records, warnings = statuslog.read(path)
    assert warnings == []
    assert [r.status for r in records] == [first, second]
    assert records[0].action == "failed" and records[1].action == "delayed"
    assert (records[0].mta_type, records[0].mta_name, records[0].diag_type) == \
        ("dns", "mx.example.com", "smtp")
    assert records[0].time == 1700000000
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_file_uses_postfix_attribute_names_in_order(tmp_path):
    path = str(tmp_path / "QID")
    statuslog.append(path, status(), 5)
    text = open(path).read()
    names = [line.split("=", 1)[0] for line in text.splitlines() if line]
    assert names == list(statuslog.ATTRIBUTES)
    assert "recipient=u@example.com\n" in text
    assert "reason=host mx[192.0.2.1] said: 550 nope\n" in text
    assert "dsn_notify=12\n" in text  # FAILURE|DELAY, Postfix's mask
    assert text.endswith("\n\n")


def test_newlines_in_values_cannot_forge_attributes(tmp_path):
    path = str(tmp_path / "QID")
    statuslog.append(path, status(text="bad\nrecipient=evil@x\n\nstatus=2.0.0",
                                  remote_reply="550 a\r\n550 b"), 5)
    records, warnings = statuslog.read(path)
    assert warnings == [] and len(records) == 1
    assert records[0].status.recipient.address == "u@example.com"
    assert records[0].status.text == "bad recipient=evil@x  status=2.0.0"
    assert records[0].status.remote_reply == "550 a 550 b"


def test_damaged_and_torn_records_are_skipped_with_a_warning(tmp_path):
    path = str(tmp_path / "QID")
    statuslog.append(path, status("a@x"), 1)
    with open(path, "ab") as f:
        f.write(b"recipient=b@x\nstatus=9.9.9\n\n")  # bad status code
        # prose lines (Postfix writes "<rcpt>: text" into its logs) are not data
        f.write(b"this line has no equals sign\nrecipient=c@x\nstatus=5.0.0\n\n")
        f.write(b"status=5.0.0\n\n")  # no recipient
        f.write(b"\xff\xfegarbage=\x00\n\n")
    statuslog.append(path, status("d@x"), 2)
    with open(path, "ab") as f:
        f.write(b"recipient=e@x\nstatus=5.0")  # a crash mid-append
    records, warnings = statuslog.read(path)
    assert [r.status.recipient.address for r in records] == ["a@x", "c@x", "d@x"]
    assert len(warnings) == 3  # bad status, no recipient, torn; the garbage line is prose
    assert "incomplete" in warnings[-1]


def test_unknown_attributes_are_ignored_and_action_is_kept(tmp_path):
    records, warnings = statuslog.parse([b"recipient=a@x\n", b"status=2.0.0\n",
                                         b"action=expanded\n", b"future_thing=1\n", b"\n"])
    assert warnings == [] and records[0].action == "expanded"
    assert records[0].status.action == "sent"


def test_missing_log_reads_empty_and_remove_is_idempotent(tmp_path):
    path = str(tmp_path / "QID")
    assert statuslog.read(path) == ([], [])
    statuslog.append(path, status(), 1)
    assert statuslog.remove(path) is True
    assert statuslog.remove(path) is False


def test_append_creates_a_missing_hash_directory(tmp_path):
    path = str(tmp_path / "defer" / "A" / "QID")
    statuslog.append(path, status(), 1)
    assert len(statuslog.read(path)[0]) == 1
