"""Dead destinations and transports expire on the clock and on F (pfx.qmgr.deadcache)."""

import pytest
from twisted.internet.task import Clock

from pfx.dsn import Dsn
from pfx.qmgr.deadcache import DeadCache


def test_destination_dies_with_suspended_reason_and_revives_after_its_delay():
    clock = Clock()
    dead = DeadCache(clock, destination_retry=300, transport_retry=60)
    gone = dead.kill_destination("smtp", "example.com", Dsn("4.4.1"),
                                 "connect to example.com[192.0.2.1]:25: Connection refused")
    assert gone.text == ("delivery temporarily suspended: connect to "
                         "example.com[192.0.2.1]:25: Connection refused")
    assert dead.destination("smtp", "example.com") == gone
    assert dead.destination("smtp", "other.example") is None
    assert dead.destination("lmtp", "example.com") is None
    assert dead.next_expiry() == 300
    clock.advance(299)
    assert dead.destination("smtp", "example.com") is not None
    clock.advance(1)
    assert dead.destination("smtp", "example.com") is None
    assert len(dead) == 0


def test_transport_dies_for_transport_retry_time():
    clock = Clock()
    dead = DeadCache(clock, transport_retry=60)
    gone = dead.kill_transport("lmtp")
    assert (gone.dsn, gone.text) == (Dsn("4.3.0"), "mail transport unavailable")
    clock.advance(59)
    assert dead.transport("lmtp") is gone
    clock.advance(1)
    assert dead.transport("lmtp") is None


def test_flush_forgets_everything_and_revive_is_per_entry():
    dead = DeadCache(Clock())
    dead.kill_destination("smtp", "a.example", Dsn("4.4.1"), "down")
    dead.kill_destination("smtp", "b.example", Dsn("4.4.1"), "down")
    dead.kill_transport("pipe")
    assert dead.revive_destination("smtp", "a.example")
    assert not dead.revive_destination("smtp", "a.example")
    assert dead.flush() == 2
    assert dead.destination("smtp", "b.example") is None
    assert dead.transport("pipe") is None


def test_size_is_bounded_oldest_forgotten_first():
    dead = DeadCache(Clock(), limit=2)
    for name in ("a", "b", "c"):
        dead.kill_destination("smtp", name, Dsn("4.4.1"), "down")
    assert dead.destination("smtp", "a") is None
    assert dead.destination("smtp", "c") is not None


def test_permanent_status_cannot_kill_a_destination():
    with pytest.raises(ValueError):
        DeadCache(Clock()).kill_destination("smtp", "a", Dsn("5.1.1"), "no")
