"""ServerConnection's contract with its wrapper: order, flushing, pausing, TLS, limits, misuse."""

import ast
import pathlib

import pytest

from pfx.dsn import Dsn, Reply
from pfx.smtp import replies as R
from pfx.smtp.errors import LocalProtocolError, RemoteProtocolError
from pfx.smtp.events import (NEED_DATA, PAUSED, ConnectionClosed, DataChunk, Ehlo, EndOfData, MailFrom, Noop,
                             RcptTo, Reject, StartTLS)
from pfx.smtp.server import ServerConfig, ServerConnection

GREETING = Reply(220, None, "mx.example ESMTP pfx")


def conn(**kw):
    c = ServerConnection(ServerConfig(hostname="mx.example", **kw))
    assert c.send(GREETING) == b"220 mx.example ESMTP pfx\r\n"
    return c


def test_next_command_waits_for_the_reply_to_the_previous_one():
    c = conn()
    c.receive_data(b"EHLO a\r\nNOOP\r\nNOOP\r\n")
    assert isinstance(c.next_event(), Ehlo)
    assert c.next_event() is PAUSED
    assert c.input_pending  # RFC 2920: do not flush yet, more commands are buffered
    c.send(R.OK)
    assert isinstance(c.next_event(), Noop)
    c.send(R.OK)
    assert isinstance(c.next_event(), Noop)
    assert not c.input_pending  # now flush
    c.send(R.OK)
    assert c.next_event() is NEED_DATA


def test_half_a_line_needs_data():
    c = conn()
    c.receive_data(b"NO")
    assert c.next_event() is NEED_DATA
    c.receive_data(b"OP\r")
    assert c.next_event() is NEED_DATA
    c.receive_data(b"\n")
    assert isinstance(c.next_event(), Noop)


def test_send_without_an_event_is_a_bug_except_greeting_and_421():
    c = conn()
    with pytest.raises(LocalProtocolError):
        c.send(R.OK)
    assert c.send(R.timeout("mx.example")) == b"421 4.4.2 mx.example Error: timeout exceeded\r\n"
    assert c.closed and c.next_event() is PAUSED
    with pytest.raises(LocalProtocolError):
        c.send(R.OK)


def test_data_streams_bounded_chunks_and_counts_size():
    c = conn(chunk_size=100)
    c.receive_data(b"HELO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")
    for reply in (R.OK, R.MAIL_OK, R.RCPT_OK, R.START_DATA):
        c.next_event()
        c.send(reply)
    line = b"y" * 70 + b"\r\n"
    c.receive_data(line * 100 + b".\r\n")
    chunks = []
    while isinstance(ev := c.next_event(), DataChunk):
        chunks.append(ev.data)
        assert len(ev.data) <= 100 + 2048 + 2
    assert b"".join(chunks) == line * 100
    assert ev == EndOfData(size=len(line) * 100)
    assert c.next_event() is PAUSED
    c.send(R.queued("Q"))
    assert c.phase == "HELO"


def test_eof_in_the_middle_of_data_is_connection_closed_and_nothing_ends():
    c = conn()
    c.receive_data(b"HELO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")
    for reply in (R.OK, R.MAIL_OK, R.RCPT_OK, R.START_DATA):
        c.next_event()
        c.send(reply)
    c.receive_data(b"half a line")
    c.receive_data(b"")
    assert isinstance(c.next_event(), ConnectionClosed)


def test_starttls_with_nothing_pending_restarts_the_session():
    c = conn(tls_available=True)
    c.receive_data(b"EHLO a\r\nMAIL FROM:<a@b>\r\nSTARTTLS\r\n")
    for reply in (R.OK, R.MAIL_OK):
        c.next_event()
        c.send(reply)
    assert isinstance(c.next_event(), StartTLS)
    c.send(R.READY_TLS)
    assert c.next_event() is PAUSED  # nothing is read until TLS is up
    c.start_tls()
    assert (c.tls_active, c.helo_name, c.in_mail, c.phase) == (True, None, False, "START")
    c.receive_data(b"STARTTLS\r\n")
    assert c.next_event().reply == R.TLS_ACTIVE


def test_starttls_with_plaintext_pending_refuses_and_ends():
    c = conn(tls_available=True)
    c.receive_data(b"STARTTLS\r\nRCPT TO:<x@y>\r\n")
    c.next_event()
    c.send(R.READY_TLS)
    with pytest.raises(RemoteProtocolError) as info:
        c.start_tls()
    assert info.value.reply is None  # nothing may be said in either plaintext or TLS
    assert c.closed and not c.input_pending


def test_starttls_refused_by_the_session_keeps_plaintext_going():
    c = conn(tls_available=True)
    c.receive_data(b"STARTTLS\r\nNOOP\r\n")
    c.next_event()
    c.send(R.TLS_UNAVAILABLE)
    assert isinstance(c.next_event(), Noop)
    with pytest.raises(LocalProtocolError):
        c.start_tls()


def test_error_sleep_starts_at_the_soft_limit():
    c = conn(smtpd_soft_error_limit=2, smtpd_error_sleep_time=1.5)
    c.receive_data(b"X\r\nX\r\nX\r\n")
    sleeps = []
    for _ in range(3):
        c.send(c.next_event().reply)
        sleeps.append(c.error_sleep)
    assert sleeps == [0.0, 0.0, 1.5] and c.error_count == 3


def test_should_pause_and_the_hard_input_cap():
    c = conn(input_high_water=10, max_input_buffer=20)
    c.receive_data(b"NOOP\r\n" * 3)
    assert c.should_pause
    c.next_event()  # answer nothing: the wrapper ignores should_pause
    for _ in range(3):
        c.receive_data(b"NOOP\r\n")  # the third finds 24 unread bytes: over the cap
    assert c.next_event() is PAUSED
    c.send(R.OK)
    ev = c.next_event()
    assert isinstance(ev, Reject) and ev.close and ev.reply.code == 421
    c.send(ev.reply)
    assert c.closed


def test_events_carry_decoded_parameters():
    c = conn()
    c.receive_data(b"MAIL FROM:<\"a b\"@c> ENVID=QQ+2BZ RET=hdrs SMTPUTF8 BODY=8bitmime SIZE=12\r\n"
                   b"RCPT TO:<d@e> ORCPT=rfc822;d+40e NOTIFY=delay,failure\r\n")
    ev = c.next_event()
    assert isinstance(ev, MailFrom) and ev.address == '"a b"@c'
    assert (ev.params.envid, ev.params.ret, ev.params.smtputf8, ev.params.body, ev.params.size) == \
        ("QQ+Z", "HDRS", True, "8BITMIME", 12)
    c.send(R.MAIL_OK)
    ev = c.next_event()
    assert isinstance(ev, RcptTo) and ev.address == "d@e"
    assert ev.params.orcpt == "d@e" and ev.params.orcpt_type == "rfc822"
    assert ev.params.notify == frozenset({"DELAY", "FAILURE"})


def test_reject_footer_style_decoration_is_allowed():
    c = conn()
    c.receive_data(b"BOGUS\r\n")
    ev = c.next_event()
    out = c.send(Reply(ev.reply.code, ev.reply.dsn, ev.reply.text + "\nSee https://example/help"))
    assert out == b"500-5.5.2 Error: command not recognized\r\n500 5.5.2 See https://example/help\r\n"
    assert c.error_count == 1


def test_echoed_client_text_is_made_printable():
    c = conn()
    c.receive_data(b"MAIL FROM:<a@b> X=\x01\x7f\r\n")
    assert c.next_event().reply == Reply(555, Dsn("5.5.4"), "Unsupported option: X=??")


def test_config_rejects_bad_values():
    with pytest.raises(ValueError):
        ServerConfig(smtpd_forbid_bare_newline="maybe")
    with pytest.raises(ValueError):
        ServerConfig(line_length_limit=1)


def test_pfx_smtp_imports_no_twisted_and_modules_are_small():
    root = pathlib.Path(__file__).parents[3] / "pfx" / "smtp"
    for path in root.glob("*.py"):
        source = path.read_text()
        assert len(source.splitlines()) < 500, path
        assert ast.get_docstring(ast.parse(source)), path
        for node in ast.walk(ast.parse(source)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert not name.startswith("twisted"), (path, name)
                assert name.split(".")[0] in {"pfx", "attrs", "re", "collections", "ast", "enum"}, (path, name)
                if name.startswith("pfx."):
                    assert name.startswith(("pfx.smtp", "pfx.dsn", "pfx.errors")), (path, name)


def test_disconnect_summary_counts_like_postfix():
    from tests.unit.smtp.smtp_fakes import Driver
    d = Driver(ServerConfig(hostname="mx.example", sasl_enabled=True))
    d.feed(b"EHLO a\r\nAUTH PLAIN\r\n*\r\nMAIL FROM:<a@b>\r\nRCPT TO:<unknown@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n.\r\n"
           b"MAIL FROM:<a@b>\r\nRCPT TO:<b@x>\r\nBDAT 1\r\nxBDAT 1 LAST\r\nyBOGUS\r\nQUIT\r\n")
    assert d.conn.disconnect_summary() == \
        "ehlo=1 auth=0/1 mail=2 rcpt=2/3 data=1 bdat=2 quit=1 unknown=0/1 commands=9/12"
