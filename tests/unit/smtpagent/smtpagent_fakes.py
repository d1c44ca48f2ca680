"""Fakes for the smtp/lmtp agent's unit tests: a zone-backed resolver and scripted servers.

No reactor runs: ``FakeServer`` answers synchronously inside ``transport.write``, and
timeouts are driven with ``task.Clock``.
"""

import io

from twisted.internet import defer
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.names import dns, error
from twisted.python.failure import Failure

from pfx.agents.smtp.agent import SmtpAgent
from pfx.agents.smtp.params import AGENT_PARAMS, read_config
from pfx.agents.smtp.protocol import SmtpClientProtocol
from pfx.config.core import CORE_PARAMS
from pfx.config.params import ParamRegistry
from pfx.config.settings import Setting, Settings
from pfx.envelope import DeliveryRequest, Recipient
from pfx.runtime.build import inline_runtime


class FakeResolver:
    """mx: {domain: [(pref, host)]}, a/aaaa: {host: [addr]}; names in nx are NXDOMAIN,
    in servfail SERVFAIL, in silent a timeout. Anything else: NODATA."""

    def __init__(self, mx=None, a=None, aaaa=None, nx=(), servfail=(), silent=()):
        self.mx, self.a, self.aaaa = mx or {}, a or {}, aaaa or {}
        self.nx, self.servfail, self.silent = set(nx), set(servfail), set(silent)
        self.queries = []

    def _answer(self, name, rrtype, records):
        self.queries.append((rrtype, name))
        if name in self.nx:
            return defer.fail(error.DNSNameError(name))
        if name in self.servfail:
            return defer.fail(error.DNSServerError(name))
        if name in self.silent:
            return defer.fail(defer.TimeoutError(name))
        return defer.succeed((records, [], []))

    def lookupMailExchange(self, name):
        rrs = [dns.RRHeader(name, dns.MX, payload=dns.Record_MX(p, h))
               for p, h in self.mx.get(name, [])]
        return self._answer(name, "MX", rrs)

    def lookupAddress(self, name):
        rrs = [dns.RRHeader(name, dns.A, payload=dns.Record_A(x)) for x in self.a.get(name, [])]
        return self._answer(name, "A", rrs)

    def lookupIPV6Address(self, name):
        rrs = [dns.RRHeader(name, dns.AAAA, payload=dns.Record_AAAA(x))
               for x in self.aaaa.get(name, [])]
        return self._answer(name, "AAAA", rrs)


class FakeServer:
    """A scripted SMTP/LMTP server. ``replies`` maps a command word (or "RCPT:addr",
    "END:addr" for LMTP) to a reply line; ``silent`` commands are never answered."""

    def __init__(self, ehlo=("PIPELINING", "8BITMIME", "SIZE 10240000", "DSN", "STARTTLS"),
                 greeting="220 mx ESMTP", replies=None, silent=(), drop=(), plaintext_after_tls=b""):
        self.ehlo, self.greeting = list(ehlo), greeting
        self.replies = dict(replies or {})
        self.silent, self.drop = set(silent), set(drop)
        self.plaintext_after_tls = plaintext_after_tls
        self.lines = []  # commands received
        self.bodies = []
        self.writes = []  # raw writes, to see pipelining
        self.tls = False

    def attach(self, proto):
        transport = _ServerTransport(self, proto)
        proto.makeConnection(transport)
        if self.greeting and "CONNECT" not in self.silent:
            proto.dataReceived(self.greeting.encode() + b"\r\n")
        return transport

    def answer(self, line):
        word = line.split(" ", 1)[0].upper()
        if word in ("EHLO", "LHLO"):
            if word in self.replies:
                return self.replies[word]
            ext = [e for e in self.ehlo if not (self.tls and e == "STARTTLS")]
            lines = ["mx"] + ext
            return "\r\n".join(f"250{'-' if i < len(lines) - 1 else ' '}{x}"
                               for i, x in enumerate(lines))
        if word == "RCPT":
            addr = line[line.index("<") + 1:line.index(">")]
            return self.replies.get(f"RCPT:{addr}", self.replies.get("RCPT", "250 2.1.5 Ok"))
        defaults = {"HELO": "250 mx", "MAIL": "250 2.1.0 Ok", "DATA": "354 End data with <CR><LF>.<CR><LF>",
                    "QUIT": "221 2.0.0 Bye", "RSET": "250 2.0.0 Ok", "STARTTLS": "220 2.0.0 Ready to start TLS",
                    "AUTH": "235 2.7.0 Authentication successful"}
        return self.replies.get(word, defaults.get(word, "502 5.5.2 Error: command not recognized"))


class _ServerTransport(StringTransport):
    def __init__(self, server, proto):
        super().__init__()
        self.server, self.proto = server, proto
        self.buf = b""
        self.in_data = False
        self.body = b""
        self.rcpts = []
        self.tls_creator = None
        self.peer_cert = None

    def write(self, data):
        super().write(data)
        self.server.writes.append(data)
        self.buf += data
        out = []
        while not self.disconnecting:
            if self.in_data:
                end = self.buf.find(b"\r\n.\r\n")
                if end < 0:
                    break
                self.server.bodies.append(self.buf[2:end + 2])
                self.buf, self.in_data = self.buf[end + 5:], False
                if self.proto.conn.lmtp:
                    for r in self.rcpts:
                        out.append(self.server.replies.get(f"END:{r}", "250 2.0.0 Ok delivered"))
                else:
                    out.append(self.server.replies.get("END", "250 2.0.0 Ok: queued as ABC"))
                continue
            nl = self.buf.find(b"\r\n")
            if nl < 0:
                break
            line, self.buf = self.buf[:nl].decode(), self.buf[nl + 2:]
            self.server.lines.append(line)
            word = line.split(" ", 1)[0].upper()
            if word in self.server.drop:
                self._respond(out)
                self.loseConnection()
                return
            if word in self.server.silent:
                continue
            reply = self.server.answer(line)
            if word == "MAIL":
                self.rcpts = []
            if word == "RCPT" and reply.startswith("2"):
                self.rcpts.append(line[line.index("<") + 1:line.index(">")])
            if word == "DATA" and reply.startswith("354"):
                self.in_data = True
                self.buf = b"\r\n" + self.buf  # the DATA line's CRLF starts the terminator
            out.append(reply)
            if word == "STARTTLS" and reply.startswith("220"):
                self._respond(out, extra=self.server.plaintext_after_tls)
                return
            if word == "QUIT":
                self._respond(out)
                self.loseConnection()
                return
        self._respond(out)

    def _respond(self, out, extra=b""):
        if out or extra:
            self.proto.dataReceived(b"".join(r.encode() + b"\r\n" for r in out) + extra)

    def startTLS(self, creator):
        self.tls_creator = creator
        self.server.tls = True
        if getattr(self.server, "tls_hangs", False):
            return  # the handshake never completes
        if getattr(self.server, "tls_fails", False):
            self.loseConnection()
        else:
            self.proto.handshakeCompleted()

    def getPeerCertificate(self):
        return self.peer_cert

    def loseConnection(self):
        if not self.disconnecting:
            self.disconnecting = True
            self.proto.connectionLost(Failure(ConnectionRefusedError()))

    abortConnection = loseConnection


class Network:
    """The connector: address -> FakeServer; unknown addresses refuse the connection."""

    def __init__(self, clock, servers=None):
        self.clock = clock
        self.servers = dict(servers or {})
        self.attempts = []

    def __call__(self, reactor, target, timeout, lmtp, line_limit):
        self.attempts.append(target)
        server = self.servers.get(target.addr)
        if server is None:
            return defer.fail(ConnectionRefusedError("Connection refused"))
        if server == "timeout":
            return defer.fail(__import__("twisted.internet.error", fromlist=["x"]).TimeoutError())
        proto = SmtpClientProtocol(self.clock, lmtp, line_limit)
        server.attach(proto)
        return defer.succeed(proto)


def settings(lmtp=False, **values):
    registry = ParamRegistry(CORE_PARAMS)
    registry.add_declarations(AGENT_PARAMS)
    values.setdefault("myhostname", "client.example")
    explicit = {k: Setting(str(v)) for k, v in values.items()}
    return Settings(registry, explicit, "/nonexistent").for_service("lmtp" if lmtp else "smtp")


class Tables:
    """A registry stand-in: every spec opens the same dict."""

    def __init__(self, data):
        self.data = data

    def open_list(self, spec):
        return self

    def lookup(self, key):
        return self.data.get(key)


def make_agent(servers=None, resolver=None, lmtp=False, tables=None, seed=1, **values):
    import random

    clock = Clock()
    net = Network(clock, servers)
    runtime = inline_runtime(clock, resolver=resolver, tables=tables)
    config = read_config(settings(lmtp, **values), lmtp)
    agent = SmtpAgent(config, runtime, "/var/spool/pfx", connector=net,
                      tls_creator=lambda policy: policy, rng=random.Random(seed))
    return agent, net, clock


def request(*addresses, nexthop="", body=b"Subject: t\n\nhello\n", **kw):
    return DeliveryRequest(queue_id="ABC123", queue_name="active", sender="s@client.example",
                           recipients=[Recipient(a) for a in addresses], transport="smtp",
                           nexthop=nexthop, size=len(body), arrival=0.0,
                           open_content=lambda: io.BytesIO(body), **kw)


def result_of(d):
    out = []

    def keep(r):
        out.append(r)
        return None if isinstance(r, Failure) else r
    d.addBoth(keep)
    assert out, "the Deferred has not fired"
    if isinstance(out[0], Failure):
        out[0].raiseException()
    return out[0]
