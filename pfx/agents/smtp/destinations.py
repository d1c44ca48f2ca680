"""Next hop -> ordered server addresses: MX by preference (random among equals), A/AAAA, null MX.

Returns Deferreds only; the resolver (twisted.names IResolver) is injected. Postfix's
smtp_addr.c texts and codes: NXDOMAIN and NODATA are permanent (5.4.4 "Host or domain
name not found"; an MX lookup that finds nothing falls back to A/AAAA, whose error it is), SERVFAIL and timeouts temporary (4.4.3), a null MX (RFC 7505) is
5.1.0 "Domain X does not accept mail (nullMX)".

Security: DNS answers are untrusted; we use only MX and A/AAAA records of the names we
asked for, cap the addresses at smtp_mx_address_limit, and never connect to a name
that is not an address.
"""

import ipaddress
import os
import random

import attrs
from twisted.internet import defer
from twisted.names import dns, error
from twisted.python.failure import Failure

from pfx.address.domains import parse_nexthop
from pfx.agents.smtp.params import service_port

_TEMP = (error.DNSServerError, error.DNSQueryRefusedError, error.DNSQueryTimeoutError,
         error.DNSUnknownError, defer.TimeoutError)
_STRERROR = {"nxdomain": "Host not found",
             "nodata": "Host found but no data record of requested type",
             "temp": "Host not found, try again"}


@attrs.frozen
class Target:
    """One server to try: ``host[addr]:port`` (inet) or ``host[path]`` (unix)."""

    host: str
    addr: str
    port: int = 0
    kind: str = "inet"
    nexthop: str = ""  # the destination it came from, for TLS policy and SASL lookups
    mx: bool = False  # found by MX lookup (TLS "secure" then matches the nexthop)
    path: str = ""  # unix: the socket, relative names taken under queue_directory

    @property
    def relay(self) -> str:
        return f"{self.host}[{self.addr}]" + (f":{self.port}" if self.kind == "inet" else "")

    @property
    def name(self) -> str:
        """``host[addr]`` as in "host X said" and "connect to X"."""
        return f"{self.host}[{self.addr}]"

    @property
    def ipv6(self) -> bool:
        return ":" in self.addr and self.kind == "inet"


class DnsProblem(Exception):
    """No server could be found; ``dsn`` decides bounce (5) or defer (4)."""

    def __init__(self, dsn: str, text: str):
        super().__init__(text)
        self.dsn, self.text = dsn, text

    @property
    def soft(self) -> bool:
        return self.dsn.startswith("4")


def _problem(kind: str, name: str, rrtype: str) -> DnsProblem:
    dsn = "4.4.3" if kind == "temp" else "5.4.4"
    return DnsProblem(dsn, f"Host or domain name not found. Name service error for "
                           f"name={name} type={rrtype}: {_STRERROR[kind]}")


def _classify(failure) -> str:
    if failure.check(error.DNSNameError):
        return "nxdomain"
    if failure.check(*_TEMP):
        return "temp"
    return "temp"  # anything unexpected: try later rather than bounce


def order_mx(records, rng: random.Random) -> list[str]:
    """MX records -> exchange names, lowest preference first, shuffled among equals."""
    keyed = [(r.preference, rng.random(), str(r.name).rstrip(".")) for r in records]
    return [name for _, _, name in sorted(keyed)]


def order_addresses(v4: list[str], v6: list[str], preference: str) -> list[str]:
    """smtp_address_preference: ipv4 or ipv6 first, or (any) alternating as balanced."""
    if preference == "ipv4":
        return v4 + v6
    if preference == "ipv6":
        return v6 + v4
    out = []
    for i in range(max(len(v4), len(v6))):
        out += v4[i:i + 1] + v6[i:i + 1]
    return out


class Resolution:
    """Turns one delivery request's next hop into Targets; one instance per request."""

    def __init__(self, config, resolver, rng=None, queue_directory=""):
        self.config = config
        self.resolver = resolver
        self.rng = rng or random.Random()
        self.queue_directory = queue_directory
        self.we_are_mx = False

    async def targets(self, nexthop: str, domain: str) -> list[Target]:
        """All servers for ``nexthop`` (or relayhost, or the recipient ``domain``), in
        the order to try them; raises DnsProblem when there is none."""
        text = nexthop or self.config.relayhost or domain
        hops = parse_nexthop(text)
        if not hops:
            raise DnsProblem("5.4.4", f"Host or domain name not found. bad next hop: {text!r}")
        found, problems = [], []
        for hop in hops:
            try:
                found += await self._hop(hop)
            except DnsProblem as e:
                problems.append(e)
        limit = self.config.mx_address_limit
        if found:
            return found[:limit] if limit else found
        soft = [p for p in problems if p.soft]
        raise (soft or problems)[0]

    async def _hop(self, hop) -> list[Target]:
        port = service_port(hop.port, self.config.default_port)
        written = _written(hop)
        if hop.kind == "unix":
            path = hop.host
            full = path if os.path.isabs(path) else os.path.join(self.queue_directory, path)
            return [Target(self.config.myhostname, path, 0, "unix", written, path=full)]
        use_mx = hop.mx and not self.config.lmtp and self.config.dns_enabled
        if use_mx and not _is_ip(hop.host):
            hosts = await self._mx(hop.host)
            if hosts is not None:
                return await self._addresses_of(hosts, port, written)
        addrs = await self._addresses(hop.host)
        return [Target(hop.host, a, port, "inet", written) for a in addrs]

    async def _mx(self, domain: str):
        """Exchange names by preference, or None when the domain has no MX (use A/AAAA).

        NXDOMAIN is "not found" like NODATA (dns_lookup.c's DNS_NOTFOUND), so the
        address lookup follows and its error is the one reported (``type=A``)."""
        try:
            answers, _, _ = await self.resolver.lookupMailExchange(domain)
        except Exception:
            kind = _classify(Failure())
            if kind == "nxdomain":
                return None
            raise _problem(kind, domain, "MX") from None
        records = [a.payload for a in answers if a.type == dns.MX]
        if not records:
            return None
        if len(records) == 1 and str(records[0].name).strip(".") == "":
            raise DnsProblem("5.1.0", f"Domain {domain} does not accept mail (nullMX)")
        return self._not_myself(domain, records)

    def _not_myself(self, domain, records):
        """Drop MX hosts as preferred as this host or worse (Postfix's smtp_addr.c);
        if this host is the best MX, the mail would loop: 5.4.6."""
        me = self.config.myhostname.lower().rstrip(".")
        mine = [r.preference for r in records if str(r.name).lower().rstrip(".") == me]
        if mine:
            self.we_are_mx = True  # no smtp_fallback_relay then: it could loop back
            records = [r for r in records if r.preference < min(mine)]
            if not records:
                raise DnsProblem("5.4.6", f"mail for {domain} loops back to myself")
        return [(n, True) for n in order_mx(records, self.rng) if n]

    async def _addresses_of(self, hosts, port, written) -> list[Target]:
        found, problems = [], []
        for host, _ in hosts:
            try:
                for addr in await self._addresses(host):
                    found.append(Target(host, addr, port, "inet", written, mx=True))
            except DnsProblem as e:
                problems.append(e)
        if found:
            return found
        soft = [p for p in problems if p.soft]
        if soft or self.config.defer_if_no_mx_address:
            p = (soft or problems)[0]
            raise DnsProblem("4.4.3", p.text)
        raise problems[0] if problems else DnsProblem("5.4.4", "no MX host has an address")

    async def _addresses(self, host: str) -> list[str]:
        """A and/or AAAA per inet_protocols, ordered by smtp_address_preference."""
        if _is_ip(host):
            return [host]
        if self.resolver is None:
            raise DnsProblem("4.4.3", f"Host or domain name not found. Name service error for "
                                      f"name={host} type=A: no resolver configured")
        families = [(fam, rr) for fam, rr in (("ipv4", "A"), ("ipv6", "AAAA"))
                    if fam in self.config.inet_protocols]
        got, kinds = {}, []
        for fam, rrtype in families:
            try:
                got[fam] = await self._lookup(host, rrtype)
                if not got[fam]:
                    kinds.append(("nodata", rrtype))
            except _Failed as e:
                kinds.append((e.kind, rrtype))
        addrs = order_addresses(got.get("ipv4", []), got.get("ipv6", []),
                                self.config.address_preference)
        if addrs:
            return addrs
        temp = [k for k in kinds if k[0] == "temp"]
        kind, rrtype = (temp or kinds)[0]
        raise _problem(kind, host, rrtype)

    async def _lookup(self, host: str, rrtype: str, depth: int = 0) -> list[str]:
        method = self.resolver.lookupAddress if rrtype == "A" else self.resolver.lookupIPV6Address
        want = dns.A if rrtype == "A" else dns.AAAA
        try:
            answers, _, _ = await method(host)
        except Exception:
            raise _Failed(_classify(Failure())) from None
        addrs = [a.payload.dottedQuad() if want == dns.A else _v6(a.payload)
                 for a in answers if a.type == want]
        cnames = [str(a.payload.name) for a in answers if a.type == dns.CNAME]
        if not addrs and cnames and depth < 5:  # the server did not chase the alias
            return await self._lookup(cnames[-1], rrtype, depth + 1)
        return addrs


class _Failed(Exception):
    def __init__(self, kind):
        self.kind = kind


def _v6(payload) -> str:
    return ipaddress.IPv6Address(payload.address).compressed


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _written(hop) -> str:
    """The next hop as Postfix writes it, the key for TLS policy and SASL tables."""
    if hop.kind == "unix":
        return f"unix:{hop.host}"
    host = hop.host if hop.mx else f"[{hop.host}]"
    return f"{host}:{hop.port}" if hop.port else host
