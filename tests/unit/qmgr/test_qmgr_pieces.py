"""The pure helpers of the qmgr service: log formats, routing decisions, retry memory."""

import pytest

from pfx.address.resolve import Resolution, ResolveFlag
from pfx.dsn import Dsn
from pfx.envelope import DeliveryResult, Recipient, RecipientStatus
from pfx.qmgr import deliver, logline
from pfx.qmgr.active import delay_warning_due, previous_attempt
from pfx.qmgr.backoff import RetryPolicy, next_attempt
from pfx.qmgr.routing import route
from pfx.qmgr.values import OK, SITE_FAILED


@pytest.mark.parametrize("seconds,resolution,text", [
    (0, 2, "0"), (0.004, 2, "0"), (0.0123, 2, "0.01"), (0.0123, 3, "0.012"),
    (0.123, 2, "0.12"), (0.27, 2, "0.27"), (1.0, 2, "1"), (1.23, 2, "1.2"),
    (1.5, 2, "1.5"), (12.3, 2, "12"), (99.4, 2, "99"), (100.4, 2, "100"),
    (271.5, 2, "272"), (0.5, 0, "1"), (0.4, 0, "0"), (-1, 2, "0"),
])
def test_delays_are_formatted_as_postfix_does(seconds, resolution, text):
    assert logline.format_delay(seconds, resolution) == text


def test_recipient_line_shape():
    stamps = logline.Stamps(arrival=100.0, active=102.5, handoff=103.0)
    line = logline.recipient_line("QID", "u@example.com", "U@Example.com", "mx[1.2.3.4]:25",
                                  stamps, 104.2, Dsn("2.0.0"), "sent", "250 2.0.0 Ok")
    # orig_to is left out when it only differs in case, as Postfix's strcasecmp does
    assert line == ("QID: to=<u@example.com>, relay=mx[1.2.3.4]:25, delay=4.2, "
                    "delays=2.5/0.5/0/1.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)")


def test_recipient_line_names_a_reused_connection():
    stamps = logline.Stamps(arrival=100.0, active=102.5, handoff=103.0)
    line = logline.recipient_line("QID", "u@example.com", "", "mx[1.2.3.4]:25", stamps, 104.2,
                                  Dsn("2.0.0"), "sent", "250 2.0.0 Ok", conn_use=3)
    assert ", relay=mx[1.2.3.4]:25, conn_use=3, delay=4.2, " in line
    first = logline.recipient_line("QID", "u@example.com", "", "mx[1.2.3.4]:25", stamps, 104.2,
                                   Dsn("2.0.0"), "sent", "250 2.0.0 Ok", conn_use=1)
    assert "conn_use" not in first


def test_notice_and_queue_lines():
    assert logline.active_line("Q", "", 10, 2) == "Q: from=<>, size=10, nrcpt=2 (queue active)"
    assert logline.expired_line("Q", "s@x") == "Q: from=<s@x>, status=expired, returned to sender"


def _res(transport, nexthop, recipient="u@example.com", flags=ResolveFlag.CLASS_DEFAULT):
    return Resolution(transport, nexthop, recipient, flags)


def test_routes():
    assert route(_res("smtp", "example.com")).transport == "smtp"
    r = route(_res("error", "5.1.6 User has moved to x@y"))
    assert (r.action, r.dsn, r.text) == ("bounced", Dsn("5.1.6"), "User has moved to x@y")
    r = route(_res("error", "mailbox unavailable"))
    assert (r.action, r.dsn, r.text) == ("bounced", Dsn("5.0.0"), "mailbox unavailable")
    r = route(_res("error", "4.1.1 wrong class"))
    assert (r.action, r.dsn) == ("bounced", Dsn("5.0.0"))
    r = route(_res("retry", "4.4.1 later"))
    assert (r.action, r.dsn, r.text) == ("deferred", Dsn("4.4.1"), "later")
    r = route(_res("", "", flags=ResolveFlag.FAIL))
    assert (r.action, r.dsn, r.text) == ("deferred", Dsn("4.3.0"), "address resolver failure")
    r = route(_res("smtp", "x", "-u@example.com", ResolveFlag.ERROR))
    assert (r.action, r.dsn) == ("bounced", Dsn("5.1.3"))
    local = _res("local", "mx", "Double-Bounce@mx", ResolveFlag.CLASS_LOCAL)
    assert route(local).action == "sent"
    assert route(_res("smtp", "x", "double-bounce@elsewhere")).action is None


def test_previous_attempt_inverts_next_attempt():
    policy = RetryPolicy()
    for age in (0, 100, 300, 1000, 3999, 4000, 10000, 100000):
        arrival = 5000.0
        assert previous_attempt(arrival, next_attempt(arrival, arrival + age, policy),
                                policy) == pytest.approx(arrival + age)


def test_delay_warning_once_even_across_restarts():
    policy = RetryPolicy(delay_warning_time=3600)
    assert not delay_warning_due(0, "incoming", None, 100, policy)
    assert delay_warning_due(0, "deferred", 2400, 4800, policy)
    assert not delay_warning_due(0, "deferred", 4800, 8800, policy)
    assert not delay_warning_due(0, "deferred", 4800, 8800, RetryPolicy())


def test_agent_answers_are_checked():
    a, b = Recipient("a@x", offset=10), Recipient("b@x", offset=20)
    ok = RecipientStatus(Recipient("A@x"), "sent", Dsn("2.0.0"), "ok")
    later = RecipientStatus(Recipient("b@x"), "deferred", Dsn("4.4.1"), "connect failed")
    statuses = deliver.check_answer(DeliveryResult([ok, later]), [a, b])
    assert [s.recipient.offset for s in statuses] == [10, 20]  # ours, with offsets
    with pytest.raises(deliver.BadAnswer):
        deliver.check_answer(DeliveryResult([later, ok]), [a, b])
    with pytest.raises(deliver.BadAnswer):
        deliver.check_answer(DeliveryResult([ok]), [a, b])
    with pytest.raises(deliver.BadAnswer):
        deliver.check_answer([ok, later], [a, b])
    assert deliver.outcome_of(statuses).kind == OK
    assert deliver.outcome_of(statuses[1:]).kind == SITE_FAILED
