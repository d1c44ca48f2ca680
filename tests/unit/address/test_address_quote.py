"""Local-part quoting: internal <-> external form (quote_822_local, quote_821_local)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pfx.address.quote import (
    is_dot_string,
    quote_821_local,
    quote_822_local,
    quote_local,
    unquote_local,
)

# (internal, external): quote_822_local turns the first into the second, and
# unquote_822_local turns it back.
ROUND_TRIPS = [
    ("user@example.com", "user@example.com"),
    ("first.last@example.com", "first.last@example.com"),
    ("user+ext@example.com", "user+ext@example.com"),
    ("user", "user"),
    ("", '""'),
    ("@example.com", '""@example.com'),
    ("a b@example.com", '"a b"@example.com'),
    ("a..b@example.com", '"a..b"@example.com'),
    (".a@example.com", '".a"@example.com'),
    ("a.@example.com", '"a."@example.com'),
    ('a"b@example.com', '"a\\"b"@example.com'),
    ("a\\b@example.com", '"a\\\\b"@example.com'),
    ("user@foreign@example.com", '"user@foreign"@example.com'),
    ("a:b@example.com", '"a:b"@example.com'),
    ("a<b>@example.com", '"a<b>"@example.com'),
    ("a(b)@example.com", '"a(b)"@example.com'),
    ("a,b;c@example.com", '"a,b;c"@example.com'),
    ("a[b]@example.com", '"a[b]"@example.com'),
    ("a\tb@example.com", '"a\tb"@example.com'),
    ("üser@exämple.com", "üser@exämple.com"),  # SMTPUTF8: 8-bit left alone
    ("user%foreign@example.com", "user%foreign@example.com"),
    ("site!user@example.com", "site!user@example.com"),
    ("user@[1.2.3.4]", "user@[1.2.3.4]"),
    ("user@[IPv6:2001:db8::1]", "user@[IPv6:2001:db8::1]"),
    ("@a,@b:user@example.com", "@a,@b:user@example.com"),  # source route copied through
    ("@a,@b:u v@example.com", '@a,@b:"u v"@example.com'),
]


@pytest.mark.parametrize("internal, external", ROUND_TRIPS)
def test_quote_822(internal, external):
    assert quote_822_local(internal) == external


@pytest.mark.parametrize("internal, external", ROUND_TRIPS)
def test_unquote_822(internal, external):
    assert unquote_local(external) == internal


@pytest.mark.parametrize("external, internal", [
    ('"a"."b"@example.com', "a.b@example.com"),  # quoted words
    ('"user@x"@[1.2.3.4]', "user@x@[1.2.3.4]"),
    ('user@"odd"', 'user@"odd"'),  # text after the last bare '@' is left alone
    ('"a\\', "a\\"),  # a trailing lone backslash is kept
])
def test_unquote_odd_forms(external, internal):
    assert unquote_local(external) == internal


def test_821_also_escapes_newline():
    assert quote_821_local("a\nb@x") == '"a\\\nb"@x'
    assert quote_822_local("a\nb@x") == '"a\nb"@x'
    assert quote_821_local("a\rb@x") == '"a\\\rb"@x'


def test_eight_bit_quoted_on_request():
    assert quote_local("üser@x", eight_bit_clean=False) == '"\\üser"@x'
    assert not is_dot_string("üser", eight_bit_clean=False)


def test_expose_at_and_bare_localpart():
    assert quote_local("a@b@c", expose_at=True) == "a@b@c"
    assert quote_local("a b@c", bare_localpart=True) == '"a b@c"'
    assert quote_local("@a:b c", bare_localpart=True) == '"@a:b c"'


@pytest.mark.parametrize("local, ok", [
    ("a", True), ("a.b.c", True), ("", False), (".a", False), ("a.", False), ("a..b", False),
    ("a b", False), ("a\x7f", False), ("a\x00", False), ("a@b", False), ("!#$%&'*+/=?^_`{|}~-", True),
])
def test_dot_string(local, ok):
    assert is_dot_string(local) is ok


LOCAL = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
DOMAIN = st.from_regex(r"\A([a-z0-9-]{1,10}\.){0,3}[a-z]{2,6}\Z|\A\[1\.2\.3\.4\]\Z")


@given(LOCAL, DOMAIN)
def test_quote_unquote_round_trip(local, domain):
    address = f"{local}@{domain}"
    assert unquote_local(quote_822_local(address)) == address
    assert unquote_local(quote_821_local(address)) == address


@given(LOCAL)
def test_round_trip_without_domain(local):
    if "@" in local:
        return  # then the last '@' splits it into local part and domain
    assert unquote_local(quote_822_local(local)) == local


@given(st.from_regex(r"\A[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[a-z]+\.[a-z]+\Z"))
def test_dot_atoms_are_never_quoted(address):
    assert quote_822_local(address) == address
    assert quote_822_local(unquote_local(address)) == address


def test_needs_smtputf8():
    from pfx.address.quote import needs_smtputf8

    assert needs_smtputf8("josé@example.com")
    assert needs_smtputf8("user@exämple.com")
    assert not needs_smtputf8('"a b"@[1.2.3.4]')
