"""SIZE, SMTPUTF8, DSN parameters and the 8BITMIME downgrade."""

from smtpagent_fakes import FakeResolver, FakeServer, make_agent, request, result_of

from pfx.envelope import DeliveryRequest, Recipient

ONE = FakeResolver(mx={"example.com": [(10, "mx1.example.com")]}, a={"mx1.example.com": ["192.0.2.1"]})
BODY8 = "Subject: x\nContent-Type: text/plain; charset=utf-8\n\nh\u00e9llo\n".encode()


def run(server, req=None, **values):
    agent, _, _ = make_agent({"192.0.2.1": server}, ONE, **values)
    return result_of(agent.deliver(req or request("a@example.com"))).statuses


def test_size_over_the_servers_limit_bounces_before_mail():
    server = FakeServer(ehlo=("PIPELINING", "SIZE 10"))
    [s] = run(server)
    assert (s.action, str(s.dsn), s.text) == (
        "bounced", "5.3.4", "message size 18 exceeds size limit 10 of server mx1.example.com[192.0.2.1]")
    assert not any(ln.startswith("MAIL") for ln in server.lines)


def test_smtputf8_required_but_not_offered_bounces():
    utf8 = "Subject: caf\u00e9\n\nhello\n".encode()
    for req in (request("a@example.com", smtputf8=True, body=utf8),
                request("j\u00f6rg@example.com", smtputf8=True)):
        [s] = run(FakeServer(), req)
        assert (s.action, str(s.dsn), s.text) == (
            "bounced", "5.6.7",
            "SMTPUTF8 is required, but was not offered by host mx1.example.com[192.0.2.1]")


def test_smtputf8_requested_but_not_needed_is_delivered_without_it():
    # smtp_proto.c: only DELIVERY_REQUIRES_SMTPUTF8 (requested and a UTF-8 address or
    # header) bounces; an ASCII message goes out without the SMTPUTF8 parameter
    server = FakeServer()
    body = "Subject: plain\n\nbody caf\u00e9\n".encode()  # 8-bit body, ASCII headers
    [s] = run(server, request("a@example.com", smtputf8=True, body=body, body_type="8BITMIME"))
    assert s.action == "sent" and "SMTPUTF8" not in server.lines[1]


def test_smtputf8_offered_is_requested():
    server = FakeServer(ehlo=("PIPELINING", "SMTPUTF8", "8BITMIME"))
    [s] = run(server, request("a@example.com", smtputf8=True))
    assert s.action == "sent" and server.lines[1].endswith(" SMTPUTF8")


def test_dsn_parameters_are_passed_on():
    server = FakeServer()
    req = DeliveryRequest(queue_id="Q", queue_name="active", sender="s@x", transport="smtp",
                          recipients=[Recipient("a@example.com", orcpt="rfc822;A@Example.com",
                                                notify={"FAILURE", "DELAY"})],
                          nexthop="", size=5, arrival=0, envid="id+1", ret="HDRS",
                          open_content=lambda: __import__("io").BytesIO(b"x\n"))
    run(server, req)
    assert server.lines[1] == "MAIL FROM:<s@x> SIZE=5 ENVID=id+2B1 RET=HDRS"
    assert server.lines[2] == "RCPT TO:<a@example.com> ORCPT=rfc822;A@Example.com NOTIFY=FAILURE,DELAY"


def test_8bit_body_is_quoted_printable_for_a_7bit_server():
    server = FakeServer(ehlo=("PIPELINING",))
    [s] = run(server, request("a@example.com", body=BODY8, body_type="8BITMIME"))
    assert s.action == "sent"
    assert b"h=C3=A9llo" in server.bodies[0] and b"quoted-printable" in server.bodies[0]
    assert "BODY=" not in server.lines[1]


def test_8bit_body_passes_with_8bitmime_or_conversion_disabled():
    server = FakeServer()
    run(server, request("a@example.com", body=BODY8, body_type="8BITMIME"))
    assert "h\u00e9llo".encode() in server.bodies[0] and server.lines[1].endswith("BODY=8BITMIME")
    server = FakeServer(ehlo=("PIPELINING",))
    run(server, request("a@example.com", body=BODY8, body_type="8BITMIME"),
        disable_mime_output_conversion="yes")
    assert "h\u00e9llo".encode() in server.bodies[0]


def test_long_lines_are_folded_at_smtp_line_length_limit():
    from pfx.agents.smtp.mime import LineFolder
    f = LineFolder(5)
    assert f.feed(b"abcdefghij") + f.feed(b"kl\nxy\r\n") == b"abcde\n fghi\n jkl\nxy\r\n"
    assert LineFolder(0).feed(b"x" * 5000) == b"x" * 5000
    server = FakeServer()
    run(server, request("a@example.com", body=b"Subject: x\n\n" + b"y" * 2500 + b"\n"))
    lines = server.bodies[0].split(b"\r\n")
    assert [len(ln) for ln in lines[2:5]] == [998, 998, 506] and lines[3].startswith(b" y")
