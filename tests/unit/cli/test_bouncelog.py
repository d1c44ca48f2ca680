"""pfx.queue.bouncelog: reads Postfix-shaped name=value logs; writes what it reads."""

import pytest

from pfx.queue.bouncelog import encode_entry, parse_entries, read_log

from tests.unit.cli.test_postqueue_cli import POSTFIX_DEFER_LOG


def test_reads_a_postfix_defer_log(tmp_path):
    path = tmp_path / "log"
    path.write_text(POSTFIX_DEFER_LOG)
    entries = read_log(path)
    assert [(e.recipient, e.reason) for e in entries] == [
        ("a@ok.test", "connect to 127.0.0.1[127.0.0.1]:49593: Connection refused"),
        ("b@defer.test", "connect to 127.0.0.1[127.0.0.1]:49594: Connection refused")]
    assert entries[1].get("status") == "4.4.1" and entries[1].get("offset") == "286"


def test_missing_file_is_empty(tmp_path):
    assert read_log(tmp_path / "none") == []


def test_round_trip_and_odd_entries():
    text = encode_entry("a@x", "why = because", status="4.0.0") + "junk line\n\nreason=no recipient\n\n"
    entries = list(parse_entries(text.splitlines(keepends=True)))
    assert [(e.recipient, e.reason, e.get("status")) for e in entries] == [("a@x", "why = because", "4.0.0")]
    assert list(parse_entries(["recipient=b@x"])) [0].reason == ""  # no blank line at the end


def test_refuses_newlines():
    with pytest.raises(ValueError):
        encode_entry("a@x", "two\nlines")
