"""Domain lists, hostname and address-literal checks, and next-hop syntax."""

import ipaddress
import time

import pytest

from pfx.address.domains import (
    DomainList,
    NextHop,
    literal_address,
    numeric_to_literal,
    parse_nexthop,
    valid_domain,
    valid_hostname,
)
from pfx.address.parse import parse_address_list


@pytest.mark.parametrize("patterns, parent, domain, expected", [
    (["example.com"], False, "example.com", True),
    (["example.com"], False, "EXAMPLE.COM.", True),
    (["example.com"], False, "sub.example.com", False),
    (["example.com"], True, "sub.example.com", True),
    (["example.com"], True, "notexample.com", False),
    ([".example.com"], False, "sub.example.com", True),
    ([".example.com"], False, "example.com", False),
    (["!bad.example.com", "example.com"], True, "bad.example.com", False),
    (["!bad.example.com", "example.com"], True, "good.example.com", True),
    (["example.com", "!bad.example.com"], True, "bad.example.com", True),  # first match wins
    ([], False, "example.com", False),
])
def test_domain_list(patterns, parent, domain, expected):
    assert DomainList(patterns, parent)(domain) is expected


def test_domain_list_from_string():
    matcher = DomainList.from_string(" a.test, b.test\n  c.test ")
    assert matcher.patterns == ("a.test", "b.test", "c.test")
    assert DomainList.from_string("")("x") is False


@pytest.mark.parametrize("name, ok", [
    ("example.com", True), ("a", True), ("bad_host.test", True), ("xn--bcher-kva.test", True),
    ("bücher.test", True), ("1a.test", True), ("-bad.test", False), ("bad-.test", False),
    ("a..b", False), (".a", False), ("a.", False), ("", False), ("1.2.3.4", False), ("123", False),
    ("exa mple.com", False), ("ü-.test", False), ("-ü.test", False), ("日本.test", True), ("a" * 64 + ".test", False), ("a" * 63 + ".test", True),
    (".".join(["a" * 60] * 5), False), ("a%b.test", False),
])
def test_valid_hostname(name, ok):
    assert valid_hostname(name) is ok


@pytest.mark.parametrize("literal, expected", [
    ("[1.2.3.4]", ipaddress.ip_address("1.2.3.4")),
    ("[IPv6:2001:db8::1]", ipaddress.ip_address("2001:db8::1")),
    ("[ipv6:::1]", ipaddress.ip_address("::1")),
    ("[2001:db8::1]", None),
    ("[001.002.3.4]", ipaddress.ip_address("1.2.3.4")),  # leading zeros, as Postfix
    ("[IPv6:fe80::1%eth0]", None), ("[1.2.3.4 ]", None), ("[1.2.3.1234]", None),
    ("[1.2.3]", None), ("[1.2.3.256]", None), ("1.2.3.4", None), ("[]", None), ("[IPv6:1.2.3.4]", None),
])
def test_literal_address(literal, expected):
    assert literal_address(literal) == expected


def test_numeric_to_literal_and_valid_domain():
    assert numeric_to_literal("1.2.3.4") == "[1.2.3.4]"
    assert numeric_to_literal("2001:db8::1") == "[2001:db8::1]"  # sic: Postfix adds no IPv6: tag
    assert numeric_to_literal("001.2.3.4") == "[001.2.3.4]"
    assert numeric_to_literal("1.2.3.4.5") is None
    assert numeric_to_literal("example.com") is None
    assert valid_domain("[1.2.3.4]") and valid_domain("example.com")
    assert not valid_domain("[1.2.3]") and not valid_domain("1.2.3.4")


@pytest.mark.parametrize("text, hops", [
    ("mail.example.com", [NextHop("mail.example.com", "", True)]),
    ("mail.example.com:2525", [NextHop("mail.example.com", "2525", True)]),
    ("[mail.example.com]", [NextHop("mail.example.com", "", False)]),
    ("[mail.example.com]:submission", [NextHop("mail.example.com", "submission", False)]),
    ("[192.0.2.1]:25", [NextHop("192.0.2.1", "25", False)]),
    ("[2001:db8::1]:25", [NextHop("2001:db8::1", "25", False)]),
    ("[IPv6:2001:db8::1]", [NextHop("2001:db8::1", "", False)]),
    ("inet:[lmtp.example]:24", [NextHop("lmtp.example", "24", False)]),
    ("unix:private/dovecot-lmtp", [NextHop("private/dovecot-lmtp", "", False, "unix")]),
    ("a.example, [b.example]:26 c.example", [
        NextHop("a.example", "", True), NextHop("b.example", "26", False), NextHop("c.example", "", True)]),
    ("", []),
])
def test_parse_nexthop(text, hops):
    assert list(parse_nexthop(text)) == hops


@pytest.mark.parametrize("value", [
    ":" * 50000, "<@a," * 20000 + "@b:c@d>", "a@b, " * 20000, "x@y:" * 10000, "(" * 50000, '"' * 50000,
])
def test_header_parsing_stays_linear(value):
    start = time.perf_counter()
    parse_address_list(value)
    assert time.perf_counter() - start < 2.0
