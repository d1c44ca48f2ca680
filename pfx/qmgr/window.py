"""Per-destination concurrency window: slow start, feedback, failed pseudo-cohorts (pure)."""

# This is SCHEDULER_README's Postfix 2.5 algorithm (qmgr_queue_unthrottle/_throttle):
# positive feedback grows the window at the end of a sequence of 1/feedback good
# deliveries, negative feedback shrinks it at the start of a sequence of 1/feedback
# failed ones, and a destination whose failures add up to failed_cohort_limit
# pseudo-cohorts (a pseudo-cohort is `window` deliveries) is declared dead. The loop
# conditions keep qmgr's half-step tolerance ("feedback / 2"), so the results match
# Postfix's, including its quirk that with feedback 1 the first failure of a run (at
# start or after growth) takes two off the window. Fractions keep the arithmetic exact.

import re
from fractions import Fraction

import attrs

_FEEDBACK_RE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(concurrency|\d+(?:\.\d+)?)\s*)?$", re.IGNORECASE)


@attrs.frozen
class Feedback:
    """A feedback setting: a constant in 0..1, or "number / concurrency"."""

    amount: Fraction
    per_concurrency: bool = False

    @classmethod
    def parse(cls, text: str) -> "Feedback":
        """ "1", "1/4", "0.5" or "1/concurrency" -> Feedback; ValueError otherwise."""
        m = _FEEDBACK_RE.match(str(text))
        if not m:
            raise ValueError(f'bad feedback value: "{text}" (use a number in 0..1, '
                             f'"number/number" or "number/concurrency")')
        amount, divisor = Fraction(m.group(1)), m.group(2)
        per = divisor is not None and divisor.lower() == "concurrency"
        if divisor is not None and not per:
            if Fraction(divisor) == 0:
                raise ValueError(f'bad feedback value: "{text}" (division by zero)')
            amount /= Fraction(divisor)
        if not 0 <= amount <= 1:
            raise ValueError(f'bad feedback value: "{text}" (must be in 0..1)')
        return cls(amount, per)

    def at(self, window: int) -> Fraction:
        """The feedback for one delivery when the window has this size."""
        return self.amount / window if self.per_concurrency else self.amount


class ConcurrencyWindow:
    """How many deliveries may run at once to one destination, adjusted by feedback."""

    def __init__(self, initial: int, limit: int, positive: Feedback, negative: Feedback,
                 cohort_limit: int):
        self.initial, self.limit = initial, limit  # limit 0: no per-destination limit
        self.positive_feedback, self.negative_feedback = positive, negative
        self.cohort_limit = cohort_limit  # 0: never declare the destination dead
        self.window = initial if limit == 0 else min(initial, limit)
        self._success = Fraction(0)
        self._failure = Fraction(0)
        self.fail_cohorts = Fraction(0)

    def __repr__(self):
        return f"<ConcurrencyWindow {self.window} of {self.limit or 'unlimited'}>"

    def good(self, busy: int) -> None:
        """A delivery finished without connection or handshake failure."""
        # a success ends any run of failures: the dead count starts over
        self.fail_cohorts = Fraction(0)
        if self.limit and self.window >= self.limit:
            return
        # grow only while the window is actually used; a window far above the real
        # concurrency would make negative feedback slow to bite
        if self.window >= busy + self.initial:
            return
        feedback = self.positive_feedback.at(self.window)
        self._success += feedback
        while self._success + feedback / 2 >= 1:
            self.window += 1
            self._success -= 1
            self._failure = Fraction(0)
        if self.limit and self.window > self.limit:
            self.window = self.limit

    def bad(self) -> bool:
        """A delivery failed to connect or handshake; True when the destination is dead."""
        self.fail_cohorts += Fraction(1, self.window)
        if self.cohort_limit and self.fail_cohorts >= self.cohort_limit:
            return True
        feedback = self.negative_feedback.at(self.window)
        self._failure -= feedback
        while self._failure - feedback / 2 < 0:
            self.window -= 1
            self._success = Fraction(0)
            self._failure += 1
        # negative feedback alone never stops delivery; only the cohort limit does
        self.window = max(self.window, 1)
        return False

    def restart(self, busy: int) -> None:
        """Back from the dead: the best concurrency is anyone's guess (qmgr_queue.c)."""
        self.window = busy if busy > 0 else self.initial
        if self.limit:
            self.window = min(self.window, self.limit)
        self._success = self._failure = self.fail_cohorts = Fraction(0)
