"""check_policy_service: attributes sent, actions applied, failures give the default action; the socket client."""

from twisted.internet import defer
from twisted.internet.testing import MemoryReactorClock, StringTransport

from pfx.smtpd.checks import CheckState, evaluate
from pfx.smtpd.policy import encode_request, parse_response
from pfx.smtpd.service import policy_client
from tests.unit.smtpd.smtpd_helpers import make_config
from tests.unit.smtpd.test_smtpd_checks import result_of


def reply_of(action, **settings):
    seen = []

    def policy(spec, attrs):
        seen.append((spec, attrs))
        if isinstance(action, Exception):
            return defer.fail(action)
        return defer.succeed(action)
    config = make_config(smtpd_relay_restrictions="",
                         smtpd_recipient_restrictions="check_policy_service inet:127.0.0.1:9998", **settings)
    state = CheckState(config, "client.example.org", "192.0.2.1", helo="c.example.org", esmtp=True,
                       sender="s@example.org", recipient="r@mx.example.test", command="RCPT", policy=policy)
    v = result_of(evaluate(state, ("relay", "recipient")))
    return (str(v.reply) if v.reply else None), seen, state.notes


def test_attributes_sent():
    _, seen, _ = reply_of("DUNNO")
    spec, attrs = seen[0]
    assert spec == "inet:127.0.0.1:9998"
    assert attrs["request"] == "smtpd_access_policy"
    assert (attrs["protocol_state"], attrs["protocol_name"], attrs["helo_name"]) == ("RCPT", "ESMTP", "c.example.org")
    assert (attrs["sender"], attrs["recipient"], attrs["client_address"]) == \
        ("s@example.org", "r@mx.example.test", "192.0.2.1")


def test_actions():
    assert reply_of("DUNNO")[0] is None
    assert reply_of("OK")[0] is None
    assert reply_of("REJECT no thanks")[0] == \
        "554 5.7.1 <r@mx.example.test>: Recipient address rejected: no thanks"
    # the action's text is the reply's, as check_table_result() makes it
    assert reply_of("defer_if_permit Service temporarily unavailable")[0] == \
        "450 4.7.1 <r@mx.example.test>: Recipient address rejected: Service temporarily unavailable"


def test_unreachable_server_gives_the_default_action():
    reply, _, notes = reply_of(ConnectionRefusedError("refused"))
    assert reply == "451 4.3.5 <r@mx.example.test>: Recipient address rejected: Server configuration problem"
    assert "problem talking to policy server inet:127.0.0.1:9998" in notes[0]
    assert reply_of(ConnectionRefusedError(), smtpd_policy_service_default_action="DUNNO")[0] is None


def test_encoding_and_parsing():
    assert encode_request({"a": "1", "b": "x\ny"}) == b"a=1\nb=x y\n\n"
    assert parse_response(b"action=REJECT go\n") == "REJECT go"


def test_socket_client_on_a_memory_reactor():
    reactor = MemoryReactorClock()
    query = policy_client(reactor, 10)
    d = query("inet:127.0.0.1:9998", {"request": "smtpd_access_policy"})
    host, port, factory, timeout, _ = reactor.tcpClients[0]
    assert (host, port) == ("127.0.0.1", 9998)
    proto = factory.buildProtocol(None)
    transport = StringTransport()
    proto.makeConnection(transport)
    assert transport.value() == b"request=smtpd_access_policy\n\n"
    proto.dataReceived(b"action=DEFER later\n\n")
    assert result_of(d) == "DEFER later"


def test_socket_client_times_out():
    reactor = MemoryReactorClock()
    d = policy_client(reactor, 10)("127.0.0.1:9998", {})
    reactor.advance(11)
    failures = []
    d.addErrback(failures.append)
    assert failures
