"""Dead destinations and transports inside the scheduler, the F trigger, and the
1,000-destination run with one black hole (pfx.qmgr.scheduler + deadcache)."""

from pfx.dsn import Dsn
from pfx.qmgr.policy import TransportPolicy
from pfx.qmgr.values import Outcome, Routed

from qmgr_sim import Driver, make_scheduler, smtp_rcpts

REFUSED = "connect to dead.example[192.0.2.9]:25: Connection refused"
SUSPENDED = "delivery temporarily suspended: " + REFUSED


def fill(s, domain, messages, prefix="M"):
    for i in range(messages):
        s.add_message(f"{prefix}{i}", 0, smtp_rcpts(domain, 1))


def test_failed_pseudo_cohort_kills_destination_and_defers_the_rest_at_once():
    s, _ = make_scheduler()
    fill(s, "dead.example", 20)
    running = s.deliveries()
    assert len(running) == 5
    fail = Outcome.site_failed("4.4.1", REFUSED)
    progress = [s.delivery_done(d, fail) for d in running[:3]]
    # windows 5, 3, 2: 1/5 + 1/3 + 1/2 >= one pseudo-cohort
    assert [len(p.deferred) for p in progress] == [0, 0, 15]
    assert {(d.dsn, d.text) for d in progress[2].deferred} == {(Dsn("4.4.1"), SUSPENDED)}
    # the failed delivery's own message is done too: the caller logs its own status
    assert len(progress[2].completed) == 16 and "M2" in progress[2].completed
    # the other two still in flight fail too; the destination is already dead
    assert [s.delivery_done(d, fail).deferred for d in running[3:]] == [(), ()]
    assert s.next_delivery() is None
    # new mail for it is deferred without an attempt, other destinations are untouched
    p = s.add_message("N1", 0, smtp_rcpts("dead.example", 1) + smtp_rcpts("ok.example", 1))
    assert [d.text for d in p.deferred] == [SUSPENDED]
    assert [d.destination for d in s.deliveries()] == ["ok.example"]


def test_dead_destination_revives_after_its_delay():
    s, clock = make_scheduler()
    fill(s, "dead.example", 4)
    fail = Outcome.site_failed("4.4.1", REFUSED)
    for d in s.deliveries():
        s.delivery_done(d, fail)
    clock.advance(299)
    assert s.add_message("N1", 0, smtp_rcpts("dead.example", 1)).deferred
    clock.advance(1)
    assert not s.add_message("N2", 0, smtp_rcpts("dead.example", 1)).deferred
    assert len(s.deliveries()) == 1


def test_f_trigger_forgets_dead_destinations_and_window_restarts():
    s, _ = make_scheduler()
    fill(s, "dead.example", 6)
    fail = Outcome.site_failed("4.4.1", REFUSED)
    running = s.deliveries()
    for d in running[:3]:
        s.delivery_done(d, fail)
    assert s.flush_dead() == 1
    fill(s, "dead.example", 10, prefix="N")
    # two deliveries are still out, so the window restarts at 2 (qmgr_queue_unthrottle)
    assert len(s.deliveries()) == 0
    s.delivery_done(running[3], Outcome.ok())
    assert len(s.deliveries()) == 2  # window 2 + 1 for the good delivery, one busy


def test_probe_in_flight_that_succeeds_revives_the_destination():
    s, _ = make_scheduler()
    fill(s, "flaky.example", 5)
    running = s.deliveries()
    fail = Outcome.site_failed("4.4.1", REFUSED)
    for d in running[:3]:
        s.delivery_done(d, fail)
    s.delivery_done(running[3], Outcome.ok())
    assert not s.add_message("N1", 0, smtp_rcpts("flaky.example", 1)).deferred
    assert len(s.deliveries()) == 1


def test_dead_transport_defers_everything_queued_for_it_and_retries_after_60s():
    s, clock = make_scheduler()
    fill(s, "a.example", 10)
    fill(s, "b.example", 10, prefix="B")
    s.add_message("L1", 0, [Routed("local", "host", "u@host", "u@host")])
    first = s.deliveries()
    smtp = [d for d in first if d.transport == "smtp"]
    p = s.delivery_done(smtp[0], Outcome.transport_failed())
    assert len(p.deferred) == 10  # 5 + 5 waiting behind the two windows
    assert {(d.dsn, d.text) for d in p.deferred} == {(Dsn("4.3.0"), "mail transport unavailable")}
    p = s.add_message("N1", 0, smtp_rcpts("c.example", 1))
    assert [d.text for d in p.deferred] == ["mail transport unavailable"]
    clock.advance(60)
    s.add_message("N2", 0, smtp_rcpts("c.example", 1))
    assert [d.destination for d in s.deliveries()] == ["c.example"]


def test_failures_with_cohort_limit_zero_never_kill():
    s, _ = make_scheduler(transports=(TransportPolicy("smtp", failed_cohort_limit=0),))
    fill(s, "slow.example", 30)
    fail = Outcome.site_failed("4.4.1", REFUSED)
    for _ in range(20):
        running = s.deliveries() or [next(iter(s._outstanding))]
        assert not s.delivery_done(running[0], fail).deferred
    assert s.window("smtp", "slow.example") == 1


def _thousand(black_hole):
    """1,000 destinations with 3 one-recipient messages each; optionally one more
    destination that never answers (each attempt times out after 300 s)."""
    s, clock = make_scheduler()
    for n in range(1000):
        for i in range(3):
            s.add_message(f"d{n}-{i}", 0, smtp_rcpts(f"d{n}.example", 1))
    if black_hole:
        for i in range(50):
            s.add_message(f"hole-{i}", 0, smtp_rcpts("hole.example", 1))

    def plan(delivery):
        if delivery.destination == "hole.example":
            return 300, Outcome.site_failed("4.4.1", "connect to hole.example[192.0.2.66]:25: "
                                                     "Connection timed out")
        return 1, Outcome.ok()

    driver = Driver(s, clock, plan)
    driver.run()
    return driver


def test_thousand_destinations_finish_at_full_speed_beside_a_black_hole():
    baseline = _thousand(black_hole=False)
    driver = _thousand(black_hole=True)
    good = {m: t for m, t in driver.completed.items() if not m.startswith("hole")}
    assert len(good) == 3000
    # 3,000 one-second deliveries through maxproc 100 take 30 s; the black hole may
    # hold at most its initial window of 5 processes
    assert max(baseline.completed.values()) == 30
    assert max(good.values()) <= 3000 / 95 + 1
    hole_starts = [t for t, d in driver.started if d.destination == "hole.example"]
    # round robin: the black hole gets one turn per pass over the 1,000 others
    assert hole_starts == [10, 20, 30, 30, 30]
    # the third timeout kills it; everything still queued there is deferred at once
    assert {t for t, _ in driver.deferred} == {30 + 300}  # started at 30, timed out
    assert len(driver.deferred) == 45
    assert all(d.text.startswith("delivery temporarily suspended: connect to hole.example")
               for _, d in driver.deferred)
