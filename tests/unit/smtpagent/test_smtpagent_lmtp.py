"""LMTP: one reply per accepted recipient after DATA, unix sockets, Dovecot-shaped replies."""

from smtpagent_fakes import FakeServer, make_agent, request, result_of

DOVECOT_EHLO = ("8BITMIME", "CHUNKING", "ENHANCEDSTATUSCODES", "PIPELINING")


def test_one_status_per_accepted_recipient_in_order():
    server = FakeServer(ehlo=DOVECOT_EHLO, greeting="220 mx.example.test Dovecot ready.", replies={
        "RCPT:ghost@example.test": "550 5.1.1 <ghost@example.test> User doesn't exist: ghost@example.test",
        "END:alice@example.test": "250 2.0.0 <alice@example.test> abc Saved",
        "END:carol@example.test": "552 5.2.2 <carol@example.test> Quota exceeded (mailbox for user is full)",
        "END:dave@example.test": "452 4.2.2 <dave@example.test> Quota exceeded (mailbox for user is full)",
    })
    agent, net, _ = make_agent({"127.0.0.1": server}, None, lmtp=True)
    res = result_of(agent.deliver(request(
        "alice@example.test", "ghost@example.test", "carol@example.test", "dave@example.test",
        nexthop="inet:127.0.0.1:2424")))
    got = [(s.action, str(s.dsn), s.text, s.relay) for s in res.statuses]
    relay = "127.0.0.1[127.0.0.1]:2424"
    assert got == [
        ("sent", "2.0.0", "250 2.0.0 <alice@example.test> abc Saved", relay),
        ("bounced", "5.1.1", "host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <ghost@example.test> User "
                             "doesn't exist: ghost@example.test (in reply to RCPT TO command)", relay),
        ("bounced", "5.2.2", "host 127.0.0.1[127.0.0.1] said: 552 5.2.2 <carol@example.test> Quota "
                             "exceeded (mailbox for user is full) (in reply to end of DATA command)", relay),
        ("deferred", "4.2.2", "host 127.0.0.1[127.0.0.1] said: 452 4.2.2 <dave@example.test> Quota "
                              "exceeded (mailbox for user is full) (in reply to end of DATA command)", relay),
    ]
    assert server.lines[0] == "LHLO client.example"
    assert not any("SIZE=" in ln for ln in server.lines)  # Dovecot does not offer SIZE


def test_unix_socket_relay_form_and_relative_path():
    server = FakeServer(ehlo=DOVECOT_EHLO)
    agent, net, _ = make_agent({"private/dovecot-lmtp": server}, None, lmtp=True,
                               myhostname="mail.example.com")
    [s] = result_of(agent.deliver(request("a@example.test", nexthop="unix:private/dovecot-lmtp"))).statuses
    assert s.relay == "mail.example.com[private/dovecot-lmtp]"
    assert net.attempts[0].path == "/var/spool/pfx/private/dovecot-lmtp"


def test_unix_socket_missing_defers():
    agent, _, _ = make_agent({}, None, lmtp=True, myhostname="mail.example.com")
    [s] = result_of(agent.deliver(request("a@example.test", nexthop="unix:/run/none"))).statuses
    assert (s.action, str(s.dsn), s.text) == (
        "deferred", "4.4.1", "connect to mail.example.com[/run/none]: Connection refused")


def test_lmtp_timeouts_are_the_lmtp_twins():
    server = FakeServer(ehlo=("8BITMIME",), silent={"MAIL"})  # unpipelined: MAIL alone
    agent, _, clock = make_agent({"127.0.0.1": server}, None, lmtp=True, lmtp_mail_timeout="3s",
                                 smtp_mail_timeout="100s")
    d = agent.deliver(request("a@example.test", nexthop="inet:127.0.0.1"))
    clock.advance(3)
    [s] = result_of(d).statuses
    assert s.text == "conversation with 127.0.0.1[127.0.0.1] timed out while sending MAIL FROM"


def test_lhlo_name_and_timeout_are_lmtps_own_parameters():
    server = FakeServer(ehlo=("8BITMIME",), silent={"CONNECT"})
    agent, _, clock = make_agent({"127.0.0.1": server}, None, lmtp=True, lmtp_lhlo_timeout="4s")
    d = agent.deliver(request("a@example.test", nexthop="inet:127.0.0.1"))
    clock.advance(4)
    [s] = result_of(d).statuses
    assert s.text.endswith("timed out while receiving the initial server greeting")
    server = FakeServer(ehlo=("8BITMIME",))
    agent, _, _ = make_agent({"127.0.0.1": server}, None, lmtp=True, lmtp_lhlo_name="lmtp.client")
    result_of(agent.deliver(request("a@example.test", nexthop="inet:127.0.0.1")))
    assert server.lines[0] == "LHLO lmtp.client"


def test_lmtp_declares_postfixs_names():
    from pfx.agents.smtp.params import AGENT_PARAMS
    names = {p.name for p in AGENT_PARAMS}
    assert {"lmtp_lhlo_name", "lmtp_lhlo_timeout", "smtp_helo_name", "smtp_never_send_ehlo"} <= names
    assert not names & {"lmtp_helo_name", "lmtp_helo_timeout", "lmtp_never_send_ehlo"}


def test_lmtp_replies_before_a_lost_connection_stay_final():
    server = FakeServer(ehlo=DOVECOT_EHLO, replies={
        "END:a@example.test": "250 2.0.0 <a@example.test> Saved",
        "END:b@example.test": "421 4.3.0 shutting down",
        "RCPT:x@example.test": "550 5.1.1 <x@example.test> User doesn't exist"})
    agent, _, _ = make_agent({"127.0.0.1": server}, None, lmtp=True)
    res = result_of(agent.deliver(request("a@example.test", "x@example.test", "b@example.test",
                                          "c@example.test", nexthop="inet:127.0.0.1")))
    got = [(s.action, str(s.dsn)) for s in res.statuses]
    # a was saved and x refused before the server left: never sent or tried again
    assert got == [("sent", "2.0.0"), ("bounced", "5.1.1"), ("deferred", "4.3.0"), ("deferred", "4.3.0")]
    assert res.statuses[3].text == ("host 127.0.0.1[127.0.0.1] said: 421 4.3.0 shutting down "
                                    "(in reply to end of DATA command)")
