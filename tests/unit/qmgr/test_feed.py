"""Incoming and deferred take turns into the active queue (pfx.qmgr.feed, QM-1)."""

from pfx.qmgr.feed import DEFERRED, INCOMING, Feed

from qmgr_sim import make_scheduler, smtp_rcpts


def test_incoming_and_deferred_alternate():
    feed = Feed()
    for i in range(3):
        feed.offer(INCOMING, f"I{i}")
    for i in range(5):
        feed.offer(DEFERRED, f"D{i}")
    taken = []
    while (item := feed.take()) is not None:
        taken.append(item[1])
    assert taken == ["I0", "D0", "I1", "D1", "I2", "D2", "D3", "D4"]


def test_a_lone_queue_is_not_held_back_and_the_turn_survives():
    feed = Feed()
    feed.offer(DEFERRED, "D0")
    assert feed.take() == (DEFERRED, "D0")
    feed.offer(DEFERRED, "D1")
    feed.offer(INCOMING, "I0")
    assert feed.take() == (INCOMING, "I0")  # incoming's turn was not used up
    assert feed.take() == (DEFERRED, "D1")


def test_rescans_do_not_duplicate_and_discard_forgets():
    feed = Feed()
    assert feed.offer(INCOMING, "A")
    assert not feed.offer(INCOMING, "A")
    feed.offer(DEFERRED, "B")
    feed.discard("A")
    assert feed.take() == (DEFERRED, "B")
    assert feed.take() is None
    assert feed.offer(INCOMING, "A")  # known again once taken or discarded


def test_cap_bounds_memory_for_a_big_deferred_queue():
    feed = Feed(cap=100)
    offered = 0
    while feed.room(DEFERRED):
        feed.offer(DEFERRED, f"D{offered}")
        offered += 1
    assert offered == 100 and feed.pending(DEFERRED) == 100


def test_new_mail_is_not_starved_by_a_deferred_backlog():
    s, _ = make_scheduler(active_limit=10)
    feed = Feed()
    for i in range(1000):
        feed.offer(DEFERRED, f"D{i}")
    for i in range(5):
        feed.offer(INCOMING, f"I{i}")
    while (item := feed.take(s.has_room())) is not None:
        s.add_message(item[1], 0, smtp_rcpts("example.com", 1))
    assert s.message_count == 10
    assert sorted(m for m in s._messages if m.startswith("I")) == [f"I{i}" for i in range(5)]
    assert feed.take(s.has_room()) is None  # full: nothing more until a message leaves


def test_waiting_names_are_what_a_rescan_may_skip():
    feed = Feed()
    feed.offer(INCOMING, "A")
    feed.offer(INCOMING, "B")
    feed.offer(DEFERRED, "C")
    feed.take()
    assert feed.waiting_names(INCOMING) == {"B"}
    assert feed.waiting_names(DEFERRED) == {"C"}
    feed.discard("B")
    assert feed.waiting_names(INCOMING) == set()
