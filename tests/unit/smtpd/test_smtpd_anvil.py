"""smtpd_client_message_rate_limit and smtpd_client_recipient_rate_limit (anvil.py), with
task.Clock for time; through a session and through the service's factory."""

from twisted.internet.task import Clock

from pfx.smtpd.anvil import EventLimits, RateCounter
from tests.unit.smtpd.smtpd_helpers import Harness, RecordingLog, make_config
from tests.unit.smtpd.test_smtpd_service import build, connect


def limits(clock, message=0, recipient=0, exceptions=""):
    excepted = make_config(smtpd_client_event_limit_exceptions=exceptions).event_limit_exceptions
    return EventLimits(clock, 60.0, message, recipient, excepted, "smtp")


def test_rate_counter_forgets_events_older_than_the_unit():
    clock = Clock()
    counter = RateCounter(clock, 60)
    assert [counter.hit("192.0.2.1") for _ in range(3)] == [1, 2, 3]
    assert counter.hit("192.0.2.2") == 1
    clock.advance(59)
    assert counter.hit("192.0.2.1") == 4
    clock.advance(1)
    assert counter.hit("192.0.2.1") == 2  # the first three are a unit old now


def test_message_rate_limit_refuses_mail_past_the_limit_until_the_unit_passes():
    clock, log = Clock(), RecordingLog()
    lim = limits(clock, message=2)
    assert lim.mail("c", "192.0.2.1", log) is None
    assert lim.mail("c", "192.0.2.1", log) is None
    assert str(lim.mail("c", "192.0.2.1", log)) == "450 4.7.1 Error: too much mail from 192.0.2.1"
    assert log.lines == ["warning: Message delivery request rate limit exceeded: 3 from c[192.0.2.1] "
                         "for service smtp"]
    assert lim.mail("d", "192.0.2.2", log) is None  # per client
    assert lim.rcpt("c", "192.0.2.1", log) is None  # no recipient limit
    clock.advance(60)
    assert lim.mail("c", "192.0.2.1", log) is None


def test_recipient_rate_limit_and_exceptions():
    clock, log = Clock(), RecordingLog()
    lim = limits(clock, recipient=1, exceptions="127.0.0.0/8, .trusted.example")
    assert lim.rcpt("c", "192.0.2.1", log) is None
    assert str(lim.rcpt("c", "192.0.2.1", log)) == "450 4.7.1 Error: too many recipients from 192.0.2.1"
    assert log.lines == ["warning: Recipient address rate limit exceeded: 2 from c[192.0.2.1] for service smtp"]
    assert all(lim.rcpt("localhost", "127.0.0.1", log) is None for _ in range(5))
    assert all(lim.rcpt("mx.trusted.example", "198.51.100.1", log) is None for _ in range(5))


def test_limits_in_a_session_count_refused_commands_too():
    h = Harness(addr="192.0.2.1", local_recipient_maps="", smtpd_recipient_restrictions="permit",
                smtpd_relay_restrictions="")
    h.session.limits = limits(h.clock, message=2, recipient=2)
    h.out()
    h.ask("EHLO c.example.org")
    assert h.ask("MAIL FROM:<a@example.org>") == ["250 2.1.0 Ok"]
    assert h.ask("RCPT TO:<b@mx.example.test>") == ["250 2.1.5 Ok"]
    assert h.ask("RCPT TO:<c@mx.example.test>") == ["250 2.1.5 Ok"]
    assert h.ask("RCPT TO:<d@mx.example.test>") == ["450 4.7.1 Error: too many recipients from 192.0.2.1"]
    assert h.ask("RSET") == ["250 2.0.0 Ok"]
    assert h.ask("MAIL FROM:<a@example.org>") == ["250 2.1.0 Ok"]
    assert h.ask("RSET") == ["250 2.0.0 Ok"]
    assert h.ask("MAIL FROM:<a@example.org>") == ["450 4.7.1 Error: too much mail from 192.0.2.1"]
    assert "warning: Message delivery request rate limit exceeded: 3 from client.example.org[192.0.2.1] " \
        "for service smtp" in h.log.lines
    h.clock.advance(60)
    assert h.ask("MAIL FROM:<a@example.org>") == ["250 2.1.0 Ok"]


def test_parameters_have_postfix_defaults():
    config = make_config()
    assert (config.message_rate_limit, config.recipient_rate_limit) == (0, 0)


def test_the_service_counts_messages_across_connections():
    service, reactor, log = build(smtpd_client_message_rate_limit=1, anvil_rate_time_unit="60s")
    replies = []
    for _ in range(2):
        proto, transport = connect(service.factory)
        proto.dataReceived(b"EHLO c.example.org\r\nMAIL FROM:<a@example.org>\r\n")
        replies.append(transport.value().decode().splitlines()[-1])
        proto.connectionLost(None)
    assert replies == ["250 2.1.0 Ok", "450 4.7.1 Error: too much mail from 192.0.2.9"]
    assert "warning: Message delivery request rate limit exceeded: 2 from unknown[192.0.2.9] " \
        "for service 127.0.0.1:2525" in log.lines
