"""The reactor-facing pieces: endpoints chosen per target, connect error texts, TLS contexts,
and the protocol's flow control with smtp_data_xfer_timeout (MemoryReactorClock, StringTransport)."""

import pytest
from twisted.internet import error
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure

from pfx.agents.smtp.connect import client_tls, connect_error_text, open_connection
from pfx.agents.smtp.destinations import Target
from pfx.agents.smtp.protocol import SessionTimeout, SmtpClientProtocol
from pfx.agents.smtp.tls_policy import TlsPolicy
from pfx.smtp.client import ServerClosed


def test_endpoints_per_target_kind():
    reactor = MemoryReactorClock()
    open_connection(reactor, Target("h", "192.0.2.1", 25), 30)
    open_connection(reactor, Target("h", "2001:db8::1", 2525), 30)
    open_connection(reactor, Target("h", "private/lmtp", 0, "unix", path="/q/private/lmtp"), 0,
                    lmtp=True)
    assert [(c[0], c[1], c[3]) for c in reactor.tcpClients] == [
        ("192.0.2.1", 25, 30), ("2001:db8::1", 2525, 30)]
    assert reactor.unixClients[0][0] == "/q/private/lmtp"


@pytest.mark.parametrize("exc,text", [
    (error.ConnectionRefusedError(), "Connection refused"),
    (error.TCPTimedOutError(), "Connection timed out"),
    (error.TimeoutError(), "Connection timed out"),
    (error.ConnectError(osError=2), "No such file or directory"),
    (error.ConnectError(string="2: No such file or directory."), "No such file or directory"),
])
def test_connect_error_texts(exc, text):
    assert connect_error_text(Failure(exc)) == text


@pytest.mark.parametrize("level", ["may", "encrypt", "verify"])
def test_tls_contexts_build(level, tmp_path):
    policy = TlsPolicy(level, protocols=("TLSv1.2", ""), ciphers="high", servername="mx.example.com")
    creator = client_tls(policy)
    assert creator.servername == "mx.example.com" and creator.context is not None


def _proto():
    clock = Clock()
    proto = SmtpClientProtocol(clock)
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport, clock


def test_body_writes_wait_while_the_transport_is_full_and_time_out():
    proto, transport, clock = _proto()
    assert transport.producer is proto and transport.streaming
    proto.pauseProducing()
    d = proto.write_body(b"x" * 10, 180)
    assert not d.called
    proto.resumeProducing()
    assert d.called
    proto.pauseProducing()
    failures = []
    proto.write_body(b"y", 180).addErrback(failures.append)
    clock.advance(180)
    assert failures and failures[0].check(SessionTimeout)


def test_reply_timeout_aborts_and_connection_loss_gives_server_closed():
    proto, transport, clock = _proto()
    failures = []
    proto.reply(5).addErrback(failures.append)
    clock.advance(5)
    assert failures[0].check(SessionTimeout)
    proto, transport, clock = _proto()
    got = []
    proto.reply(5).addCallback(got.append)
    proto.connectionLost(Failure(error.ConnectionDone()))
    assert isinstance(got[0], ServerClosed) and clock.getDelayedCalls() == []


def test_a_malformed_reply_is_a_protocol_violation():
    from pfx.agents.smtp.protocol import ProtocolViolation
    proto, transport, _ = _proto()
    failures = []
    proto.reply(5).addErrback(failures.append)
    proto.dataReceived(b"HTTP/1.1 400 Bad Request\r\n")
    assert failures[0].check(ProtocolViolation)
