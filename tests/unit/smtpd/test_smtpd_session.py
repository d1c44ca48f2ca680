"""Session replies for each command, the envelope handed to cleanup, the Received header, log lines."""

import pytest

from pfx.smtpd.received import mail_date
from tests.unit.smtpd.smtpd_helpers import Harness


def started(**kw):
    h = Harness(**kw)
    h.out()
    return h


def test_helo_and_ehlo_replies():
    h = started()
    assert h.ask("HELO c.example.org") == ["250 mx.example.test"]
    assert h.ask("EHLO c.example.org") == [
        "250-mx.example.test", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN",
        "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"]


def test_ehlo_follows_size_limit_vrfy_and_discards():
    h = started(message_size_limit=5000, disable_vrfy_command="yes", smtpd_discard_ehlo_keywords="dsn, chunking")
    lines = h.ask("EHLO c")
    assert "250-SIZE 5000" in lines and "250-VRFY" not in lines
    assert "250-DSN" not in lines and lines[-1] == "250 SMTPUTF8"


@pytest.mark.parametrize("line,reply", [
    ("NOOP", "250 2.0.0 Ok"),
    ("RSET", "250 2.0.0 Ok"),
    ("VRFY <u@example.org>", "252 2.0.0 <u@example.org>"),
    ("VRFY u", "252 2.0.0 u"),
    ("ETRN example.org", "459 <example.org>: service unavailable"),  # Postfix gives no status code
    ("STARTTLS", "502 5.5.1 Error: command not implemented"),
    ("AUTH PLAIN", "503 5.5.1 Error: authentication not enabled"),
    ("DATA", "503 5.5.1 Error: need RCPT command"),
    ("QUIT", "221 2.0.0 Bye"),
])
def test_simple_commands(line, reply):
    h = started()
    h.ask("EHLO c")
    assert h.ask(line) == [reply]


def test_full_transaction_builds_the_envelope():
    h = started()
    h.ask("EHLO c.example.org")
    assert h.ask("MAIL FROM:<a@example.org> RET=HDRS ENVID=e+2Bv BODY=8BITMIME SMTPUTF8") == ["250 2.1.0 Ok"]
    assert h.ask("RCPT TO:<b@mx.example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@mx.example.test") \
        == ["250 2.1.5 Ok"]
    assert h.ask('RCPT TO:<"c d"@localhost>') == ["250 2.1.5 Ok"]
    h.ask("DATA")
    h.say("Subject: hi\r\n\r\n..dot\r\n.\r\n")
    assert h.lines() == ["250 2.0.0 Ok: queued as 4QID1"]
    env = h.submitter.writers[0].envelope
    assert env.sender == "a@example.org"
    assert [r.address for r in env.recipients] == ["b@mx.example.test", "c d@localhost"]
    assert env.recipients[0].notify == frozenset({"SUCCESS", "FAILURE"})
    assert env.recipients[0].orcpt == "rfc822;b@mx.example.test"
    assert (env.ret, env.envid, env.body_type, env.smtputf8) == ("HDRS", "e+v", "8BITMIME", True)
    assert (env.client.addr, env.client.helo, env.client.protocol) == ("127.0.0.1", "c.example.org", "ESMTP")
    data = h.submitter.writers[0].data.decode()
    assert data.startswith("Received: from c.example.org (client.example.org [127.0.0.1])\n"
                           "\tby mx.example.test (pfx) with ESMTP id 4QID1;\n\t")
    assert data.endswith("Subject: hi\r\n\r\n.dot\r\n")
    assert "4QID1: client=client.example.org[127.0.0.1]" in h.log.lines


def test_received_header_names_a_single_recipient():
    h = started()
    h.ask("HELO c.example.org")
    h.ask("MAIL FROM:<>")
    h.ask("RCPT TO:<b@mx.example.test>")
    h.ask("DATA")
    h.say("\r\n.\r\n")
    data = h.submitter.writers[0].data.decode()
    head = data.split("\n")
    assert head[:2] == ["Received: from c.example.org (client.example.org [127.0.0.1])",
                        "\tby mx.example.test (pfx) with SMTP id 4QID1"]
    assert head[2].startswith("\tfor <b@mx.example.test>; ")
    assert h.submitter.writers[0].envelope.sender == ""


def test_mail_date_shape():
    assert len(mail_date(0).split(" (")[0].split()) == 6


def test_bdat_transaction():
    h = started()
    h.ask("EHLO c")
    h.ask("MAIL FROM:<a@example.org>")
    h.ask("RCPT TO:<b@mx.example.test>")
    h.say("BDAT 5\r\nHello")
    assert h.lines() == ["250 2.0.0 Ok: 5 bytes"]
    h.say("BDAT 7 LAST\r\n World\n")
    assert h.lines() == ["250 2.0.0 Ok: 12 bytes queued as 4QID1"]
    assert h.submitter.writers[0].data.endswith(b"Hello World\n")


def test_unicode_address_needs_smtputf8():
    h = started()
    h.ask("EHLO c")
    assert h.ask("MAIL FROM:<ü@example.org>") == ["553 5.6.7 Must declare SMTPUTF8 to send unicode address"]
    assert h.ask("MAIL FROM:<ü@example.org> SMTPUTF8") == ["250 2.1.0 Ok"]
    assert h.ask("RCPT TO:<ö@mx.example.test>") == ["250 2.1.5 Ok"]


def test_size_limit_during_data_aborts():
    h = started(message_size_limit=100)
    h.ask("EHLO c")
    h.ask("MAIL FROM:<a@example.org>")
    h.ask("RCPT TO:<b@mx.example.test>")
    h.ask("DATA")
    h.say("x" * 80 + "\r\n" + "y" * 80 + "\r\n.\r\n")
    assert h.lines() == ["552 5.3.4 Error: message file too big"]
    assert h.submitter.writers[0].aborted


def test_content_filter_is_handed_to_cleanup_with_each_message():
    for value, options in (("scan:[127.0.0.1]:10025", {"content_filter": "scan:[127.0.0.1]:10025"}),
                           ("", {})):  # -o content_filter= : nothing to hand over
        h = started(content_filter=value)
        h.ask("EHLO c")
        h.ask("MAIL FROM:<a@example.org>")
        h.ask("RCPT TO:<b@mx.example.test>")
        h.ask("DATA")
        h.say("Subject: x\r\n\r\nbody\r\n.\r\n")
        assert h.lines()[0].startswith("250 ")
        assert h.submitter.writers[0].options == options


def test_no_submitter_gives_451_at_data():
    h = started()

    def missing():
        raise LookupError("no service provides IMailSubmitter")
    h.session._submitter = missing
    h.ask("EHLO c")
    h.ask("MAIL FROM:<a@example.org>")
    h.ask("RCPT TO:<b@mx.example.test>")
    assert h.ask("DATA") == ["451 4.3.0 Error: queue file write error"]


def test_relay_reject_is_logged_as_postfix_does():
    h = started(addr="192.0.2.7")
    h.ask("EHLO c.example.org")
    h.ask("MAIL FROM:<s@example.org>")
    assert h.ask("RCPT TO:<x@elsewhere.example>") == ["454 4.7.1 <x@elsewhere.example>: Relay access denied"]
    assert ("NOQUEUE: reject: RCPT from client.example.org[192.0.2.7]: 454 4.7.1 <x@elsewhere.example>: "
            "Relay access denied; from=<s@example.org> to=<x@elsewhere.example> proto=ESMTP "
            "helo=<c.example.org>") in h.log.lines


def test_over_connection_limit_greeting():
    from pfx.envelope import Client
    from pfx.smtp.server import ServerConnection
    from pfx.smtpd.session import Session
    from tests.unit.smtpd.smtpd_helpers import RecordingLog, make_config
    from twisted.internet.task import Clock

    config = make_config()
    conn = ServerConnection(config.server)
    s = Session(conn, config, Client("unknown", "192.0.2.1"), RecordingLog(), Clock(), None, over_limit=True)
    assert str(s.greeting()) == "421 4.7.0 mx.example.test Error: too many connections from 192.0.2.1"


def test_forbidden_command_logs_and_disconnects():
    h = started()
    assert h.ask("GET / HTTP/1.0") == ["221 2.7.0 Error: I can break rules, too. Goodbye."]
    assert h.transport.disconnecting
    assert "warning: non-SMTP command from client.example.org[127.0.0.1]: GET / HTTP/1.0" in h.log.lines


def test_fake_writers_provide_the_interface():
    from zope.interface.verify import verifyObject
    from pfx.interfaces import IMessageWriter
    h = started()
    h.ask("EHLO c")
    h.ask("MAIL FROM:<a@example.org>")
    h.ask("RCPT TO:<b@mx.example.test>")
    h.ask("DATA")
    assert verifyObject(IMessageWriter, h.submitter.writers[0])


def test_timeout_mid_data_aborts_and_logs():
    h = started(smtpd_timeout="60s")
    h.ask("EHLO c")
    h.ask("MAIL FROM:<a@example.org>")
    h.ask("RCPT TO:<b@mx.example.test>")
    h.ask("DATA")
    h.say("Subject: slow\r\n")
    h.clock.advance(60)
    assert h.lines() == ["421 4.4.2 mx.example.test Error: timeout exceeded"]
    h.close()
    assert h.submitter.writers[0].aborted
    assert "timeout after DATA from client.example.org[127.0.0.1]" in h.log.lines


def test_without_delay_reject_checks_run_at_their_command():
    h = started(addr="192.0.2.5", smtpd_delay_reject="no", smtpd_helo_restrictions="reject_non_fqdn_helo_hostname",
                smtpd_sender_restrictions="reject_non_fqdn_sender")
    assert h.ask("HELO localhost") == ["504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"]
    assert h.ask("HELO c.example.org") == ["250 mx.example.test"]
    assert h.ask("MAIL FROM:<a@host>") == ["504 5.5.2 <a@host>: Sender address rejected: need fully-qualified address"]
    assert h.ask("RCPT TO:<b@mx.example.test>") == ["503 5.5.1 Error: need MAIL command"]
    assert "NOQUEUE: reject: MAIL from client.example.org[192.0.2.5]: 504 5.5.2 <a@host>: Sender address " \
        "rejected: need fully-qualified address; from=<a@host> proto=SMTP helo=<c.example.org>" in h.log.lines


def test_without_delay_reject_a_rejected_client_is_denied_every_transaction():
    h = started(addr="192.0.2.5", smtpd_delay_reject="no", smtpd_client_restrictions="reject")
    assert h.ask("EHLO c.example.org")[0] == "250-mx.example.test"
    assert h.ask("MAIL FROM:<a@example.org>") == ["503 5.7.0 Error: access denied for client.example.org[192.0.2.5]"]
    assert h.ask("QUIT") == ["221 2.0.0 Bye"]


def test_delayed_reject_of_client_comes_at_rcpt():
    h = started(addr="192.0.2.5", smtpd_client_restrictions="reject")
    h.ask("EHLO c.example.org")
    assert h.ask("MAIL FROM:<a@example.org>") == ["250 2.1.0 Ok"]
    assert h.ask("RCPT TO:<b@mx.example.test>") == \
        ["554 5.7.1 <client.example.org[192.0.2.5]>: Client host rejected: Access denied"]
    assert h.ask("DATA") == ["554 5.5.1 Error: no valid recipients"]


def test_data_and_end_of_data_restrictions():
    h = started(smtpd_data_restrictions="reject_unauth_pipelining")
    h.ask("EHLO c")
    h.ask("MAIL FROM:<a@example.org>")
    h.ask("RCPT TO:<b@mx.example.test>")
    h.say("DATA\r\nSubject: too early\r\n")
    assert h.lines()[0] == "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining"
    h2 = started(smtpd_end_of_data_restrictions="reject")
    h2.ask("EHLO c")
    h2.ask("MAIL FROM:<a@example.org>")
    h2.ask("RCPT TO:<b@mx.example.test>")
    h2.ask("DATA")
    h2.say("\r\n.\r\n")
    assert h2.lines() == ["554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied"]
    assert h2.submitter.writers[0].aborted
    assert any(line.startswith("4QID1: reject: END-OF-MESSAGE from") for line in h2.log.lines)


def test_unknown_restriction_answers_451_and_warns():
    h = started(smtpd_recipient_restrictions="no_such_thing")
    h.ask("EHLO c")
    h.ask("MAIL FROM:<a@example.org>")
    assert h.ask("RCPT TO:<b@mx.example.test>") == ["451 4.3.5 Server configuration error"]
    assert 'warning: unknown smtpd restriction: "no_such_thing"' in h.log.lines


def test_vrfy_runs_the_recipient_restrictions():
    h = started(addr="192.0.2.8")
    h.ask("EHLO c")
    assert h.ask("VRFY <x@elsewhere.example>") == ["454 4.7.1 <x@elsewhere.example>: Relay access denied"]
    assert h.ask("VRFY <u@mx.example.test>") == ["252 2.0.0 <u@mx.example.test>"]
    assert any(line.startswith("NOQUEUE: reject: VRFY from client.example.org[192.0.2.8]: 454 4.7.1")
               for line in h.log.lines)


def test_starttls_forgets_helo_and_protocol_gets_its_s_and_stays_esmtp():
    class Options:
        pass
    h = started(tls_options=Options(), smtpd_tls_security_level="may")
    h.transport.startTLS = lambda options: None
    h.ask("EHLO before.example.org")
    assert h.ask("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
    h.ask("HELO after.example.org")
    h.ask("MAIL FROM:<a@example.org>")
    h.ask("RCPT TO:<b@mx.example.test>")
    h.ask("DATA")
    h.say("\r\n.\r\n")
    data = h.submitter.writers[0].data.decode()
    # Postfix never downgrades the protocol name: EHLO, STARTTLS, HELO is still ESMTP
    # (checked against Postfix 3.7: "proto=ESMTP helo=<after...>")
    assert data.startswith("Received: from after.example.org (client.example.org [127.0.0.1])\n"
                           "\tby mx.example.test (pfx) with ESMTPS id 4QID1")
    assert h.submitter.writers[0].envelope.client.protocol == "ESMTPS"


def test_improper_pipelining_is_logged():
    h = started(smtpd_forbid_unauth_pipelining="yes")
    h.say("HELO c\r\nMAIL FROM:<a@example.org>\r\n")
    assert h.lines()[-1] == "554 5.5.0 Error: SMTP protocol synchronization"
    assert "improper command pipelining after HELO from client.example.org[127.0.0.1]: HELO c" in h.log.lines


def test_write_error_is_answered_at_end_of_data():
    h = started()
    h.ask("EHLO c")
    h.ask("MAIL FROM:<a@example.org>")
    h.ask("RCPT TO:<b@mx.example.test>")
    h.ask("DATA")
    writer = h.submitter.writers[0]

    def full(data):
        raise OSError(28, "No space left on device")
    writer.write = full
    h.say("Subject: x\r\n\r\nbody\r\n.\r\n")
    assert h.lines() == ["451 4.3.0 Error: queue file write error"]
    assert writer.aborted and not writer.committed
    assert h.ask("NOOP") == ["250 2.0.0 Ok"]


def test_lost_connection_names_the_last_command_of_a_later_transaction():
    h = started()
    h.ask("EHLO c")
    h.ask("MAIL FROM:<a@example.org>")
    h.ask("RCPT TO:<b@mx.example.test>")
    h.ask("DATA")
    h.say("\r\n.\r\n")
    h.ask("MAIL FROM:<a@example.org>")
    h.close()
    assert "lost connection after MAIL from client.example.org[127.0.0.1]" in h.log.lines


def test_tls_encrypt_requires_starttls_first():
    class Options:
        pass
    h = started(tls_options=Options(), smtpd_tls_security_level="encrypt")
    assert "250-STARTTLS" in h.ask("EHLO c")
    assert h.ask("MAIL FROM:<a@example.org>") == ["530 5.7.0 Must issue a STARTTLS command first"]
    h.transport.startTLS = lambda options: None
    assert h.ask("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
    assert "250-STARTTLS" not in h.ask("EHLO c")
    assert h.ask("MAIL FROM:<a@example.org>") == ["250 2.1.0 Ok"]
    assert h.ask("STARTTLS") == ["554 5.5.1 Error: TLS already active"]


def test_client_text_in_the_received_header_is_made_printable():
    h = started()
    h.ask("HELO bad\x01name")
    h.ask("MAIL FROM:<a@example.org>")
    h.ask("RCPT TO:<b\x02@mx.example.test>")
    h.ask("DATA")
    h.say("\r\n.\r\n")
    head = h.submitter.writers[0].data.decode().split("\n")
    assert head[0] == "Received: from bad?name (client.example.org [127.0.0.1])"
    assert head[2].startswith("\tfor <b?@mx.example.test>; ")


def test_reject_footer():
    h = started(addr="192.0.2.8", smtpd_reject_footer=r"\c; ask $server_name about $client_address")
    h.ask("EHLO c")
    h.ask("MAIL FROM:<a@example.org>")
    assert h.ask("RCPT TO:<x@elsewhere.example>") == \
        ["454 4.7.1 <x@elsewhere.example>: Relay access denied; ask mx.example.test about 192.0.2.8"]
    assert h.ask("NOOP") == ["250 2.0.0 Ok"]
    h2 = started(smtpd_reject_footer="Call 555-0101.")
    assert h2.ask("BOGUS") == ["500-5.5.2 Error: command not recognized", "500 5.5.2 Call 555-0101."]


@pytest.mark.parametrize("addr,exclusions,excluded", [
    ("127.0.0.1", None, True),  # the default, $mynetworks
    ("192.0.2.1", None, False),
    ("127.0.0.1", "", False),
    ("192.0.2.1", "192.0.2.0/24", True),
])
def test_forbid_bare_newline_exclusions(addr, exclusions, excluded):
    kw = {} if exclusions is None else {"smtpd_forbid_bare_newline_exclusions": exclusions}
    h = started(addr=addr, smtpd_forbid_bare_newline="reject", smtpd_client_restrictions="",
                smtpd_relay_restrictions="permit", **kw)
    for line in ("HELO c.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<b@mx.example.test>", "DATA"):
        h.ask(line)
    h.say("Subject: x\r\n\r\nbare\nline\r\n.\r\n")
    reply = h.lines()[-1]
    if excluded:
        assert reply == "250 2.0.0 Ok: queued as 4QID1"
    else:
        assert reply == "550 5.5.2 mx.example.test Error: bare <LF> received"
