"""The queue manager's log lines, worded and formatted as Postfix writes them (pure)."""

# pflogsumm and admins' scripts parse these; every comma, space and bracket matters.

from decimal import ROUND_HALF_UP, Decimal

import attrs

SIG_DIGITS = 2  # Postfix's SIG_DIGS in log_adhoc.c
_MICRO, _ONE = Decimal("0.000001"), Decimal(1)
_STEPS = [Decimal(1).scaleb(-n) for n in range(10)]  # quantize exponents, made once


def format_delay(seconds: float, resolution: int = 2) -> str:
    """One delay as Postfix logs it (delay_logging_resolution_limit = ``resolution``).

    Values of 100 s and more are whole seconds; smaller ones keep two significant
    digits but no more than ``resolution`` decimals; what rounds to nothing is "0".
    """
    value = Decimal(max(0.0, seconds)).quantize(_MICRO)
    if value >= 10 ** SIG_DIGITS:
        return str(value.quantize(_ONE, ROUND_HALF_UP))
    if value == 0:
        return "0"
    # decimals for two significant digits: 12.3 -> 0, 1.23 -> 1, 0.0123 -> 3
    decimals = SIG_DIGITS - 1 - value.adjusted()
    decimals = max(0, min(decimals, resolution))
    step = _STEPS[decimals] if decimals < len(_STEPS) else _ONE.scaleb(-decimals)
    text = str(value.quantize(step, ROUND_HALF_UP))
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("0", "") else text


@attrs.frozen
class Stamps:
    """When a message arrived, entered the active queue, and was handed to an agent."""

    arrival: float
    active: float
    handoff: float | None = None  # None: settled without a delivery agent
    setup: float | None = None  # a network agent's connection set-up end (log_adhoc.c)


def delays(stamps: Stamps, now: float, resolution: int = 2) -> tuple[str, str]:
    """("delay", "a/b/c/d"): a before the active queue, b in it, c connection set-up
    (network agents only; 0 for the others), d the transmission, as log_adhoc.c splits them."""
    fmt = lambda s: format_delay(s, resolution)  # noqa: E731
    total = fmt(now - stamps.arrival)
    before = fmt(stamps.active - stamps.arrival)
    if stamps.handoff is None:
        parts = (before, fmt(now - stamps.active), "0", "0")
    elif stamps.setup is None:
        parts = (before, fmt(stamps.handoff - stamps.active), "0", fmt(now - stamps.handoff))
    else:
        setup = min(max(stamps.setup, stamps.handoff), now)
        parts = (before, fmt(stamps.handoff - stamps.active), fmt(setup - stamps.handoff),
                 fmt(now - setup))
    return total, "/".join(parts)


def recipient_line(queue_id, address, orig, relay, stamps, now, dsn, action, text,
                   resolution=2, conn_use=0, setup_done=None) -> str:
    """``QID: to=<r>, orig_to=<o>, relay=R, [conn_use=N, ]delay=D, delays=a/b/c/d, dsn=X,
    status=S (T)``; conn_use only for a reused connection, as Postfix logs it."""
    line = f"{queue_id}: to=<{address}>"
    if orig and orig.lower() != address.lower():
        line += f", orig_to=<{orig}>"
    line += f", relay={relay}"
    if conn_use > 1:
        line += f", conn_use={conn_use}"
    if setup_done is not None and stamps.handoff is not None:
        stamps = attrs.evolve(stamps, setup=setup_done)
    total, parts = delays(stamps, now, resolution)
    return f"{line}, delay={total}, delays={parts}, dsn={dsn}, status={action} ({text})"


def active_line(queue_id, sender, size, nrcpt) -> str:
    """``nrcpt``: the recipients the file was written with (its size record), done or not."""
    return f"{queue_id}: from=<{sender}>, size={size}, nrcpt={nrcpt} (queue active)"


def removed_line(queue_id) -> str:
    return f"{queue_id}: removed"


def expired_line(queue_id, sender) -> str:
    return f"{queue_id}: from=<{sender}>, status=expired, returned to sender"

