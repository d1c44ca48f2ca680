"""Concurrency feedback and failed pseudo-cohorts (pfx.qmgr.window)."""

from fractions import Fraction

import pytest

from pfx.qmgr.window import ConcurrencyWindow, Feedback

ONE = Feedback(Fraction(1))
PER = Feedback(Fraction(1), per_concurrency=True)


def make(initial=5, limit=20, positive=ONE, negative=ONE, cohorts=1):
    return ConcurrencyWindow(initial, limit, positive, negative, cohorts)


@pytest.mark.parametrize("text, amount, per", [
    ("1", 1, False), ("0", 0, False), ("1/4", Fraction(1, 4), False),
    ("0.5", Fraction(1, 2), False), ("1/concurrency", 1, True),
    (" 1 / Concurrency ", 1, True),
])
def test_feedback_forms(text, amount, per):
    assert Feedback.parse(text) == Feedback(Fraction(amount), per)


@pytest.mark.parametrize("text", ["2", "x", "1/0", "-1", "1/2/3", ""])
def test_bad_feedback_is_refused(text):
    with pytest.raises(ValueError):
        Feedback.parse(text)


def test_constant_positive_feedback_grows_one_per_delivery_up_to_the_limit():
    w = make()
    for _ in range(30):
        w.good(busy=w.window)  # fully used window
    assert w.window == 20


def test_window_does_not_grow_past_what_is_used():
    w = make()
    for _ in range(10):
        w.good(busy=1)  # only one delivery at a time: 1 + initial caps growth
    assert w.window == 6


def test_per_concurrency_feedback_adds_one_per_pseudo_cohort():
    w = make(positive=PER)
    for _ in range(5):
        w.good(busy=w.window)
    assert w.window == 6
    for _ in range(5):
        w.good(busy=w.window)
    assert w.window == 6  # needs six now
    w.good(busy=w.window)
    assert w.window == 7


def test_negative_feedback_shrinks_but_never_below_one_without_cohort_limit():
    w = make(initial=5, cohorts=0)
    assert not w.bad()
    assert w.window == 3  # qmgr's half-step tolerance: the first failure takes two
    assert not w.bad()
    assert w.window == 2
    for _ in range(10):
        assert not w.bad()
    assert w.window == 1


def test_one_failed_pseudo_cohort_kills_with_default_settings():
    w = make(initial=5)
    # windows 5, 3, 2 (as qmgr_queue_throttle computes): 1/5 + 1/3 + 1/2 >= 1
    assert [w.bad() for _ in range(3)] == [False, False, True]


def test_per_concurrency_negative_feedback_steps_down_once_per_cohort():
    w = make(initial=4, negative=PER, cohorts=0)
    windows = []
    for _ in range(8):
        w.bad()
        windows.append(w.window)
    # 4->3 at once, then every 1/feedback failures, with qmgr's half-step rounding
    assert windows == [3, 3, 2, 2, 1, 1, 1, 1]


def test_a_success_resets_the_failed_cohort_count():
    zero = Feedback(Fraction(0))
    w = make(initial=2, cohorts=1, positive=zero, negative=zero)
    assert not w.bad()  # 1/2
    w.good(busy=1)
    assert not w.bad()  # 1/2 again, not 1
    assert w.bad()


def test_zero_limit_means_unlimited_and_restart_uses_busy():
    w = make(limit=0)
    for _ in range(100):
        w.good(busy=w.window)
    assert w.window == 105
    w.restart(busy=3)
    assert w.window == 3
    w.restart(busy=0)
    assert w.window == 5
