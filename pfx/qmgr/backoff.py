"""When deferred mail is tried again, when it expires, and when the sender is warned (pure)."""

# ``arrival`` is the message's creation time (qmgr's create_time: QueueFileInfo.create_time,
# the arrival time unless postsuper -r queued it again). After an attempt that
# left recipients to retry, qmgr_active_done_2 checks expiry first, then the delay
# warning, then defers the file to next_attempt(); the caller keeps that order.

import attrs


@attrs.frozen
class RetryPolicy:
    """The retry-related main.cf values, in seconds (0 disables delay warnings)."""

    minimal_backoff_time: int = 300
    maximal_backoff_time: int = 4000
    queue_run_delay: int = 300
    maximal_queue_lifetime: int = 5 * 86400
    bounce_queue_lifetime: int = 5 * 86400
    delay_warning_time: int = 0

    @classmethod
    def from_settings(cls, get) -> "RetryPolicy":
        """Build from ``get(name) -> typed value`` (e.g. Settings.get)."""
        return cls(**{f.name: int(get(f.name)) for f in attrs.fields(cls)})


def backoff_delay(arrival: float, now: float, policy: RetryPolicy) -> float:
    """The wait after a failed attempt: the time in the queue, clamped to min..max."""
    # qmgr_active_done_3_generic: the gap doubles with each attempt because it equals
    # the message's age, until maximal_backoff_time caps it
    age = now - arrival
    # a maximal_backoff_time below the minimum still waits the minimum, as qmgr does
    return max(policy.minimal_backoff_time, min(age, policy.maximal_backoff_time))


def next_attempt(arrival: float, now: float, policy: RetryPolicy) -> float:
    """The earliest time to try again (qmgr stores it as the deferred file's mtime)."""
    return now + backoff_delay(arrival, now, policy)


def is_due(next_time: float, now: float, scan_all: bool = False) -> bool:
    """Whether a deferred-queue scan picks the file up; the A trigger ignores the time."""
    return scan_all or next_time <= now


def next_scan(last_scan: float, policy: RetryPolicy) -> float:
    """Deferred files are only looked at every queue_run_delay (the scan granularity)."""
    return last_scan + policy.queue_run_delay


def lifetime(sender: str, policy: RetryPolicy) -> int:
    """Bounces (null sender) give up after bounce_queue_lifetime, others after the max."""
    return policy.bounce_queue_lifetime if sender == "" else policy.maximal_queue_lifetime


def is_expired(arrival: float, now: float, sender: str, policy: RetryPolicy) -> bool:
    """After a failed attempt: return the mail to the sender ("status=expired")?"""
    # a lifetime of 0 means one attempt only, which `>=` gives for free
    return now >= arrival + lifetime(sender, policy)


def warn_time(arrival: float, policy: RetryPolicy) -> float | None:
    """When to send the "delayed mail" notice, or None when delay_warning_time is 0."""
    if policy.delay_warning_time <= 0:
        return None
    return arrival + policy.delay_warning_time


def warning_due(warn_at: float | None, now: float) -> bool:
    """Whether the delay notice is due; the caller then clears warn_at (only one is sent)."""
    # qmgr allows one second of slack: event_time() >= warn_time - 1
    return warn_at is not None and now >= warn_at - 1
