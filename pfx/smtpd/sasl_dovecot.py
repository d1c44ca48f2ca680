"""smtpd_sasl_type = dovecot: Dovecot's authentication client protocol (version 1).

The wire rules are sans-IO in DovecotClientState; DovecotAuthConnection is an
IProtocol (connected by service.py, the only module here that faces the reactor) that
turns its events into Deferreds; DovecotBackend shares one connection between every
session of a master.cf row, as a Postfix smtpd process does, and reconnects after a loss.

Wire format (one request per line, fields separated by TAB):
  C: VERSION 1 2 / CPID <pid>           S: VERSION 1 x, MECH <name> [flags...]..., DONE
  C: AUTH <id> <MECH> service=smtp nologin lip=<ip> rip=<ip> [secured] [resp=<b64>]
  S: OK <id> user=<name> | CONT <id> <b64> | FAIL <id> [reason=...] [temp] [user=...]
  C: CONT <id> <b64>
Security: client data reaches Dovecot only as validated base64 (sasl.py checks it),
so it can never add fields or lines; Dovecot's lines are bounded (MAX_LINE).
"""

import itertools

import attrs
from twisted.internet import defer
from twisted.internet.interfaces import IProtocol
from twisted.python.failure import Failure
from zope.interface import implementer

MAX_LINE = 65536
MAJOR = 1


class DovecotProtocolError(Exception):
    """Dovecot said something this client does not understand (or too much of it)."""


class DovecotUnavailable(Exception):
    """No usable connection to the Dovecot auth server."""


@attrs.frozen
class Mechanism:
    name: str
    flags: frozenset = frozenset()  # plaintext, anonymous, dictionary, active, private, ...


@attrs.frozen
class Answer:
    """One server answer: kind is "ok", "cont" or "fail"; fields are the name=value args."""

    kind: str
    id: str
    data: str = ""  # CONT's base64 challenge
    fields: dict = attrs.field(factory=dict)
    flags: frozenset = frozenset()  # valueless args, e.g. "temp"


def _unescape(value: str) -> str:
    # Dovecot escapes \001 as \001 1, TAB as \001 t, LF as \001 n.
    if "\x01" not in value:
        return value
    out, it = [], iter(value)
    for c in it:
        if c == "\x01":
            nxt = next(it, "")
            out.append({"1": "\x01", "t": "\t", "n": "\n", "r": "\r", "0": "\0"}.get(nxt, nxt))
        else:
            out.append(c)
    return "".join(out)


def _safe(value: str) -> str:
    if any(c in value for c in "\t\n\r\x01"):
        raise ValueError("a Dovecot request field must not contain TAB, CR, LF or \\001")
    return value


class DovecotClientState:
    """The client side of the protocol, sans-IO: bytes in, events out, request bytes built."""

    def __init__(self, pid: int):
        self.pid = pid
        self.mechanisms: list[Mechanism] = []
        self.handshake_done = False
        self._buf = b""
        self._ids = itertools.count(1)

    def greeting(self) -> bytes:
        return f"VERSION\t{MAJOR}\t2\nCPID\t{self.pid}\n".encode()

    def receive(self, data: bytes) -> list:
        """-> events: "done" once the handshake ends, then Answer objects."""
        self._buf += data
        events = []
        while b"\n" in self._buf:
            line, self._buf = self._buf.split(b"\n", 1)
            event = self._line(line.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        if len(self._buf) > MAX_LINE:
            raise DovecotProtocolError("line too long")
        return events

    def _line(self, line: str):
        args = line.split("\t")
        verb = args[0]
        if not self.handshake_done:
            if verb == "VERSION":
                if len(args) < 2 or args[1] != str(MAJOR):
                    raise DovecotProtocolError(f"unsupported protocol version: {line[:60]}")
            elif verb == "MECH" and len(args) >= 2:
                self.mechanisms.append(Mechanism(args[1].upper(), frozenset(a.lower() for a in args[2:])))
            elif verb == "DONE":
                self.handshake_done = True
                return "done"
            return None  # SPID, CUID, COOKIE and the unknown are ignored
        if verb in ("OK", "CONT", "FAIL") and len(args) >= 2:
            if verb == "CONT":
                return Answer("cont", args[1], data=args[2] if len(args) > 2 else "")
            fields, flags = {}, set()
            for a in args[2:]:
                name, eq, value = a.partition("=")
                if eq:
                    fields[name] = _unescape(value)
                else:
                    flags.add(name)
            return Answer(verb.lower(), args[1], fields=fields, flags=frozenset(flags))
        return None

    def auth(self, mechanism: str, *, lip: str, rip: str, secured: bool, resp: str | None,
             service: str = "smtp", no_penalty: bool = False) -> tuple[str, bytes]:
        """-> (request id, the AUTH line)."""
        rid = str(next(self._ids))
        args = ["AUTH", rid, _safe(mechanism), f"service={_safe(service)}", "nologin"]
        if lip:
            args.append(f"lip={_safe(lip)}")
        if rip:
            args.append(f"rip={_safe(rip)}")
        if secured:
            args.append("secured")
        if no_penalty:
            args.append("no-penalty")
        if resp is not None:
            args.append(f"resp={_safe(resp)}")
        return rid, ("\t".join(args) + "\n").encode()

    def cont(self, rid: str, data: str) -> bytes:
        return f"CONT\t{rid}\t{_safe(data)}\n".encode()


@implementer(IProtocol)
class DovecotAuthConnection:
    """One connection to Dovecot's auth socket; ``ready`` fires with the mechanisms."""

    def __init__(self, pid: int):
        self.state = DovecotClientState(pid)
        self.ready = defer.Deferred()
        self.transport = None
        self.lost = False
        self._waiting: dict[str, defer.Deferred] = {}

    def makeConnection(self, transport):
        self.transport = transport
        self.connectionMade()

    def connectionMade(self):
        self.transport.write(self.state.greeting())

    def dataReceived(self, data):
        try:
            events = self.state.receive(data)
        except DovecotProtocolError as e:
            self._fail_all(e)
            self.transport.loseConnection()
            return
        for event in events:
            if event == "done":
                if not self.ready.called:
                    self.ready.callback(self.state.mechanisms)
            else:
                d = self._waiting.pop(event.id, None)
                if d is not None:
                    d.callback(event)

    def connectionLost(self, reason=None):
        self.lost = True
        self._fail_all(DovecotUnavailable("connection lost"))

    def _fail_all(self, error):
        if not self.ready.called:
            self.ready.errback(error)
        waiting, self._waiting = self._waiting, {}
        for d in waiting.values():
            d.errback(DovecotUnavailable(str(error)))

    def request(self, line_builder) -> defer.Deferred:
        """``line_builder(state) -> (id, bytes)``; -> Deferred[Answer]."""
        if self.lost:
            return defer.fail(DovecotUnavailable("connection lost"))
        rid, line = line_builder(self.state)
        d = defer.Deferred()
        self._waiting[rid] = d
        self.transport.write(line)
        return d

    def forget(self, rid: str):
        self._waiting.pop(rid, None)


class DovecotBackend:
    """The mechanisms and exchanges of one Dovecot auth server.

    ``connect()`` -> Deferred[a connected DovecotAuthConnection] (service.py builds it).
    """

    def __init__(self, connect, timeout: float, clock, service: str = "smtp", no_penalty: bool = False):
        self._connect, self.timeout, self.clock = connect, timeout, clock
        self.service, self.no_penalty = service, no_penalty
        self._conn = None
        self._waiters = []

    def connection(self) -> defer.Deferred:
        """-> Deferred[DovecotAuthConnection] once its handshake is done (shared, reconnected)."""
        if self._conn is not None and not self._conn.lost:
            return defer.succeed(self._conn)
        d = defer.Deferred()
        self._waiters.append(d)
        if len(self._waiters) == 1:
            attempt = defer.maybeDeferred(self._connect)
            attempt.addCallback(lambda conn: conn.ready.addCallback(lambda _: conn))
            attempt.addTimeout(self.timeout, self.clock)
            attempt.addBoth(self._settle)
        return d

    def _settle(self, result):
        waiters, self._waiters = self._waiters, []
        failed = isinstance(result, Failure)
        if not failed:
            self._conn = result
        for w in waiters:
            w.errback(result) if failed else w.callback(result)

    def mechanisms(self) -> defer.Deferred:
        """-> Deferred[[Mechanism]] (offered mechanisms, the private ones left out)."""
        return self.connection().addCallback(
            lambda conn: [m for m in conn.state.mechanisms if "private" not in m.flags])

    def exchange(self, mechanism: str, *, lip: str, rip: str, secured: bool):
        return DovecotExchange(self, mechanism, lip, rip, secured)


class DovecotExchange:
    """One AUTH dialogue: first(initial) and then next(response) -> Deferred[Answer]."""

    def __init__(self, backend, mechanism, lip, rip, secured):
        self.backend, self.mechanism = backend, mechanism
        self.lip, self.rip, self.secured = lip, rip, secured
        self._conn = self._rid = None

    def first(self, initial: str | None) -> defer.Deferred:
        b = self.backend

        def send(conn):
            self._conn = conn

            def build(state):
                rid, line = state.auth(self.mechanism, lip=self.lip, rip=self.rip, secured=self.secured,
                                       resp=initial, service=b.service, no_penalty=b.no_penalty)
                self._rid = rid
                return rid, line
            return conn.request(build)
        return b.connection().addCallback(send).addTimeout(b.timeout, b.clock)

    def next(self, response: str) -> defer.Deferred:
        b = self.backend
        d = self._conn.request(lambda state: (self._rid, state.cont(self._rid, response)))
        return d.addTimeout(b.timeout, b.clock)

    def abort(self):
        if self._conn is not None and self._rid is not None:
            self._conn.forget(self._rid)
