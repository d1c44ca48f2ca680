"""Dovecot's auth client protocol: the sans-IO state, the connection on a StringTransport,
and the shared backend with a Clock."""

import pytest
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from pfx.smtpd.sasl_dovecot import (Answer, DovecotAuthConnection, DovecotBackend, DovecotClientState,
                                    DovecotProtocolError, DovecotUnavailable, Mechanism)

HANDSHAKE = (b"VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nMECH\tSECRET\tprivate\n"
             b"SPID\t9616\nCUID\t3\nCOOKIE\t91ec\nDONE\n")


def test_handshake_and_mechanisms():
    s = DovecotClientState(4242)
    assert s.greeting() == b"VERSION\t1\t2\nCPID\t4242\n"
    assert s.receive(HANDSHAKE[:20]) == []
    assert s.receive(HANDSHAKE[20:]) == ["done"]
    assert s.mechanisms[0] == Mechanism("PLAIN", frozenset({"plaintext"}))
    assert [m.name for m in s.mechanisms] == ["PLAIN", "LOGIN", "SECRET"]


def test_wrong_major_version():
    with pytest.raises(DovecotProtocolError):
        DovecotClientState(1).receive(b"VERSION\t2\t0\n")


def test_auth_line_and_answers():
    s = DovecotClientState(1)
    s.receive(HANDSHAKE)
    rid, line = s.auth("PLAIN", lip="127.0.0.1", rip="192.0.2.7", secured=True, resp="AGEAYg==")
    assert line == (b"AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=192.0.2.7\tsecured"
                    b"\tresp=AGEAYg==\n")
    rid2, line = s.auth("LOGIN", lip="", rip="192.0.2.7", secured=False, resp=None, no_penalty=True)
    assert rid2 == "2" and line == b"AUTH\t2\tLOGIN\tservice=smtp\tnologin\trip=192.0.2.7\tno-penalty\n"
    assert s.cont("2", "Ym9i") == b"CONT\t2\tYm9i\n"
    events = s.receive(b"OK\t1\tuser=alice@example.test\nCONT\t2\tVXNlcm5hbWU6\n"
                       b"FAIL\t3\tuser=bob\treason=bad\x01tthing\ttemp\n")
    assert events == [Answer("ok", "1", fields={"user": "alice@example.test"}),
                      Answer("cont", "2", data="VXNlcm5hbWU6"),
                      Answer("fail", "3", fields={"user": "bob", "reason": "bad\tthing"}, flags=frozenset({"temp"}))]


def test_fields_cannot_be_injected():
    with pytest.raises(ValueError):
        DovecotClientState(1).auth("PLAIN", lip="", rip="1.2.3.4", secured=False, resp="x\tuser=root")


def test_too_long_line():
    with pytest.raises(DovecotProtocolError):
        DovecotClientState(1).receive(b"x" * 70000)


def connected():
    conn = DovecotAuthConnection(77)
    t = StringTransport()
    conn.makeConnection(t)
    return conn, t


def test_connection_round_trip():
    conn, t = connected()
    assert t.value() == b"VERSION\t1\t2\nCPID\t77\n"
    mechs = []
    conn.ready.addCallback(mechs.append)
    conn.dataReceived(HANDSHAKE)
    assert [m.name for m in mechs[0]] == ["PLAIN", "LOGIN", "SECRET"]
    t.clear()
    got = []
    conn.request(lambda s: s.auth("PLAIN", lip="", rip="1.2.3.4", secured=False, resp="AA==")).addCallback(got.append)
    assert t.value().startswith(b"AUTH\t1\tPLAIN\t")
    conn.dataReceived(b"OK\t1\tuser=bob\n")
    assert got == [Answer("ok", "1", fields={"user": "bob"})]


def test_connection_lost_fails_waiting_requests():
    conn, t = connected()
    conn.dataReceived(HANDSHAKE)
    failures = []
    conn.request(lambda s: s.auth("PLAIN", lip="", rip="1.2.3.4", secured=False, resp=None)).addErrback(failures.append)
    conn.connectionLost(None)
    assert failures[0].check(DovecotUnavailable)
    assert conn.request(lambda s: ("9", b"")).called


def test_backend_shares_one_connection_and_hides_private_mechanisms():
    made = []

    def connect():
        conn, t = connected()
        made.append((conn, t))
        return defer.succeed(conn)
    clock = Clock()
    backend = DovecotBackend(connect, 5, clock)
    first, second = [], []
    backend.mechanisms().addCallback(first.append)
    backend.mechanisms().addCallback(second.append)
    assert len(made) == 1
    made[0][0].dataReceived(HANDSHAKE)
    assert [m.name for m in first[0]] == [m.name for m in second[0]] == ["PLAIN", "LOGIN"]

    ex = backend.exchange("LOGIN", lip="127.0.0.1", rip="192.0.2.1", secured=True)
    answers = []
    ex.first(None).addCallback(answers.append)
    conn, t = made[0]
    assert t.value().endswith(b"AUTH\t1\tLOGIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=192.0.2.1\tsecured\n")
    conn.dataReceived(b"CONT\t1\tVXNlcm5hbWU6\n")
    ex.next("Ym9i").addCallback(answers.append)
    assert t.value().endswith(b"CONT\t1\tYm9i\n")
    conn.dataReceived(b"FAIL\t1\tuser=bob\n")
    assert [a.kind for a in answers] == ["cont", "fail"]

    conn.connectionLost(None)  # the next use reconnects
    backend.mechanisms()
    assert len(made) == 2


def test_backend_times_out():
    clock = Clock()
    backend = DovecotBackend(lambda: defer.Deferred(), 5, clock)
    failures = []
    backend.mechanisms().addErrback(failures.append)
    clock.advance(6)
    assert failures
