"""The SMTP/LMTP client machine and the reply parser, also talking to the server machine."""

import pytest

from pfx.dsn import Dsn, Reply
from pfx.smtp import replies as R
from pfx.smtp.client import ClientConnection, Response, ServerClosed
from pfx.smtp.errors import LocalProtocolError, RemoteProtocolError
from pfx.smtp.events import NEED_DATA, MailParams, RcptParams
from pfx.smtp.replyparser import ReplyParser, parse_reply
from pfx.smtp.server import ServerConfig
from tests.unit.smtp.smtp_fakes import Driver


def test_reply_parser_multiline_and_dsn():
    r = parse_reply(b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n")
    assert r == Reply(250, None, "mx.example\nPIPELINING\nSIZE 10")
    r = parse_reply(b"550-5.1.1 no such user\r\n550 5.1.1 really\r\n")
    assert r == Reply(550, Dsn("5.1.1"), "no such user\nreally")
    assert parse_reply(b"250 5.1.1 mismatch\n") == Reply(250, None, "5.1.1 mismatch")
    assert parse_reply(b"354\r\n") == Reply(354, None, "")
    assert parse_reply(b"220 a\rb\r\n").text == "a b"


def test_reply_parser_round_trips_server_replies():
    for reply in (R.NO_VALID_RCPT, R.START_DATA, R.too_many_errors("h"), Reply(250, None, "a\nb\nc"),
                  Reply(451, Dsn("4.3.0"), "x\ny")):
        data = ("\r\n".join(reply.lines()) + "\r\n").encode()
        assert parse_reply(data) == reply
        p = ReplyParser()
        got = [r for i in range(len(data)) for r in p.feed(data[i:i + 1])]
        assert got == [reply]


@pytest.mark.parametrize("data", [b"hello\r\n", b"25 x\r\n", b"250-a\r\n251 b\r\n", b"199 x\r\n"])
def test_reply_parser_refuses_garbage(data):
    with pytest.raises(RemoteProtocolError):
        ReplyParser().feed(data)


def test_reply_parser_is_bounded():
    p = ReplyParser(line_limit=100, max_lines=5)
    assert p.feed(b"250 " + b"x" * 10000) == [Reply(250, None, "x" * 96)]
    assert p.feed(b"x" * 10000 + b"\r\n250 next\r\n") == [Reply(250, None, "next")]
    with pytest.raises(RemoteProtocolError):
        p.feed(b"250-x\r\n" * 6)


def _pair(**server_config):
    """A client wired to the server machine (with the fake session) in memory."""
    server = Driver(ServerConfig(hostname="mx.example", **server_config))
    client = ClientConnection()
    sent = bytearray()

    def flush_server():
        data = "".join(line[3:] + "\r\n" for line in server.out if line.startswith("S: ")).encode()
        server.out.clear()
        if data:
            client.receive_data(data)
        events = []
        while (ev := client.next_event()) is not NEED_DATA:
            events.append(ev)
        return events

    def to_server(data):
        sent.extend(data)
        server.feed(data)
        return flush_server()

    return server, client, flush_server, to_server


def test_client_delivers_through_the_server_with_pipelining():
    server, client, flush, to_server = _pair()
    assert flush()[0].command == "CONNECT"
    [ehlo] = to_server(client.ehlo("client.example"))
    assert "PIPELINING" in client.extensions and client.extensions["SIZE"] == "10240000"
    events = to_server(client.mail("a@b", MailParams(size=30, envid="x y", ret="HDRS"))
                       + client.rcpt("unknown@mx.example") + client.rcpt("c@mx.example", RcptParams(
                           notify=frozenset({"FAILURE", "DELAY"}), orcpt_type="rfc822", orcpt="c+x@d"))
                       + client.data())
    assert [(e.command, e.reply.code, e.recipient) for e in events] == [
        ("MAIL", 250, None), ("RCPT", 550, "unknown@mx.example"), ("RCPT", 250, "c@mx.example"), ("DATA", 354, None)]
    assert client.accepted == ["c@mx.example"]
    mail_event = server.session.events[1]
    assert mail_event.params.envid == "x y" and server.session.events[3].params.orcpt == "c+x@d"
    body = b"Subject: t\n\n.hidden\n\r\n.\r\nend"
    [end] = to_server(client.send_body(body[:7]) + client.send_body(body[7:]) + client.end_body())
    assert end == Response("END", R.queued("QID1"))
    assert server.session.messages == [b"Subject: t\r\n\r\n.hidden\r\n\r\n.\r\nend\r\n"]
    [bye] = to_server(client.quit())
    assert bye.reply == R.BYE


def test_client_bdat_through_the_server():
    server, client, flush, to_server = _pair()
    flush()
    to_server(client.ehlo("c"))
    events = to_server(client.mail("a@b") + client.rcpt("c@d") + client.bdat(b"\x00.\r\n", last=False)
                       + client.bdat(b"\xff", last=True))
    assert [(e.command, e.reply.text) for e in events][-2:] == [("BDAT", "Ok: 4 bytes"),
                                                                 ("END", "Ok: 5 bytes queued as QID1")]
    assert server.session.messages == [b"\x00.\r\n\xff"]


def test_lmtp_gives_one_end_reply_per_accepted_recipient():
    c = ClientConnection(lmtp=True)
    c.receive_data(b"220 lmtp ready\r\n")
    assert c.next_event().command == "CONNECT"
    wire = c.ehlo("me")
    assert wire == b"LHLO me\r\n"
    c.receive_data(b"250-lmtp\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n")
    c.next_event()
    wire = c.mail("s@x") + c.rcpt("a@x") + c.rcpt("b@x") + c.rcpt("c@x") + c.data()
    c.receive_data(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 unknown\r\n250 2.1.5 Ok\r\n354 go\r\n")
    assert [e.reply.code for e in iter(c.next_event, NEED_DATA)] == [250, 250, 550, 250, 354]
    assert c.send_body(b"hi\n") + c.end_body() == b"hi\r\n.\r\n"
    c.receive_data(b"250 2.0.0 a ok\r\n452 4.2.2 b over quota\r\n")
    got = list(iter(c.next_event, NEED_DATA))
    assert [(e.recipient, e.reply.code) for e in got] == [("a@x", 250), ("c@x", 452)]
    c.receive_data(b"")
    assert c.next_event() == ServerClosed(())


def test_client_refuses_misuse():
    c = ClientConnection()
    with pytest.raises(LocalProtocolError):
        c.ehlo("early")  # before the greeting
    c.receive_data(b"220 hi\r\n")
    c.next_event()
    c.receive_data(b"")
    c2 = ClientConnection()
    c2.receive_data(b"220 hi\r\n")
    c2.next_event()
    c2.helo("me")
    with pytest.raises(LocalProtocolError):
        c2.mail("a@b")  # no PIPELINING offered, HELO reply outstanding
    c2.receive_data(b"250 ok\r\n")
    c2.next_event()
    with pytest.raises(LocalProtocolError):
        c2.mail("a@b>\r\nRCPT TO:<victim@x")
    with pytest.raises(LocalProtocolError):
        c2.send_body(b"x")
    with pytest.raises(LocalProtocolError):
        c2.bdat(b"x")
    with pytest.raises(RemoteProtocolError):
        c2.receive_data(b"250 unasked\r\n")


def test_client_starttls_and_auth_through_the_server():
    server, client, flush, to_server = _pair(tls_available=True, sasl_enabled=True)
    flush()
    to_server(client.ehlo("c"))
    assert "STARTTLS" in client.extensions
    [ready] = to_server(client.starttls())
    assert ready.reply == R.READY_TLS and server.out == [] and server.conn.tls_active
    client.start_tls()
    assert client.extensions == {}
    to_server(client.ehlo("c"))
    assert "STARTTLS" not in client.extensions and client.extensions["AUTH"] == "PLAIN"
    [challenge] = to_server(client.auth("PLAIN"))
    assert challenge.reply.code == 334
    [done] = to_server(client.auth_response("AGJvYgBzZWNyZXQ="))
    assert done.reply == R.AUTH_OK and server.conn.authenticated
    assert client.auth("PLAIN", "") == b"AUTH PLAIN =\r\n"


def test_client_start_tls_refuses_server_data_after_220():
    c = ClientConnection()
    c.receive_data(b"220 hi\r\n250-x\r\n")  # greeting, then half a reply nobody asked for yet
    c.next_event()
    with pytest.raises(RemoteProtocolError):
        c.start_tls()
