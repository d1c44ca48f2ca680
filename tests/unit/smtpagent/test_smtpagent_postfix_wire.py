"""What smtp(8)'s smtp_proto.c puts on the wire and says when the handshake is refused:
quoted envelope addresses, ORCPT from the original recipient, no SIZE before a MIME
downgrade, HELO after any EHLO refusal, and "refused to talk to me"."""

from smtpagent_fakes import FakeResolver, FakeServer, make_agent, request, result_of

from pfx.envelope import DeliveryRequest, Recipient

ONE = FakeResolver(mx={"example.com": [(10, "mx1.example.com")]},
                   a={"mx1.example.com": ["192.0.2.1"]})
BODY8 = "Subject: x\nContent-Type: text/plain; charset=utf-8\n\nh\u00e9llo\n".encode()


def run(server, req=None, lmtp=False, **values):
    agent, _, _ = make_agent({"192.0.2.1": server}, ONE, lmtp=lmtp, **values)
    return result_of(agent.deliver(req or request("a@example.com"))).statuses


def envelope(sender, *recipients):
    return DeliveryRequest(queue_id="Q", queue_name="active", sender=sender, transport="smtp",
                           recipients=list(recipients), nexthop="", size=2, arrival=0,
                           open_content=lambda: __import__("io").BytesIO(b"x\n"))


def test_envelope_addresses_are_quoted_as_rfc_5321_wants():
    # queue files keep the internal (unquoted) form; MAIL and RCPT need quote_821_local
    server = FakeServer()
    statuses = run(server, envelope("john doe@client.example",
                                    Recipient("a b@example.com"), Recipient("c@example.com")))
    assert [s.action for s in statuses] == ["sent", "sent"]
    assert server.lines[1] == 'MAIL FROM:<"john doe"@client.example> SIZE=2'
    assert server.lines[2] == 'RCPT TO:<"a b"@example.com>'
    assert server.lines[3] == "RCPT TO:<c@example.com>"
    null = FakeServer()
    run(null, envelope("", Recipient("c@example.com")))
    assert null.lines[1] == "MAIL FROM:<> SIZE=2"


def test_orcpt_falls_back_to_the_original_recipient():
    server = FakeServer()
    run(server, envelope("s@x", Recipient("a@example.com", orig="Alias+x@Example.com"),
                         Recipient("b@example.com", orig="b@example.com", notify={"NEVER"}),
                         Recipient("c@example.com", orig="x y@example.com",
                                   orcpt="rfc822;z@example.com"),
                         Recipient("d@example.com", orig="d\u00e9@example.com")))
    assert server.lines[2:6] == [
        "RCPT TO:<a@example.com> ORCPT=rfc822;Alias+2Bx@Example.com",
        "RCPT TO:<b@example.com> ORCPT=rfc822;b@example.com NOTIFY=NEVER",
        "RCPT TO:<c@example.com> ORCPT=rfc822;z@example.com",
        "RCPT TO:<d@example.com>"]
    plain = FakeServer(ehlo=("PIPELINING",))  # no DSN offered: no ORCPT at all
    run(plain, envelope("s@x", Recipient("a@example.com", orig="o@example.com")))
    assert plain.lines[2] == "RCPT TO:<a@example.com>"


def test_no_size_when_the_body_is_downgraded():
    server = FakeServer(ehlo=("PIPELINING", "SIZE 10240000"))
    [s] = run(server, request("a@example.com", body=BODY8, body_type="8BITMIME"))
    assert s.action == "sent" and server.lines[1] == "MAIL FROM:<s@client.example>"
    kept = FakeServer(ehlo=("PIPELINING", "SIZE 10240000"))
    run(kept, request("a@example.com", body=BODY8, body_type="8BITMIME"),
        disable_mime_output_conversion="yes")
    assert kept.lines[1] == f"MAIL FROM:<s@client.example> SIZE={len(BODY8)}"


def test_any_ehlo_refusal_but_421_falls_back_to_helo():
    server = FakeServer(replies={"EHLO": "450 4.7.1 not now"})
    [s] = run(server)
    assert s.action == "sent"
    assert [ln.split()[0] for ln in server.lines[:2]] == ["EHLO", "HELO"]
    gone = FakeServer(replies={"EHLO": "421 4.3.2 shutting down"})
    [s] = run(gone)
    assert (s.action, str(s.dsn), s.text) == (
        "deferred", "4.3.2", "host mx1.example.com[192.0.2.1] refused to talk to me: "
                             "421 4.3.2 shutting down")
    assert not any(ln.startswith("HELO") for ln in gone.lines)


def test_helo_and_lhlo_refusals_are_worded_as_smtp_helo_words_them():
    server = FakeServer(replies={"EHLO": "502 5.5.2 no", "HELO": "550 5.7.1 not you"})
    [s] = run(server)
    assert (s.action, str(s.dsn), s.text) == (
        "bounced", "5.7.1", "host mx1.example.com[192.0.2.1] refused to talk to me: "
                            "550 5.7.1 not you")
    assert s.remote_reply == "550 5.7.1 not you"
    lmtp = FakeServer(replies={"LHLO": "451 4.3.0 busy"})
    [s] = run(lmtp, request("a@example.com", nexthop="inet:[192.0.2.1]:24"), lmtp=True)
    assert (s.action, s.text) == (
        "deferred", "host 192.0.2.1[192.0.2.1] refused to talk to me: 451 4.3.0 busy")


def test_connection_setup_ends_when_mail_from_is_sent():
    # smtp_proto.c stamps conn_setup_done at MAIL FROM; qmgr logs delays c/d from it
    server = FakeServer()
    agent, _, clock = make_agent({"192.0.2.1": server}, ONE)
    clock.advance(5)
    [s] = result_of(agent.deliver(request("a@example.com"))).statuses
    assert (s.action, s.setup_done) == ("sent", clock.seconds())
    agent, _, clock = make_agent({}, ONE)  # nobody answers: no set-up ever ended
    [s] = result_of(agent.deliver(request("a@example.com"))).statuses
    assert (s.action, s.setup_done) == ("deferred", None)


def test_without_always_send_ehlo_only_an_esmtp_greeting_gets_ehlo():
    plain = FakeServer(greeting="220 mx.example.com Sendmail ready")
    run(plain, smtp_always_send_ehlo="no")
    assert plain.lines[0].split()[0] == "HELO"
    esmtp = FakeServer(greeting="220 mx.example.com esmtp ready")
    run(esmtp, smtp_always_send_ehlo="no")
    assert esmtp.lines[0].split()[0] == "EHLO"
    default = FakeServer(greeting="220 mx.example.com Sendmail ready")
    run(default)
    assert default.lines[0].split()[0] == "EHLO"
