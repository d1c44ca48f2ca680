"""Retry times, queue lifetimes and delay warnings (pfx.qmgr.backoff) on a fake clock."""

from twisted.internet.task import Clock

from pfx.qmgr import backoff
from pfx.qmgr.backoff import RetryPolicy

POLICY = RetryPolicy()


def test_failing_message_schedule_follows_clamped_age():
    # qmgr's rule: next = now + clamp(age, minimal_backoff_time, maximal_backoff_time)
    now, attempts = 0.0, []
    while now <= 20800:
        attempts.append(now)
        now = backoff.next_attempt(0, now, POLICY)
    assert attempts == [0, 300, 600, 1200, 2400, 4800, 8800, 12800, 16800, 20800]


def test_schedule_with_deferred_scans_every_queue_run_delay():
    clock = Clock()
    due, attempts = 0.0, []

    def scan():
        nonlocal due
        if backoff.is_due(due, clock.seconds()):
            attempts.append(clock.seconds())
            due = backoff.next_attempt(0, clock.seconds(), POLICY)  # fails again

    while clock.seconds() < 20000:
        scan()
        clock.advance(POLICY.queue_run_delay)
    assert attempts[:6] == [0, 300, 600, 1200, 2400, 4800]
    assert attempts[6:] == [9000, 13200, 17400]
    # never earlier than the rule, at most one scan interval later
    for before, after in zip(attempts, attempts[1:]):
        rule = backoff.next_attempt(0, before, POLICY)
        assert rule <= after < rule + POLICY.queue_run_delay


def test_delay_bounds_and_odd_settings():
    assert backoff.backoff_delay(1000, 1000, POLICY) == 300  # brand new: the minimum
    assert backoff.backoff_delay(0, 10**6, POLICY) == 4000  # old: the maximum
    upside_down = RetryPolicy(minimal_backoff_time=600, maximal_backoff_time=100)
    assert backoff.backoff_delay(0, 5000, upside_down) == 600


def test_scan_all_ignores_the_schedule():
    assert not backoff.is_due(900, 600)
    assert backoff.is_due(900, 600, scan_all=True)
    assert backoff.next_scan(600, POLICY) == 900


def test_lifetimes_null_sender_uses_bounce_queue_lifetime():
    policy = RetryPolicy(maximal_queue_lifetime=5 * 86400, bounce_queue_lifetime=86400)
    day = 86400
    assert not backoff.is_expired(0, day - 1, "", policy)
    assert backoff.is_expired(0, day, "", policy)
    assert not backoff.is_expired(0, day, "a@example.com", policy)
    assert not backoff.is_expired(0, 5 * day - 1, "a@example.com", policy)
    assert backoff.is_expired(0, 5 * day, "a@example.com", policy)


def test_zero_lifetime_means_one_attempt():
    policy = RetryPolicy(maximal_queue_lifetime=0)
    assert backoff.is_expired(100, 100, "a@example.com", policy)


def test_delay_warning_off_by_default_and_once_due():
    assert backoff.warn_time(0, POLICY) is None
    assert not backoff.warning_due(None, 10**9)
    policy = RetryPolicy(delay_warning_time=4 * 3600)
    at = backoff.warn_time(100, policy)
    assert at == 100 + 4 * 3600
    assert not backoff.warning_due(at, at - 2)
    assert backoff.warning_due(at, at - 1)  # qmgr's one second of slack


def test_policy_from_settings_reads_postfix_names():
    values = {"minimal_backoff_time": 60, "maximal_backoff_time": 600, "queue_run_delay": 60,
              "maximal_queue_lifetime": 3600, "bounce_queue_lifetime": 1800,
              "delay_warning_time": 0}
    policy = RetryPolicy.from_settings(values.__getitem__)
    assert policy == RetryPolicy(60, 600, 60, 3600, 1800, 0)
