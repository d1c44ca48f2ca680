"""access(5) HOLD, DISCARD, REDIRECT, FILTER, BCC and PREPEND through a session: what is
logged, what the Envelope hands to cleanup, and the header smtpd writes."""

import pytest

from tests.unit.smtpd.smtpd_helpers import Harness
from tests.unit.smtpd.test_smtpd_access import Tables

TAIL = "from=<a@example.org> to=<b@mx.example.test> proto=ESMTP helo=<c.example.org>"


def deliver(rules, rcpts=("b@mx.example.test",), **settings):
    settings.setdefault("smtpd_recipient_restrictions", f"check_recipient_access inline:{{ {rules} }}")
    settings.setdefault("local_recipient_maps", "")
    h = Harness(tables=Tables(), **settings)
    h.out()
    h.ask("EHLO c.example.org")
    h.ask("MAIL FROM:<a@example.org>")
    replies = [h.ask(f"RCPT TO:<{r}>") for r in rcpts]
    h.ask("DATA")
    h.say("Subject: hi\r\n\r\nbody\r\n.\r\n")
    assert h.lines() == ["250 2.0.0 Ok: queued as 4QID1"]
    return h, replies


@pytest.mark.parametrize("value,name,arg,text", [
    ("HOLD", "hold", "", "triggers HOLD action"),
    ("HOLD please look", "hold", "please look", "please look"),
    ("DISCARD", "discard", "", "triggers DISCARD action"),
    ("REDIRECT x@y.example", "redirect", "x@y.example", "triggers REDIRECT x@y.example"),
    ("FILTER smtp:[127.0.0.1]:10025", "filter", "smtp:[127.0.0.1]:10025", "triggers FILTER smtp:[127.0.0.1]:10025"),
    ("BCC x@y.example", "bcc", "x@y.example", "triggers BCC x@y.example"),
])
def test_message_action_reaches_the_envelope_and_is_logged(value, name, arg, text):
    h, replies = deliver(f"{{ b@mx.example.test = {value} }}")
    assert replies == [["250 2.1.5 Ok"]]
    assert h.submitter.writers[0].envelope.actions == ((name, arg),)
    assert (f"NOQUEUE: {name}: RCPT from client.example.org[127.0.0.1]: <b@mx.example.test>: "
            f"Recipient address {text}; {TAIL}") in h.log.lines


def test_prepend_is_written_after_the_received_header():
    h, _ = deliver("{ b@mx.example.test = PREPEND X-Checked: by access }")
    data = h.submitter.writers[0].data.decode()
    received, _, rest = data.partition("\n\t")
    assert received.startswith("Received: ")
    assert "X-Checked: by access\nSubject: hi\r\n" in data
    assert data.index("X-Checked") > data.index("Received:")
    assert h.submitter.writers[0].envelope.actions == ()


def test_actions_of_a_rejected_recipient_are_forgotten():
    h, replies = deliver("{ b@mx.example.test = HOLD }, { c@mx.example.test = BCC x@y.example }",
                         rcpts=("b@mx.example.test", "c@mx.example.test"),
                         smtpd_recipient_restrictions="check_recipient_access inline:{ b@mx.example.test=HOLD },"
                                                      " check_recipient_access inline:{ b@mx.example.test=REJECT }")
    assert replies[0][0].startswith("554 5.7.1")
    assert h.submitter.writers[0].envelope.actions == ()


def test_client_action_repeated_per_recipient_is_kept_once_and_reset_per_transaction():
    h, _ = deliver("", rcpts=("b@mx.example.test", "c@mx.example.test"),
                   smtpd_recipient_restrictions="permit",
                   smtpd_client_restrictions="check_client_access inline:{ 127.0.0.1=HOLD }")
    assert h.submitter.writers[0].envelope.actions == (("hold", ""),)
    h.ask("MAIL FROM:<a@example.org>")
    h.ask("RSET")
    h.ask("MAIL FROM:<a@example.org>")
    assert h.session.actions.transaction == []


def test_vrfy_keeps_no_action():
    h = Harness(tables=Tables(), local_recipient_maps="",
                smtpd_recipient_restrictions="check_recipient_access inline:{ b@mx.example.test=HOLD }")
    h.out()
    h.ask("EHLO c.example.org")
    assert h.ask("VRFY b@mx.example.test")[0].startswith("252")
    assert h.session.actions.transaction == [] and h.session.actions.session == []


def test_bad_action_argument_is_warned_about():
    h, _ = deliver("{ b@mx.example.test = REDIRECT nobody }")
    assert h.submitter.writers[0].envelope.actions == ()
    assert any(line.startswith("warning: access table: bad REDIRECT target") for line in h.log.lines)


def test_end_of_data_actions_go_with_the_commit():
    h, _ = deliver("", smtpd_recipient_restrictions="permit",
                   smtpd_end_of_data_restrictions="check_client_access inline:{ { 127.0.0.1 = HOLD eod } }")
    writer = h.submitter.writers[0]
    assert writer.envelope.actions == ()
    assert writer.late_actions == (("hold", "eod"),)
    assert ("4QID1: hold: END-OF-MESSAGE from client.example.org[127.0.0.1]: <client.example.org[127.0.0.1]>: "
            "Client host eod; " + TAIL) in h.log.lines


@pytest.mark.parametrize("verb", ["WARN", "INFO"])
def test_warn_and_info_are_logged_with_their_kind(verb):
    h, _ = deliver(f"{{ b@mx.example.test = {verb} look here }}")
    assert (f"NOQUEUE: {verb.lower()}: RCPT from client.example.org[127.0.0.1]: look here; {TAIL}"
            in h.log.lines)
    assert h.submitter.writers[0].envelope.actions == ()


def test_end_of_data_prepend_is_too_late():
    h, _ = deliver("", smtpd_recipient_restrictions="permit",
                   smtpd_end_of_data_restrictions="check_client_access inline:{ { 127.0.0.1 = PREPEND X-A: b } }")
    assert h.submitter.writers[0].late_actions == ()
    assert any("action PREPEND is unavailable at END-OF-MESSAGE" in line for line in h.log.lines)


def test_client_action_without_delay_reject_lasts_for_the_session():
    h = Harness(tables=Tables(), local_recipient_maps="", smtpd_delay_reject="no",
                smtpd_client_restrictions="check_client_access inline:{ 127.0.0.1=DISCARD }")
    h.out()
    assert "NOQUEUE: discard: CONNECT from client.example.org[127.0.0.1]: <client.example.org[127.0.0.1]>: " \
        "Client host triggers DISCARD action; proto=SMTP" in h.log.lines[1]
    for n in (1, 2):
        h.ask("EHLO c.example.org")
        h.ask("MAIL FROM:<a@example.org>")
        h.ask("RCPT TO:<b@mx.example.test>")
        h.ask("DATA")
        h.say("Subject: hi\r\n\r\nbody\r\n.\r\n")
        assert h.lines() == [f"250 2.0.0 Ok: queued as 4QID{n}"]
        assert h.submitter.writers[n - 1].envelope.actions == (("discard", ""),)
