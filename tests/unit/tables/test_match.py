"""Postfix search orders (pfx.tables.match): keys, their order, and which tables see them."""

import pytest

from pfx.errors import TableRetry
from pfx.tables.match import (FULL, PARTIAL, access_address_keys, alias_keys, client_keys,
                              domain_keys, find, find_address, ip_keys, mapping_keys,
                              split_extension, transport_keys)


def keys(pairs):
    return [k for k, _ in pairs]


@pytest.mark.parametrize("local,delims,expected", [
    ("user+foo", "+", ("user", "+foo")),
    ("user-foo", "+-", ("user", "-foo")),
    ("user-foo+bar", "+-", ("user", "-foo+bar")),   # the first delimiter found wins
    ("user", "+", ("user", "")),
    ("+foo", "+", ("+foo", "")),                    # never an empty base
    ("user+foo", "", ("user+foo", "")),
    ("owner-list", "-", ("owner-list", "")),        # aliases(5) compatibility
    ("list-request", "-", ("list-request", "")),
    ("owner+x", "+", ("owner", "+x")),
    ("Postmaster", "+", ("Postmaster", "")),
    ("MAILER-DAEMON", "-", ("MAILER-DAEMON", "")),
    ("double-bounce", "-", ("double-bounce", "")),
])
def test_split_extension(local, delims, expected):
    assert split_extension(local, delims) == expected


def test_access_address_order_with_extension():
    got = access_address_keys("user+foo@sub.example.com", "+", parent_matches=True)
    assert got == [("user+foo@sub.example.com", FULL), ("user@sub.example.com", PARTIAL),
                   ("sub.example.com", PARTIAL), ("example.com", PARTIAL), ("com", PARTIAL),
                   ("user+foo@", PARTIAL), ("user@", PARTIAL)]


def test_access_address_dot_domains_when_parent_does_not_match():
    assert keys(access_address_keys("u@a.b.c", "", parent_matches=False)) == \
        ["u@a.b.c", "a.b.c", ".b.c", ".c", "u@"]


def test_access_null_sender():
    assert access_address_keys("") == [("<>", FULL)]
    assert access_address_keys("", null_key="<null>") == [("<null>", FULL)]


def test_domain_keys():
    assert keys(domain_keys("a.example.com", True)) == ["a.example.com", "example.com", "com"]
    assert keys(domain_keys("a.example.com", False)) == ["a.example.com", ".example.com", ".com"]


@pytest.mark.parametrize("addr,expected", [
    ("192.0.2.1", ["192.0.2.1", "192.0.2", "192.0", "192"]),
    ("2001:db8::1", ["2001:db8::1", "2001:db8:", "2001:db8", "2001"]),
    ("2001:DB8:0:0::1", ["2001:db8::1", "2001:db8:", "2001:db8", "2001"]),
    ("::ffff:192.0.2.1", ["192.0.2.1", "192.0.2", "192.0", "192"]),
    ("[192.0.2.1]", ["192.0.2.1", "192.0.2", "192.0", "192"]),
])
def test_ip_keys(addr, expected):
    got = ip_keys(addr)
    assert keys(got) == expected
    assert got[0][1] == FULL and all(kind == PARTIAL for _, kind in got[1:])


def test_client_keys_name_then_address():
    assert keys(client_keys("mail.example.com", "192.0.2.1")) == [
        "mail.example.com", "example.com", "com", "192.0.2.1", "192.0.2", "192.0", "192"]
    assert keys(client_keys("unknown", "192.0.2.1"))[0] == "192.0.2.1"


def test_virtual_canonical_relocated_order():
    assert keys(mapping_keys("user+foo@example.com", "+", local_domain=True)) == [
        "user+foo@example.com", "user@example.com", "user+foo", "user", "@example.com"]
    assert keys(mapping_keys("user+foo@example.com", "+", local_domain=False)) == [
        "user+foo@example.com", "user@example.com", "@example.com"]
    assert keys(mapping_keys("user@example.com", "+", local_domain=True)) == [
        "user@example.com", "user", "@example.com"]


def test_transport_order():
    assert keys(transport_keys("u+x@a.example.com", "+", parent_matches=False)) == [
        "u+x@a.example.com", "u@a.example.com", "a.example.com", ".example.com", ".com", "*"]
    assert keys(transport_keys("u@a.example.com", "+", parent_matches=True)) == [
        "u@a.example.com", "a.example.com", "example.com", "com", "*"]


def test_alias_keys():
    assert keys(alias_keys("user+foo", "+")) == ["user+foo", "user"]


def test_find_is_key_major_and_pattern_tables_see_full_keys_only(registry):
    indexed = registry.open_strict("inline:{@example.com=catchall, user@example.com=user}")
    pattern = registry.open_strict("regexp:{ {/@example\\.com$/ regexp} }")
    hit = find_address([indexed, pattern], "user+foo@example.com", "virtual", "+")
    # The full key goes to both tables first, so the regexp answers before user@...
    assert (hit.value, hit.key) == ("regexp", "user+foo@example.com")
    hit = find_address([indexed], "user+foo@example.com", "virtual", "+")
    assert (hit.value, hit.key, hit.extension) == ("user", "user@example.com", "+foo")
    hit = find_address([indexed], "other@example.com", "virtual", "+")
    assert (hit.value, hit.key, hit.extension) == ("catchall", "@example.com", "")
    # A pattern table is not asked for partial keys like "@example.com".
    only_pattern = registry.open_strict("regexp:{ {/^@/ partial} }")
    assert find_address([only_pattern], "x@example.com", "virtual") is None


def test_find_accepts_a_chain_and_stops_on_soft_errors(registry):
    chain = registry.open_list("inline:{u@example.com=OK}, fail:x")
    assert find_address(chain, "u@example.com", "access").value == "OK"
    # Key-major: the failing table is asked for the full address before the first
    # table is asked for the domain, so the lookup is deferred, as in Postfix.
    chain = registry.open_list("inline:{example.com=OK}, fail:x")
    with pytest.raises(TableRetry):
        find_address(chain, "u@example.com", "access")


def test_access_with_cidr_for_clients(registry):
    cidr = registry.open_strict("cidr:{ {192.0.2.0/24 REJECT} }")
    fixed = registry.open_strict("inline:{192.0=OK}")
    assert find([cidr, fixed], client_keys("unknown", "192.0.2.9")).value == "REJECT"
    assert find([cidr, fixed], client_keys("unknown", "192.0.3.9")).value == "OK"


def test_unknown_order():
    with pytest.raises(ValueError):
        find_address([], "a@b", "nonsense")
