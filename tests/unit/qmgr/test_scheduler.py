"""Batching, windows, limits and round robin of the active queue (pfx.qmgr.scheduler)."""

import pytest

from pfx.dsn import Dsn
from pfx.errors import Panic
from pfx.qmgr.policy import SchedulerConfig, TransportPolicy
from pfx.qmgr.values import Outcome, Routed

from qmgr_sim import LOCAL, SMTP, Driver, always_ok, make_scheduler, smtp_rcpts


def test_120_recipients_at_one_domain_make_three_deliveries_50_50_20():
    s, _ = make_scheduler()
    s.add_message("M1", 0, smtp_rcpts("example.com", 120))
    batches = s.deliveries()
    assert [len(d.recipients) for d in batches] == [50, 50, 20]
    assert {(d.transport, d.nexthop, d.destination, d.message_id) for d in batches} == {
        ("smtp", "example.com", "example.com", "M1")}
    assert batches[0].recipients[0] == "u0@example.com"


def test_recipients_of_different_messages_are_never_batched_together():
    s, _ = make_scheduler()
    s.add_message("M1", 0, smtp_rcpts("example.com", 3))
    s.add_message("M2", 0, smtp_rcpts("example.com", 3))
    assert [(d.message_id, len(d.recipients)) for d in s.deliveries()] == [("M1", 3), ("M2", 3)]


def test_nexthop_case_does_not_split_a_destination():
    s, _ = make_scheduler()
    s.add_message("M1", 0, smtp_rcpts("Example.COM", 2) + smtp_rcpts("example.com", 2, 2))
    assert [len(d.recipients) for d in s.deliveries()] == [4]


def test_local_gives_each_mailbox_its_own_queue_and_one_recipient_per_delivery():
    s, _ = make_scheduler(recipient_delimiter="+")
    rcpts = [Routed("local", "host", a, a)
             for a in ("alice@host", "Alice+x@host", "alice+y@host", "bob@host")]
    s.add_message("M1", 0, rcpts)
    started = s.deliveries()
    assert all(len(d.recipients) == 1 for d in started)
    # local_destination_concurrency_limit = 2 per mailbox: alice's third waits
    assert [d.destination for d in started] == ["alice@host", "bob@host", "alice@host"]
    assert s.window("local", "alice@host") == 2


def test_new_destination_starts_with_initial_concurrency():
    s, _ = make_scheduler()
    for i in range(10):
        s.add_message(f"M{i}", 0, smtp_rcpts("example.com", 1))
    assert len(s.deliveries()) == 5
    assert s.next_delivery() is None


def test_window_ramps_up_to_the_limit_then_down_on_failures():
    policy = TransportPolicy("smtp", failed_cohort_limit=0)  # never dead: watch the window
    s, _ = make_scheduler(transports=(policy,))
    for i in range(200):
        s.add_message(f"M{i}", 0, smtp_rcpts("example.com", 1))
    running, in_flight = [], []
    for _ in range(40):
        running += s.deliveries()
        in_flight.append(len(running))
        s.delivery_done(running.pop(0), Outcome.ok())  # one good delivery at a time
    # constant feedback 1: +1 per good delivery (doubling per pseudo-cohort), capped
    assert in_flight[:4] == [5, 6, 7, 8]
    assert max(in_flight) == 20 and s.window("smtp", "example.com") == 20
    fail = Outcome.site_failed("4.4.1", "connect to example.com[192.0.2.1]:25: refused")
    for _ in range(5):
        s.delivery_done(running.pop(0), fail)
    # the first failure after growth takes two (qmgr's half-step rounding), then one each
    assert s.window("smtp", "example.com") == 14
    assert len(s.deliveries()) == 14 - len(running)


def test_process_limit_caps_a_transport_across_destinations():
    s, _ = make_scheduler(transports=(TransportPolicy("smtp", process_limit=3),))
    for i in range(10):
        s.add_message(f"M{i}", 0, smtp_rcpts(f"d{i}.example", 1))
    running = s.deliveries()
    assert len(running) == 3
    s.delivery_done(running[0], Outcome.ok())
    assert len(s.deliveries()) == 1


def test_round_robin_between_destinations_of_a_transport():
    s, _ = make_scheduler()
    for i in range(6):
        s.add_message(f"A{i}", 0, smtp_rcpts("a.example", 1))
    for i in range(2):
        s.add_message(f"B{i}", 0, smtp_rcpts("b.example", 1))
    order = [d.destination for d in s.deliveries()]
    assert order[:4] == ["a.example", "b.example", "a.example", "b.example"]
    assert order.count("a.example") == 5  # its window


def test_round_robin_between_transports():
    s, _ = make_scheduler()
    for i in range(3):
        s.add_message(f"S{i}", 0, smtp_rcpts(f"d{i}.example", 1))
        s.add_message(f"L{i}", 0, [Routed("local", "host", f"u{i}@host", i)])
    assert [d.transport for d in s.deliveries()] == ["smtp", "local"] * 3


def test_unknown_transport_gets_default_policy():
    s, _ = make_scheduler()
    s.add_message("M1", 0, smtp_rcpts("example.com", 60, transport="custom"))
    assert [len(d.recipients) for d in s.deliveries()] == [50, 10]


def test_active_queue_bounds_and_recipient_budget():
    s, _ = make_scheduler(active_limit=2, recipient_limit=100, recipient_minimum=10)
    assert s.has_room() and s.recipient_budget() == 100
    s.add_message("M1", 0, smtp_rcpts("example.com", 95))
    assert s.recipient_count == 95 and s.recipient_budget() == 10  # the minimum
    assert s.room(16) == 1 and s.room(0) == 0
    s.add_message("M2", 0, smtp_rcpts("example.com", 1))
    assert not s.has_room() and s.room(16) == 0


def test_room_stops_at_the_recipient_limit():
    s, _ = make_scheduler(active_limit=10, recipient_limit=100, recipient_minimum=10)
    assert s.room(4) == 4 and s.room(16) == 10
    s.add_message("M1", 0, smtp_rcpts("example.com", 100))
    assert s.room(16) == 0


def test_completion_and_refill_reports():
    s, _ = make_scheduler()
    p = s.add_message("M1", 0, smtp_rcpts("example.com", 2), more=True)
    assert p.completed == () and p.refill == ()
    (d,) = s.deliveries()
    p = s.delivery_done(d, Outcome.ok())
    assert p.refill == ("M1",) and p.completed == ()
    s.add_recipients("M1", smtp_rcpts("example.com", 1, 2))
    (d,) = s.deliveries()
    assert d.recipients == ("u2@example.com",)
    assert s.delivery_done(d, Outcome.ok()).completed == ("M1",)
    s.message_finished("M1")
    assert s.message_count == 0 and s.recipient_count == 0


def test_message_finished_with_work_in_flight_or_twice_is_a_panic():
    s, _ = make_scheduler()
    s.add_message("M1", 0, smtp_rcpts("example.com", 1))
    (d,) = s.deliveries()
    with pytest.raises(Panic):
        s.message_finished("M1")
    s.delivery_done(d, Outcome.ok())
    with pytest.raises(Panic):
        s.delivery_done(d, Outcome.ok())
    s.message_finished("M1")
    with pytest.raises(Panic):
        s.message_finished("M1")
    assert s.add_message("M2", 0, []).completed == ("M2",)
    with pytest.raises(Panic):
        s.add_message("M2", 0, [])


def test_abandoned_message_releases_its_waiting_recipients():
    s, _ = make_scheduler()
    s.add_message("M1", 0, smtp_rcpts("example.com", 10))
    s.message_finished("M1")
    assert s.recipient_count == 0 and s.next_delivery() is None


def test_defer_transports_hold_mail_unless_flushed():
    s, _ = make_scheduler(defer_transports={"smtp"})
    p = s.add_message("M1", 0, smtp_rcpts("example.com", 2))
    assert [(d.dsn, d.text) for d in p.deferred] == [(Dsn("4.3.2"), "deferred transport")] * 2
    assert p.completed == ("M1",)
    s.message_finished("M1")
    s.add_message("M2", 0, smtp_rcpts("example.com", 2), flush=True)
    assert len(s.deliveries()) == 1


def test_small_message_is_not_stuck_behind_a_huge_one():
    policy = TransportPolicy("smtp", concurrency_limit=1, initial_concurrency=1)
    s, clock = make_scheduler(transports=(policy,))
    s.add_message("BIG", 0, smtp_rcpts("example.com", 10000))  # 200 deliveries
    s.add_message("SMALL", 0, smtp_rcpts("example.com", 3))
    driver = Driver(s, clock, always_ok())
    driver.run()
    # slot cost 5: after 5 deliveries of BIG, SMALL (one delivery) may cut in
    assert driver.completed["SMALL"] <= 6
    assert driver.completed["BIG"] == 201


def test_preemption_off_keeps_strict_order():
    policy = TransportPolicy("smtp", concurrency_limit=1, initial_concurrency=1, slot_cost=0)
    s, clock = make_scheduler(transports=(policy,))
    s.add_message("BIG", 0, smtp_rcpts("example.com", 500))
    s.add_message("SMALL", 0, smtp_rcpts("example.com", 1))
    driver = Driver(s, clock, always_ok())
    driver.run()
    assert driver.completed == {"BIG": 10, "SMALL": 11}


def test_same_inputs_give_same_deliveries():
    def run():
        s, clock = make_scheduler()
        for i in range(50):
            s.add_message(f"M{i}", 0, smtp_rcpts(f"d{i % 7}.example", 1 + i % 60))
        driver = Driver(s, clock, lambda d: (1 + len(d.recipients) % 3, Outcome.ok()))
        driver.run()
        return [(t, d.destination, d.message_id, d.recipients) for t, d in driver.started]
    assert run() == run()


def test_config_from_settings_reads_transport_specific_names():
    values = {"qmgr_message_active_limit": 100, "qmgr_message_recipient_limit": 1000,
              "qmgr_message_recipient_minimum": 10, "defer_transports": [],
              "minimal_backoff_time": 600, "transport_retry_time": 30,
              "recipient_delimiter": "+"}
    for t, limit, rcpt in (("smtp", 20, 50), ("local", 2, 1)):
        values.update({
            f"{t}_initial_destination_concurrency": 5,
            f"{t}_destination_concurrency_limit": limit,
            f"{t}_destination_concurrency_positive_feedback": "1",
            f"{t}_destination_concurrency_negative_feedback": "1/concurrency",
            f"{t}_destination_concurrency_failed_cohort_limit": 1,
            f"{t}_destination_recipient_limit": rcpt,
            f"{t}_delivery_slot_cost": 5, f"{t}_minimum_delivery_slots": 3,
            f"{t}_destination_rate_delay": 0, f"{t}_transport_rate_delay": 0})
    cfg = SchedulerConfig.from_settings(values.get, {"smtp": 100, "local": 0})
    assert cfg.policy("local").recipient_limit == 1
    assert cfg.policy("local").process_limit == 0
    assert cfg.policy("smtp").negative_feedback.per_concurrency
    assert cfg.recipient_delimiter == "+"
    assert (cfg.dead_destination_time, cfg.transport_retry_time) == (600, 30)
    assert cfg.policy("other") == TransportPolicy("other")
    assert (SMTP.name, LOCAL.name) == ("smtp", "local")


def test_destination_rate_delay_spaces_deliveries_and_sets_a_wakeup():
    policy = TransportPolicy("smtp", destination_rate_delay=20)
    s, clock = make_scheduler(transports=(policy,))
    for i in range(3):
        s.add_message(f"A{i}", 0, smtp_rcpts("a.example", 1))
    s.add_message("B0", 0, smtp_rcpts("b.example", 1))
    first = s.deliveries()
    assert [d.destination for d in first] == ["a.example", "b.example"]  # one each
    clock.advance(1)
    s.delivery_done(first[0], Outcome.ok())
    assert s.next_delivery() is None
    assert s.next_wakeup() == 21
    clock.advance(19)
    assert s.next_delivery() is None
    clock.advance(1)
    assert s.next_delivery().destination == "a.example"


def test_destination_rate_delay_holds_even_when_the_queue_ran_empty():
    policy = TransportPolicy("smtp", destination_rate_delay=20)
    s, clock = make_scheduler(transports=(policy,))
    s.add_message("A0", 0, smtp_rcpts("a.example", 1))
    (d,) = s.deliveries()
    s.delivery_done(d, Outcome.ok())
    s.message_finished("A0")
    s.add_message("A1", 0, smtp_rcpts("a.example", 1))
    assert s.next_delivery() is None
    clock.advance(20)
    assert s.next_delivery().message_id == "A1"


def test_transport_rate_delay_spaces_all_deliveries_of_a_transport():
    policy = TransportPolicy("smtp", transport_rate_delay=20)
    s, clock = make_scheduler(transports=(policy,))
    for i in range(3):
        s.add_message(f"M{i}", 0, smtp_rcpts(f"d{i}.example", 1))
    started = []
    for _ in range(100):  # one-second steps; each delivery takes one second
        for d in s.deliveries():
            started.append(clock.seconds())
            clock.callLater(1, s.delivery_done, d, Outcome.ok())
        clock.advance(1)
    assert started == [0, 21, 42]
