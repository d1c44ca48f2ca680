"""Authoritative test DNS server on 127.0.0.1, UDP and TCP on the same port (twisted.names).

Run as a program (``python dnsserver.py --zone FILE [--zone FILE] [--port N]
[--servfail NAME] [--silent NAME]``); it prints ``READY <port>`` once both sockets listen.
With ``--port 0`` (the default) it picks a port that is free for UDP and TCP at once, so
callers need no free_port() race. Only Twisted and the stdlib are imported: the file is
started by path, without the checkout on sys.path.

Fixes over a stock ``BindAuthority`` (COMPONENTS.md 3, pitfalls 3-5): absolute target names
lose their trailing dot after loading (otherwise the additional section and CNAME chasing
come out empty); UDP answers over 512 bytes become an empty reply with TC=1, so clients retry
over TCP. Names at or under a ``--servfail`` name answer SERVFAIL; under a ``--silent``
name, nothing is ever answered (the client times out). The zone files themselves must use
one-line SOA records and set ``$ORIGIN``.
"""

import argparse
import sys

from twisted.internet import defer, error as net_error, reactor
from twisted.names import authority, dns, error, server

UDP_LIMIT = 512
MAX_PENDING = 1000      # never-answered queries kept (bounded)


def _under(name: bytes, domains) -> bool:
    name = name.lower().rstrip(b".")
    return any(name == d or name.endswith(b"." + d) for d in domains)


class ZoneAuthority(authority.BindAuthority):
    """A BindAuthority with normalised target names and injected faults."""

    def __init__(self, filename, servfail=(), silent=()):
        self.servfail = tuple(d.lower().rstrip(".").encode() for d in servfail)
        self.silent = tuple(d.lower().rstrip(".").encode() for d in silent)
        self.pending = []
        super().__init__(filename)

    def loadFile(self, filename):
        super().loadFile(filename)
        for records in self.records.values():
            for record in records:
                for attr in ("name", "mname", "rname"):
                    value = getattr(record, attr, None)
                    if isinstance(value, dns.Name):
                        setattr(record, attr, dns.Name(value.name.rstrip(b".")))

    def _lookup(self, name, cls, type, timeout=None):
        if _under(name, self.servfail):
            # any exception other than a DomainError becomes rcode 2
            return defer.fail(error.ResolverError("injected SERVFAIL"))
        if _under(name, self.silent):
            d = defer.Deferred()
            self.pending.append(d)
            del self.pending[:-MAX_PENDING]
            return d
        return super()._lookup(name, cls, type, timeout)


class TruncatingDatagramProtocol(dns.DNSDatagramProtocol):
    """twisted.names sends UDP answers of any size; real servers without EDNS truncate."""

    def writeMessage(self, message, address):
        data = message.toStr()
        if len(data) > UDP_LIMIT:
            message.answers, message.authority, message.additional = [], [], []
            message.trunc = 1
            data = message.toStr()
        self.transport.write(data, address)


def listen(factory, port, attempts=50):
    """Bind UDP and TCP on the same port of 127.0.0.1; with port 0 retry until both fit."""
    for _ in range(attempts if port == 0 else 1):
        udp = reactor.listenUDP(port, TruncatingDatagramProtocol(factory), interface="127.0.0.1")
        chosen = udp.getHost().port
        try:
            reactor.listenTCP(chosen, factory, interface="127.0.0.1")
            return chosen
        except net_error.CannotListenError:
            udp.stopListening()
            if port != 0:
                raise
    raise SystemExit("no port free for both UDP and TCP")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--zone", action="append", required=True, help="BIND zone file")
    p.add_argument("--servfail", action="append", default=[], help="answer SERVFAIL at/under")
    p.add_argument("--silent", action="append", default=[], help="never answer at/under")
    args = p.parse_args(argv)
    zones = [ZoneAuthority(z, args.servfail, args.silent) for z in args.zone]
    factory = server.DNSServerFactory(authorities=zones, verbose=0)
    factory.noisy = False
    port = listen(factory, args.port)
    print("READY", port, flush=True)
    reactor.run()


if __name__ == "__main__":
    sys.exit(main())
