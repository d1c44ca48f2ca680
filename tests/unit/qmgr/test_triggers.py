"""Trigger bytes and scan restarts (pfx.qmgr.triggers, QM-2)."""

from pfx.qmgr.feed import DEFERRED, INCOMING
from pfx.qmgr.triggers import Actions, Scan, ScanFlags, Triggers, parse


def test_parse_collapses_and_ignores_unknown_bytes():
    assert parse(b"IIIW?") == (ScanFlags.START, ScanFlags(0))
    both = ScanFlags.ALL | ScanFlags.FLUSH_DEAD | ScanFlags.OVERRIDE_DEFER
    assert parse(b"DFA") == (both, both | ScanFlags.START)


def test_new_mail_trigger_starts_an_incoming_scan():
    t = Triggers()
    assert t.receive(b"I") == Actions(False, (INCOMING,))
    assert t.scans[INCOMING].running


def test_postqueue_flush_forgets_dead_and_scans_all_deferred():
    t = Triggers()
    actions = t.receive(b"AFD")
    assert actions == Actions(True, (DEFERRED,))
    deferred = t.scans[DEFERRED]
    assert deferred.scan_all and deferred.override_defer
    # the modifiers wait for the next incoming scan, which only I or W starts
    incoming = t.scans[INCOMING]
    assert not incoming.running
    assert t.receive(b"I").start == (INCOMING,)
    assert incoming.scan_all and incoming.override_defer


def test_request_during_a_scan_reruns_it_once_afterwards():
    scan = Scan(INCOMING)
    assert scan.request(ScanFlags.START)
    assert not scan.request(ScanFlags.START)
    assert not scan.request(ScanFlags.START)
    assert scan.finished()  # one rescan for any number of requests
    assert not scan.finished()
    assert not scan.running


def test_scan_all_also_applies_to_the_scan_under_way():
    scan = Scan(DEFERRED)
    scan.request(ScanFlags.START)
    assert not scan.scan_all
    scan.request(ScanFlags.ALL)
    assert scan.scan_all
    assert not scan.finished()  # ALL alone does not ask for another scan


def test_plain_rescan_drops_old_modifiers():
    scan = Scan(DEFERRED)
    scan.request(ScanFlags.START | ScanFlags.ALL)
    scan.finished()
    scan.request(ScanFlags.START)
    assert scan.running and not scan.scan_all
