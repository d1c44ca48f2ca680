"""Domain and host helpers the resolver needs: lists, hostname and literal checks, next hops.

Pure stdlib. DomainList is a stand-in for Postfix's domain_list / string_list until
the table layer provides matchers; the resolver only needs ``matcher(domain) -> bool``.
"""

import ipaddress
import re

import attrs

_LABEL = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?\Z")


@attrs.frozen
class DomainList:
    """An ordered list of domain patterns: "name", ".name" (subdomains only), "!name".

    With ``parent_matches_subdomains`` (parent_domain_matches_subdomains lists the
    parameter, as it does relay_domains) "name" also matches its subdomains. The first
    matching pattern decides; a "!" pattern that matches means no.
    """

    patterns: tuple = attrs.field(converter=lambda ps: tuple(p.lower() for p in ps if p))
    parent_matches_subdomains: bool = False

    def __call__(self, domain):
        name = domain.lower().rstrip(".")
        for pattern in self.patterns:
            negate = pattern.startswith("!")
            pat = pattern[1:] if negate else pattern
            if self._match(pat, name):
                return not negate
        return False

    def _match(self, pat, name):
        if pat.startswith("."):
            return name.endswith(pat)
        if name == pat:
            return True
        return self.parent_matches_subdomains and name.endswith("." + pat)

    @classmethod
    def from_string(cls, value, parent_matches_subdomains=False):
        """Split a main.cf list value on commas and whitespace."""
        return cls(re.split(r"[\s,]+", value.strip()), parent_matches_subdomains)


def never(domain):
    """The matcher of an empty list."""
    return False


def valid_hostname(name):
    """Postfix's valid_hostname: labels of letters, digits, '-', '_' and not all-numeric.

    Non-ASCII labels (SMTPUTF8 domains) are accepted when they convert to an A-label.
    """
    if not name or len(name) > 255 or name.endswith("."):
        return False
    numeric = True
    for label in name.split("."):
        if not label.isascii():
            if label.startswith("-") or label.endswith("-"):
                return False
            try:
                label = label.encode("idna").decode("ascii")
            except UnicodeError:
                return False
        if len(label) > 63 or not _LABEL.match(label):
            return False
        if not label.isdigit():
            numeric = False
    return not numeric


def _ipv4(text):
    """Postfix's valid_ipv4_hostaddr: four decimal octets, leading zeros allowed."""
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and p.isascii() and len(p) <= 3 for p in parts):
        return None
    octets = [int(p) for p in parts]
    if any(o > 255 for o in octets):
        return None
    return ipaddress.IPv4Address(bytes(octets))


def _ipv6(text):
    """An IPv6 address without a zone ("%eth0"), which mail addresses never carry."""
    if "%" in text or ":" not in text:
        return None
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        return None


def literal_address(literal):
    """'[1.2.3.4]' or '[IPv6:::1]' -> an ipaddress object, or None if not a valid literal."""
    if len(literal) < 3 or literal[0] != "[" or literal[-1] != "]":
        return None
    inner = literal[1:-1]
    if inner[:5].lower() == "ipv6:":
        return _ipv6(inner[5:])
    return _ipv4(inner)


def numeric_to_literal(domain):
    """resolve_numeric_domain: '1.2.3.4' -> '[1.2.3.4]', '::1' -> '[::1]' (as Postfix
    writes it, without the IPv6: tag); None when the domain is not an address."""
    if _ipv4(domain) is not None or _ipv6(domain) is not None:
        return f"[{domain}]"
    return None


def valid_domain(domain):
    """A domain the resolver will route to: a valid hostname or a valid address literal."""
    if domain.startswith("["):
        return literal_address(domain) is not None
    return valid_hostname(domain)


@attrs.frozen
class NextHop:
    """One parsed SMTP/LMTP next hop: host, port or service, and whether MX lookup applies."""

    host: str
    port: str = ""  # "" means the transport's default (smtp: 25, lmtp: 24)
    mx: bool = True  # False for [host] and for unix: / inet: LMTP destinations
    kind: str = "inet"  # "inet" or "unix"


def parse_nexthop(nexthop):
    """Parse relayhost / transport nexthop syntax: host, host:port, [host], [host]:port,
    inet:host:port, unix:/path. Returns a tuple of NextHop (Postfix 3.5 allows a list
    separated by commas or whitespace)."""
    hops = []
    for item in re.split(r"[\s,]+", nexthop.strip()):
        if item:
            hops.append(_parse_one(item))
    return tuple(hops)


def _parse_one(item):
    if item.startswith("unix:"):
        return NextHop(item[5:], "", False, "unix")
    if item.startswith("inet:"):
        item = item[5:]
    if item.startswith("["):
        close = item.find("]")
        if close < 0:
            return NextHop(item, "", True)
        host, rest = item[1:close], item[close + 1 :]
        if host[:5].lower() == "ipv6:":  # a recipient's [IPv6:...] literal as next hop
            host = host[5:]
        port = rest[1:] if rest.startswith(":") else ""
        return NextHop(host, port, False)
    host, _, port = item.partition(":")
    return NextHop(host, port, True)
