"""The tok822-style lexer and the RFC 5322 header address-list parser."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pfx.address.parse import (
    ATOM,
    COMMENT,
    DOMLIT,
    QSTRING,
    externalize,
    internalize,
    parse_address_list,
    scan,
    scan_address,
)


def kinds(text):
    return [(t.kind, t.text) for t in scan(text)]


@pytest.mark.parametrize("text, expected", [
    ("user@example.com", [(ATOM, "user"), ("@", "@"), (ATOM, "example"), (".", "."), (ATOM, "com")]),
    ('"a b"@x', [(QSTRING, "a b"), ("@", "@"), (ATOM, "x")]),
    ('"a\\"b"', [(QSTRING, 'a"b')]),
    ("u@[1.2.3.4]", [(ATOM, "u"), ("@", "@"), (DOMLIT, "[1.2.3.4]")]),
    ("u@[IPv6:::1]", [(ATOM, "u"), ("@", "@"), (DOMLIT, "[IPv6:::1]")]),
    ("u (a (nested) comment) v", [(ATOM, "u"), (COMMENT, "(a (nested) comment)"), (ATOM, "v")]),
    ("a%b!c", [(ATOM, "a"), ("%", "%"), (ATOM, "b"), ("!", "!"), (ATOM, "c")]),
    ("@a,@b:u", [("@", "@"), (ATOM, "a"), (",", ","), ("@", "@"), (ATOM, "b"), (":", ":"), (ATOM, "u")]),
    ("a\\@b", [(QSTRING, "a@b")]),  # quoted-pair inside an atom: prints quoted
    ("a\\.b", [(QSTRING, "a.b")]),
    ("a\\bc", [(ATOM, "abc")]),
    ('"unterminated', [(QSTRING, "unterminated")]),
    ("(unterminated", [(COMMENT, "(unterminated")]),
    ("[1.2", [(DOMLIT, "[1.2]")]),  # closed, as tok822 prints it
    ("a\\", [(ATOM, "a")]),  # a lone trailing backslash is dropped
    ("josé@exämple.com", [(ATOM, "josé"), ("@", "@"), (ATOM, "exämple"), (".", "."), (ATOM, "com")]),
    ('"a\tb"', [(QSTRING, "a b")]),  # white space in a quoted string folds to a space
    ("[a\tb]", [(DOMLIT, "[a b]")]),
    ("(a\tb)", [(COMMENT, "(a\tb)")]),  # but not in a comment
    ("a\\\tb", [(QSTRING, "a b")]),  # an escaped tab in an atom
    ("a\xa0b", [(ATOM, "a\xa0b")]),  # only ASCII white space separates tokens
    ("a|b", [(ATOM, "a"), ("|", "|"), (ATOM, "b")]),
    ("", []),
])
def test_scan(text, expected):
    assert kinds(text) == expected


def test_offsets_point_into_the_source():
    text = ' "a b" <x@y> (c)'
    for tok in scan(text):
        assert tok.start < tok.end <= len(text)
    assert [text[t.start : t.end] for t in scan(text)] == ['"a b"', "<", "x", "@", "y", ">", "(c)"]


@pytest.mark.parametrize("text, internal, external", [
    ('"a b"@x', "a b@x", '"a b"@x'),
    ("first last@x", "first last@x", "first last@x"),
    ("a<b", "a <b", "a <b"),
    ('"a\\\\b"@x', "a\\b@x", '"a\\\\b"@x'),
    ("u (c)@x", "u (c)@x", "u (c)@x"),
])
def test_internalize_externalize(text, internal, external):
    assert internalize(scan(text)) == internal
    assert externalize(scan(text)) == external


def test_scan_address_drops_comments():
    assert internalize(scan_address("user(c)@x")) == "user@x"


@pytest.mark.parametrize("value, addresses, displays", [
    ("user@example.com", ["user@example.com"], [""]),
    ("<user@example.com>", ["user@example.com"], [""]),
    ("John Doe <jd@example.com>", ["jd@example.com"], ["John Doe"]),
    ('"Doe, John" <jd@example.com>, jane@example.com (Jane)',
     ["jd@example.com", "jane@example.com"], ['"Doe, John"', ""]),
    ('"quoted local"@example.com', ['"quoted local"@example.com'], [""]),
    ("a@x,,b@y,", ["a@x", "b@y"], ["", ""]),
    ("<@a,@b:user@dom>", ["@a, @b:user@dom"], [""]),
    ("Name <user@[1.2.3.4]>", ["user@[1.2.3.4]"], ["Name"]),
    ("Name <user@[IPv6:2001:db8::1]>", ["user@[IPv6:2001:db8::1]"], ["Name"]),
    ("José <josé@exämple.com>", ["josé@exämple.com"], ["José"]),
    ("<>", [""], [""]),
    ("bob", ["bob"], [""]),
    ("a@b, <c@d", ["a@b", "c@d"], ["", ""]),  # unterminated angle
])
def test_address_list(value, addresses, displays):
    parsed = parse_address_list(value)
    assert parsed.addresses() == addresses
    assert [m.display for m in parsed.mailboxes] == displays


def test_groups():
    parsed = parse_address_list("undisclosed-recipients:;")
    assert parsed.mailboxes == ()
    assert parsed.groups == ("undisclosed-recipients",)
    parsed = parse_address_list("friends: a@x, Bee <b@y>; c@z")
    assert parsed.addresses() == ["a@x", "b@y", "c@z"]
    assert [m.group for m in parsed.mailboxes] == ["friends", "friends", None]
    parsed = parse_address_list('"My Group": ;, d@w')
    assert parsed.groups == ("My Group",)
    assert parsed.addresses() == ["d@w"]


def test_route_and_display_name():
    box = parse_address_list('"Doe, J." (work) <@relay:jd@example.com>').mailboxes[0]
    assert box.address == "@relay:jd@example.com"
    assert box.route == "@relay:"
    assert box.addr_spec == "jd@example.com"
    assert box.angle
    assert box.display == '"Doe, J." (work)'
    assert box.display_name == "Doe, J."


def test_rewrite_changes_only_the_addresses():
    value = '"Doe, John" <john@host> (work),\n\tjane, undisclosed:;'
    parsed = parse_address_list(value)
    out = parsed.rewrite(lambda a: a + ".example.com" if "@" in a else a + "@example.com")
    assert out == '"Doe, John" <john@host.example.com> (work),\n\tjane@example.com, undisclosed:;'


def test_rewrite_identity_is_byte_exact():
    value = ' A  <a@x>,(c) b@y ,\r\n c : d@z ; '
    assert parse_address_list(value).rewrite(lambda a: a) == value
    assert parse_address_list(value).rewrite(lambda a: None) == value


def test_rewrite_fills_an_empty_angle():
    assert parse_address_list("Nobody <>").rewrite(lambda a: "x@y") == "Nobody <x@y>"


@given(st.text(max_size=60))
def test_parser_never_raises_and_identity_rewrite_keeps_text(value):
    parsed = parse_address_list(value)
    assert parsed.rewrite(lambda a: a) == value
    for box in parsed.mailboxes:
        start, end = box.span
        assert 0 <= start <= end <= len(value)


def test_header_canonicalization_like_cleanup():
    from pfx.address.rewrite import CanonSettings, canonicalize_external

    local = CanonSettings("mail.example.com", "example.com")
    value = '"Joe Q." <joe>, site!bob (uucp), <@relay.test:ann@x.test>, "a b"@x, undisclosed:;'
    out = parse_address_list(value).rewrite(lambda a: canonicalize_external(a, local))
    assert out == ('"Joe Q." <joe@mail.example.com>, bob@site (uucp), <ann@x.test>, "a b"@x, '
                   "undisclosed:;")
