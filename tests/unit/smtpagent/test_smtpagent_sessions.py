"""Failover, per-stage timeouts, pipelining, per-recipient results and Postfix's status texts."""

import pytest
from smtpagent_fakes import FakeResolver, FakeServer, make_agent, request, result_of

MX = FakeResolver(mx={"example.com": [(10, "mx1.example.com"), (20, "mx2.example.com"),
                                      (30, "mx3.example.com")]},
                  a={"mx1.example.com": ["192.0.2.1"], "mx2.example.com": ["192.0.2.2"],
                     "mx3.example.com": ["192.0.2.3"]})


def deliver(servers, *rcpts, resolver=MX, **values):
    agent, net, clock = make_agent(servers, resolver, **values)
    d = agent.deliver(request(*(rcpts or ("a@example.com",))))
    return d, net, clock


def statuses(d):
    return [(s.action, str(s.dsn), s.text) for s in result_of(d).statuses]


def test_next_mx_after_connection_refused():
    d, net, _ = deliver({"192.0.2.2": FakeServer()})
    [s] = result_of(d).statuses
    assert (s.action, s.relay) == ("sent", "mx2.example.com[192.0.2.2]:25")
    assert [t.addr for t in net.attempts] == ["192.0.2.1", "192.0.2.2"]


def test_all_refused_defers_with_the_last_connect_error():
    d, net, _ = deliver({})
    assert statuses(d) == [("deferred", "4.4.1",
                            "connect to mx3.example.com[192.0.2.3]:25: Connection refused")]
    assert result_of(d).statuses[0].relay == "none"


def test_bad_greetings_move_on_and_do_not_count_as_sessions():
    d, net, _ = deliver({"192.0.2.1": FakeServer(greeting="421 4.3.2 busy"),
                         "192.0.2.2": FakeServer(greeting="554 5.7.1 go away"),
                         "192.0.2.3": FakeServer()})
    assert statuses(d)[0][0] == "sent"
    assert len(net.attempts) == 3


def test_5xx_greeting_is_soft_when_skipped():
    one = FakeResolver(mx={"example.com": [(10, "mx1.example.com")]},
                       a={"mx1.example.com": ["192.0.2.1"]})
    d, _, _ = deliver({"192.0.2.1": FakeServer(greeting="554 5.7.1 go away")}, resolver=one)
    assert statuses(d) == [("deferred", "4.7.1", "host mx1.example.com[192.0.2.1] refused to "
                            "talk to me: 554 5.7.1 go away")]


def test_5xx_greeting_bounces_when_not_skipped():
    d, _, _ = deliver({"192.0.2.1": FakeServer(greeting="554 5.7.1 go away")},
                      smtp_skip_5xx_greeting="no")
    assert statuses(d)[0][:2] == ("bounced", "5.7.1")


def test_soft_rcpt_failure_is_retried_at_the_next_mx_and_hard_is_final():
    first = FakeServer(replies={"RCPT:soft@example.com": "451 4.3.0 try later",
                                "RCPT:hard@example.com": "550 5.1.1 no such user"})
    second = FakeServer()
    d, net, _ = deliver({"192.0.2.1": first, "192.0.2.2": second},
                        "ok@example.com", "soft@example.com", "hard@example.com")
    res = result_of(d).statuses
    assert [(s.action, s.relay) for s in res] == [
        ("sent", "mx1.example.com[192.0.2.1]:25"), ("sent", "mx2.example.com[192.0.2.2]:25"),
        ("bounced", "mx1.example.com[192.0.2.1]:25")]
    assert res[2].text == ("host mx1.example.com[192.0.2.1] said: 550 5.1.1 no such user "
                           "(in reply to RCPT TO command)")
    assert res[2].remote_reply == "550 5.1.1 no such user"
    assert [ln for ln in second.lines if ln.startswith("RCPT")] == ["RCPT TO:<soft@example.com>"]


def test_session_limit_stops_after_two_completed_sessions():
    busy = {"RCPT": "450 4.2.0 mailbox busy"}
    d, net, _ = deliver({a: FakeServer(replies=busy) for a in ("192.0.2.1", "192.0.2.2", "192.0.2.3")})
    assert statuses(d) == [("deferred", "4.2.0", "host mx2.example.com[192.0.2.2] said: "
                            "450 4.2.0 mailbox busy (in reply to RCPT TO command)")]
    assert len(net.attempts) == 2


def test_mail_from_rejection_applies_to_every_recipient():
    d, _, _ = deliver({"192.0.2.1": FakeServer(replies={"MAIL": "553 5.7.1 sender rejected"})},
                      "a@example.com", "b@example.com")
    assert {s[2] for s in statuses(d)} == {
        "host mx1.example.com[192.0.2.1] said: 553 5.7.1 sender rejected (in reply to MAIL FROM command)"}


def test_end_of_data_reply_and_multiline_quoting():
    server = FakeServer(replies={"END": "552-5.3.4 message too big\r\n552 5.3.4 really"})
    d, _, _ = deliver({"192.0.2.1": server})
    assert statuses(d) == [("bounced", "5.3.4", "host mx1.example.com[192.0.2.1] said: "
                            "552-5.3.4 message too big 552 5.3.4 really (in reply to end of DATA command)")]


def test_reply_without_enhanced_code_gets_class_dot_zero_dot_zero():
    d, _, _ = deliver({"192.0.2.1": FakeServer(replies={"RCPT": "550 no"})})
    assert statuses(d)[0][:2] == ("bounced", "5.0.0")


def test_pipelining_sends_mail_rcpt_data_in_one_write():
    server = FakeServer()
    d, _, _ = deliver({"192.0.2.1": server}, "a@example.com", "b@example.com")
    result_of(d)
    assert any(w.startswith(b"MAIL FROM") and w.endswith(b"DATA\r\n") and w.count(b"RCPT") == 2
               for w in server.writes)


def test_without_pipelining_one_command_per_write_and_no_data_without_recipients():
    server = FakeServer(ehlo=("8BITMIME",), replies={"RCPT": "550 5.1.1 unknown"})
    d, _, _ = deliver({"192.0.2.1": server}, "a@example.com", "b@example.com")
    assert [s[0] for s in statuses(d)] == ["bounced", "bounced"]
    assert all(w.count(b"\r\n") == 1 for w in server.writes)
    assert "DATA" not in server.lines


def test_ehlo_rejected_falls_back_to_helo_and_sends_no_esmtp_parameters():
    server = FakeServer(replies={"EHLO": "502 5.5.2 no ESMTP here"})
    d, _, _ = deliver({"192.0.2.1": server})
    assert statuses(d)[0][0] == "sent"
    assert server.lines[:3] == ["EHLO client.example", "HELO client.example",
                                "MAIL FROM:<s@client.example>"]


def test_never_send_ehlo():
    server = FakeServer()
    result_of(deliver({"192.0.2.1": server}, smtp_never_send_ehlo="yes")[0])
    assert server.lines[0] == "HELO client.example"


def test_dot_stuffing_and_crlf():
    server = FakeServer()
    agent, _, _ = make_agent({"192.0.2.1": server}, MX)
    result_of(agent.deliver(request("a@example.com", body=b"Subject: x\n\n.hidden\n..two\nend")))
    assert server.bodies == [b"Subject: x\r\n\r\n..hidden\r\n...two\r\nend\r\n"]


@pytest.mark.parametrize("command,param,text", [
    ("CONNECT", "smtp_helo_timeout", "receiving the initial server greeting"),
    ("EHLO", "smtp_helo_timeout", "performing the EHLO handshake"),
    ("MAIL", "smtp_mail_timeout", "sending MAIL FROM"),
    ("RCPT", "smtp_rcpt_timeout", "sending RCPT TO"),
    ("DATA", "smtp_data_init_timeout", "sending DATA command"),
    ("END", "smtp_data_done_timeout",
     "sending end of data -- message may be sent more than once"),
])
def test_each_stage_times_out_after_its_own_timeout(command, param, text):
    server = FakeServer(ehlo=("8BITMIME",), silent={command} if command != "END" else set(),
                        replies={})
    if command == "END":
        server.replies["END"] = None
    agent, net, clock = make_agent({"192.0.2.1": server}, FakeResolver(
        mx={"example.com": [(10, "mx1.example.com")]}, a={"mx1.example.com": ["192.0.2.1"]}),
        **{param: "7s"})
    if command == "END":  # a server that swallows the end of data
        import smtpagent_fakes
        orig = smtpagent_fakes._ServerTransport._respond
        smtpagent_fakes._ServerTransport._respond = lambda self, out, extra=b"": orig(
            self, [o for o in out if o is not None], extra)
    try:
        d = agent.deliver(request("a@example.com"))
        clock.advance(6.9)
        assert not d.called
        clock.advance(0.2)
        assert statuses(d) == [("deferred", "4.4.2",
                                f"conversation with mx1.example.com[192.0.2.1] timed out while {text}")]
    finally:
        if command == "END":
            smtpagent_fakes._ServerTransport._respond = orig


def test_lost_connection_text():
    d, _, _ = deliver({"192.0.2.1": FakeServer(drop={"MAIL"})},
                      resolver=FakeResolver(mx={"example.com": [(10, "mx1.example.com")]},
                                            a={"mx1.example.com": ["192.0.2.1"]}))
    assert statuses(d) == [("deferred", "4.4.2",
                            "lost connection with mx1.example.com[192.0.2.1] while sending MAIL FROM")]


def test_connect_timeout_text():
    d, _, _ = deliver({"192.0.2.1": "timeout"}, resolver=FakeResolver(
        mx={"example.com": [(10, "mx1.example.com")]}, a={"mx1.example.com": ["192.0.2.1"]}))
    assert statuses(d) == [("deferred", "4.4.1",
                            "connect to mx1.example.com[192.0.2.1]:25: Connection timed out")]


def test_stop_waits_for_deliveries_in_progress():
    server = FakeServer(silent={"MAIL"})
    agent, _, clock = make_agent({"192.0.2.1": server}, MX)
    agent.deliver(request("a@example.com"))
    stopped = agent.stop()
    assert not stopped.called
    clock.advance(300)
    clock.advance(300)
    clock.advance(300)
    assert stopped.called


def test_body_transfer_timeout_while_the_server_reads_nothing():
    server = FakeServer()
    one = FakeResolver(mx={"example.com": [(10, "mx1.example.com")]},
                       a={"mx1.example.com": ["192.0.2.1"]})
    agent, net, clock = make_agent({"192.0.2.1": server}, one, smtp_data_xfer_timeout="11s")
    orig = server.attach

    def attach(proto):  # the transport fills up as soon as the body starts
        t = orig(proto)
        write = t.write

        def w(data):
            write(data)
            if proto.conn._in_data:
                proto.pauseProducing()
        t.write = w
        return t
    server.attach = attach
    d = agent.deliver(request("a@example.com", body=b"x" * 200000))
    clock.advance(10.9)
    assert not d.called
    clock.advance(0.2)
    assert statuses(d)[0][1:] == ("4.4.2", "conversation with mx1.example.com[192.0.2.1] "
                                  "timed out while sending message body")
