"""SMTPServerProtocol with StringTransport and Clock: timeouts, error sleep, flush, backpressure, STARTTLS, DATA."""

from twisted.internet import defer

from pfx.dsn import Dsn, Reply
from tests.unit.smtpd.smtpd_helpers import FakeSubmitter, Harness


def test_greeting_is_the_banner():
    h = Harness()
    assert h.out() == "220 mx.example.test ESMTP pfx\r\n"
    assert h.log.lines == ["connect from client.example.org[127.0.0.1]"]


def test_idle_client_gets_421_after_smtpd_timeout():
    h = Harness(smtpd_timeout="300s")
    h.out()
    h.ask("EHLO c.example.org")
    h.clock.advance(299)
    assert h.out() == ""
    h.clock.advance(1)
    assert h.out() == "421 4.4.2 mx.example.test Error: timeout exceeded\r\n"
    assert h.transport.disconnecting
    h.close()
    assert "timeout after EHLO from client.example.org[127.0.0.1]" in h.log.lines
    assert "lost connection" not in h.log.text()


def test_activity_resets_the_timer():
    h = Harness(smtpd_timeout="10s")
    h.out()
    h.clock.advance(9)
    h.ask("NOOP")
    h.clock.advance(9)
    assert h.out() == ""
    assert not h.transport.disconnecting


def test_error_sleep_delays_replies_once_soft_limit_reached():
    h = Harness(smtpd_soft_error_limit=2, smtpd_error_sleep_time="1s")
    h.out()
    assert h.ask("BOGUS") == ["500 5.5.2 Error: command not recognized"]
    assert h.ask("BOGUS") == ["500 5.5.2 Error: command not recognized"]
    h.say("BOGUS\r\n")
    assert h.out() == ""
    h.clock.advance(1)
    assert h.out() == "500 5.5.2 Error: command not recognized\r\n"


def test_pipelined_replies_are_held_until_input_is_drained():
    h = Harness()
    h.out()
    h.ask("EHLO c.example.org")
    writes = []
    h.transport.write = lambda data: writes.append(data)
    h.say("MAIL FROM:<a@example.org>\r\nRCPT TO:<b@mx.example.test>\r\nDATA\r\n")
    assert writes == [b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"]


def test_partial_line_behind_a_command_still_flushes():
    h = Harness()
    h.out()
    h.say("NOOP\r\nNO")
    assert h.out() == "250 2.0.0 Ok\r\n"
    h.say("OP\r\n")
    assert h.out() == "250 2.0.0 Ok\r\n"


def test_big_input_pauses_the_transport_and_resumes():
    h = Harness(smtpd_junk_command_limit=1000000)  # NOOPs galore are not junk here
    h.out()
    h.ask("EHLO c")
    slow = defer.Deferred()
    h.session.handle = lambda event: slow  # the session is busy with the first command
    h.say("NOOP\r\n" * 50000)
    assert h.transport.producerState == "paused"
    del h.session.handle
    slow.callback(Reply(250, Dsn("2.0.0"), "Ok"))
    assert h.transport.producerState == "producing"
    assert h.out().count("250 2.0.0 Ok\r\n") == 50000


class FakeTLS:
    pass


def test_starttls_with_pipelined_plaintext_aborts_without_answering():
    h = Harness(tls_options=FakeTLS(), smtpd_tls_security_level="may")
    h.out()
    assert "250-STARTTLS" in h.ask("EHLO c")
    started = []
    h.transport.startTLS = lambda options: started.append(options)
    aborted = []
    h.transport.abortConnection = lambda: aborted.append(True)
    h.say("STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n")
    assert h.out() == "220 2.0.0 Ready to start TLS\r\n"
    assert aborted == [True] and started == []


def test_starttls_starts_tls_and_resets_the_session():
    h = Harness(tls_options=FakeTLS(), smtpd_tls_security_level="may")
    h.out()
    h.ask("EHLO c")
    started = []
    h.transport.startTLS = lambda options: started.append(options)
    assert h.ask("STARTTLS") == ["220 2.0.0 Ready to start TLS"]
    assert len(started) == 1
    lines = h.ask("EHLO c")
    assert "250-STARTTLS" not in lines


def _transaction(h):
    h.out()
    h.ask("EHLO c.example.org")
    h.ask("MAIL FROM:<a@example.org>")
    assert h.ask("RCPT TO:<b@mx.example.test>") == ["250 2.1.5 Ok"]
    assert h.ask("DATA") == ["354 End data with <CR><LF>.<CR><LF>"]


def test_queued_reply_only_after_commit_fires():
    pending = defer.Deferred()
    h = Harness(submitter=FakeSubmitter(commit_result=pending))
    _transaction(h)
    h.say("Subject: x\r\n\r\nbody\r\n.\r\n")
    assert h.out() == ""
    pending.callback("4QID1")
    assert h.out() == "250 2.0.0 Ok: queued as 4QID1\r\n"
    writer = h.submitter.writers[0]
    assert writer.committed and not writer.aborted
    assert writer.data.endswith(b"Subject: x\r\n\r\nbody\r\n")


def test_commit_failure_reply_reaches_the_client():
    class Failed(Exception):
        reply = Reply(452, Dsn("4.3.1"), "Insufficient system storage")
    h = Harness(submitter=FakeSubmitter(commit_result=defer.fail(Failed())))
    _transaction(h)
    h.say("\r\nbody\r\n.\r\n")
    assert h.out() == "452 4.3.1 Insufficient system storage\r\n"


def test_disconnect_mid_data_aborts_the_message():
    h = Harness()
    _transaction(h)
    h.say("Subject: half\r\n")
    h.close()
    assert h.submitter.writers[0].aborted
    assert "lost connection after DATA from client.example.org[127.0.0.1]" in h.log.lines
    assert h.log.lines[-1].startswith("disconnect from client.example.org[127.0.0.1] ehlo=1 mail=1 rcpt=1")


def test_quit_closes_and_logs_the_summary():
    h = Harness()
    h.out()
    h.ask("EHLO c")
    assert h.ask("QUIT") == ["221 2.0.0 Bye"]
    assert h.transport.disconnecting
    h.close()
    assert h.log.lines[-1] == "disconnect from client.example.org[127.0.0.1] ehlo=1 quit=1 commands=2"


def test_session_exception_becomes_451():
    h = Harness()
    h.out()

    def boom(event):
        raise RuntimeError("bug")
    h.session.handle = boom
    assert h.ask("NOOP") == ["451 4.3.0 Error: internal error"]


def test_greeting_waits_for_the_client_name_and_nothing_is_answered_before():
    from pfx.envelope import Client
    from pfx.smtp.server import ServerConnection
    from pfx.smtpd.protocol import SMTPServerProtocol
    from pfx.smtpd.session import Session
    from twisted.internet.task import Clock
    from twisted.internet.testing import StringTransport
    from tests.unit.smtpd.smtpd_helpers import RecordingLog, make_config

    config, clock, log = make_config(), Clock(), RecordingLog()
    lookups = []

    def lookup(addr):
        lookups.append(defer.Deferred())
        return lookups[-1]
    conn = ServerConnection(config.server)
    session = Session(conn, config, Client("unknown", "192.0.2.3"), log, clock, FakeSubmitter, name_lookup=lookup)
    proto = SMTPServerProtocol(conn, session, clock, 300, None)
    transport = StringTransport()
    proto.makeConnection(transport)
    proto.dataReceived(b"NOOP\r\n")
    assert transport.value() == b""
    lookups[0].callback("mail.example.org")
    assert transport.value() == b"220 mx.example.test ESMTP pfx\r\n250 2.0.0 Ok\r\n"
    assert log.lines[0] == "connect from mail.example.org[192.0.2.3]"


def test_verified_name_of_loopback():
    from pfx.smtpd.service import verified_name
    assert verified_name("127.0.0.1") in ("localhost", "unknown") or "." in verified_name("127.0.0.1")


def test_slow_writer_holds_the_body_and_the_reply():
    h = Harness()
    _transaction(h)
    writer = h.submitter.writers[0]
    pending = []

    def slow_write(data):
        writer.data += data
        pending.append(defer.Deferred())
        return pending[-1]
    writer.write = slow_write
    h.say("Subject: x\r\n\r\nbody\r\n.\r\nNOOP\r\n")
    assert h.out() == "" and len(pending) == 1
    pending[0].callback(None)
    assert h.out() == "250 2.0.0 Ok: queued as 4QID1\r\n250 2.0.0 Ok\r\n"


def test_failed_asynchronous_write_answers_451():
    h = Harness()
    _transaction(h)
    writer = h.submitter.writers[0]
    writer.write = lambda data: defer.fail(OSError(28, "No space left on device"))
    h.say("Subject: x\r\n\r\nbody\r\n.\r\n")
    assert h.out() == "451 4.3.0 Error: queue file write error\r\n"
    assert writer.aborted and not writer.committed
