"""Canonical rewriting (trivial-rewrite's local and remote contexts) and masquerading.

The CANONICAL table was recorded from Postfix 3.7 ("rewrite" requests to
trivial-rewrite) with myorigin = mail.example.com, mydomain = example.com and:
DEFAULT   append_dot_mydomain = no (the 3.x default), swap_bangpath = yes, allow_percent_hack = yes
DOTTED    myorigin = example.com, append_dot_mydomain = yes
NOHACKS   swap_bangpath = no, allow_percent_hack = no
"""

import pytest

from pfx.address.rewrite import CanonSettings, canonicalize, canonicalize_external, masquerade

DEFAULT = CanonSettings("mail.example.com", "example.com")
DOTTED = CanonSettings("example.com", "example.com", append_dot_mydomain=True)
NOHACKS = CanonSettings("mail.example.com", "example.com", swap_bangpath=False, allow_percent_hack=False)

# (external input, DEFAULT, DOTTED, NOHACKS)
CANONICAL = [
    ('bob', 'bob@mail.example.com', 'bob@example.com', 'bob@mail.example.com'),
    ('bob@host', 'bob@host', 'bob@host.example.com', 'bob@host'),
    ('site!user', 'user@site', 'user@site.example.com', 'site!user@mail.example.com'),
    ('user%dom@here', 'user%dom@here', 'user%dom@here.example.com', 'user%dom@here'),
    ('user@site.', 'user@site', 'user@site', 'user@site'),
    ('@a,@b:u@s', 'u@s', 'u@s.example.com', 'u@s'),
    ('a!b!c', 'b!c@a', 'b!c@a.example.com', 'a!b!c@mail.example.com'),
    ('user%a%b', 'user%a@b', 'user%a@b.example.com', 'user%a%b@mail.example.com'),
    ('"a b"', '"a b"@mail.example.com', '"a b"@example.com', '"a b"@mail.example.com'),
    ('"a b"@x', '"a b"@x', '"a b"@x.example.com', '"a b"@x'),
    ('a b', '"a b"@mail.example.com', '"a b"@example.com', '"a b"@mail.example.com'),
    ('', '', '', ''),
    ('@', '""', '""', '""'),
    ('user@[1.2.3.4]', 'user@[1.2.3.4]', 'user@[1.2.3.4]', 'user@[1.2.3.4]'),
    ('user@', 'user@', 'user@', 'user@'),
    ('user@x..', 'user@x..', 'user@x..', 'user@x..'),
    ('first last@x', '"first last"@x', '"first last"@x.example.com', '"first last"@x'),
    ('"a"."b"@x', 'a.b@x', 'a.b@x.example.com', 'a.b@x'),
    ('a.b', 'a.b@mail.example.com', 'a.b@example.com', 'a.b@mail.example.com'),
    ('bob@localhost', 'bob@localhost', 'bob@localhost.example.com', 'bob@localhost'),
    ('üser', 'üser@mail.example.com', 'üser@example.com', 'üser@mail.example.com'),
    ('"x@y"', '"x@y"@mail.example.com', '"x@y"@example.com', '"x@y"@mail.example.com'),
    (' bob ', 'bob@mail.example.com', 'bob@example.com', 'bob@mail.example.com'),
    ('bob (comment)', '"bob (comment)"@mail.example.com', '"bob (comment)"@example.com', '"bob (comment)"@mail.example.com'),
    ('<bob>', '"<bob>"@mail.example.com', '"<bob>"@example.com', '"<bob>"@mail.example.com'),
    ('a<b', '"a <b"@mail.example.com', '"a <b"@example.com', '"a <b"@mail.example.com'),
    ('a\\b', 'ab@mail.example.com', 'ab@example.com', 'ab@mail.example.com'),
    ('"a\\\\b"@x', '"a\\\\b"@x', '"a\\\\b"@x.example.com', '"a\\\\b"@x'),
    ('@a:b', 'b@mail.example.com', 'b@example.com', 'b@mail.example.com'),
    ('@a:', '@a:""', '@a:".example.com"', '@a:""'),
    ('@a', '""@a', '""@a.example.com', '""@a'),
    ('a@b@c', '"a@b"@c', '"a@b"@c.example.com', '"a@b"@c'),
    ('user@[1.2.3.4].', 'user@[1.2.3.4]', 'user@[1.2.3.4]', 'user@[1.2.3.4]'),
    ('user@host.sub.', 'user@host.sub', 'user@host.sub', 'user@host.sub'),
    ('a..b@x', '"a..b"@x', '"a..b"@x.example.com', '"a..b"@x'),
    ('.a', '".a"@mail.example.com', '".a"@example.com', '".a"@mail.example.com'),
    ('a.', '"a."@mail.example.com', '"a."@example.com', '"a."@mail.example.com'),
    ('user@x.', 'user@x', 'user@x', 'user@x'),
    ('"a"@"b"', 'a@b', 'a@b.example.com', 'a@b'),
    ('u@[IPv6:::1]', 'u@[IPv6:::1]', 'u@[IPv6:::1]', 'u@[IPv6:::1]'),
    ('x!y@z', 'x!y@z', 'x!y@z.example.com', 'x!y@z'),
    ('x%y@z', 'x%y@z', 'x%y@z.example.com', 'x%y@z'),
    ('!x', 'x@', 'x@', '!x@mail.example.com'),
    ('x!', '""@x', '""@x.example.com', 'x!@mail.example.com'),
    ('%x', '""@x', '""@x.example.com', '%x@mail.example.com'),
    ('x%', 'x@', 'x@', 'x%@mail.example.com'),
    ('"a\\"b"@x', '"a\\"b"@x', '"a\\"b"@x.example.com', '"a\\"b"@x'),
    ('user@Host.Example.COM', 'user@Host.Example.COM', 'user@Host.Example.COM', 'user@Host.Example.COM'),
    ('bob.', '"bob."@mail.example.com', '"bob."@example.com', '"bob."@mail.example.com'),
    ('!a b', 'ab@', 'ab@', '"!a b"@mail.example.com'),
    ('!vmbox.test".user+', 'vmbox.test.user+@', 'vmbox.test.user+@', '"!vmbox.test .user+"@mail.example.com'),
    ('a\\@b@x', '"a@b"@x', '"a@b"@x.example.com', '"a@b"@x'),
    ('[\\', '"[]"@mail.example.com', '"[]"@example.com', '"[]"@mail.example.com'),
    ('>@@+@+\\', '">@@+"@+', '">@@+"@+.example.com', '">@@+"@+'),
    ('!,[127.0.0.1]!\\valias.test', '",[127.0.0.1]!valias.test"@', '",[127.0.0.1]!valias.test"@', '"!, [127.0.0.1]!valias.test"@mail.example.com'),
]


@pytest.mark.parametrize("address, default, dotted, nohacks", CANONICAL)
def test_canonical_form_matches_postfix(address, default, dotted, nohacks):
    assert canonicalize_external(address, DEFAULT) == default
    assert canonicalize_external(address, DOTTED) == dotted
    assert canonicalize_external(address, NOHACKS) == nohacks


# RW-1, one knob at a time, on internal (envelope) form.
@pytest.mark.parametrize("address, settings, expected", [
    ("bob", DEFAULT, "bob@mail.example.com"),
    ("bob", CanonSettings("mail.example.com", append_at_myorigin=False), "bob"),
    ("bob", CanonSettings(""), "bob"),  # no myorigin, nothing to append
    ("bob@host", DEFAULT, "bob@host"),
    ("bob@host", CanonSettings("o", "example.com", append_dot_mydomain=True), "bob@host.example.com"),
    ("bob@host.sub", CanonSettings("o", "example.com", append_dot_mydomain=True), "bob@host.sub"),
    ("bob@[1.2.3.4]", CanonSettings("o", "example.com", append_dot_mydomain=True), "bob@[1.2.3.4]"),
    ("site!user", DEFAULT, "user@site"),
    ("site!user", NOHACKS, "site!user@mail.example.com"),
    ("user%dom", DEFAULT, "user@dom"),
    ("user%dom", NOHACKS, "user%dom@mail.example.com"),
    ("user%dom@here", DEFAULT, "user%dom@here"),  # only resolve() opens this, and only when here is local
    ("user@site.", DEFAULT, "user@site"),
    ("user@site..", DEFAULT, "user@site.."),
    ("@a,@b:u@s", DEFAULT, "u@s"),
    ("a b", DEFAULT, "a b@mail.example.com"),  # internal form stays unquoted
    ("a b@x", DEFAULT, "a b@x"),
    ("user@foreign@here", DEFAULT, "user@foreign@here"),
    ("üser@exämple.com", DEFAULT, "üser@exämple.com"),
    ("", DEFAULT, ""),
])
def test_canonicalize_internal(address, settings, expected):
    assert canonicalize(address, settings) == expected


def test_remote_context_without_domain_leaves_addresses_alone():
    remote = CanonSettings.remote("")
    assert canonicalize_external("bob", remote) == "bob"
    assert canonicalize_external("site!user", remote) == "site!user"
    assert canonicalize_external("bob@host", remote) == "bob@host"
    assert canonicalize_external("@a:bob@host.", remote) == "@a:bob@host."
    assert canonicalize("a b@host.", remote) == "a b@host."


def test_remote_context_with_domain():
    remote = CanonSettings.remote("remote.example")
    assert canonicalize_external("bob", remote) == "bob@remote.example"
    assert canonicalize_external("bob@host", remote) == "bob@host"
    remote = CanonSettings.remote("remote.example", append_dot_mydomain=True)
    assert canonicalize_external("bob@host", remote) == "bob@host.remote.example"


@pytest.mark.parametrize("address, domains, exceptions, expected", [
    ("user@host.example.com", ["example.com"], (), "user@example.com"),
    ("user@a.b.example.com", ["example.com"], (), "user@example.com"),
    ("user@example.com", ["example.com"], (), "user@example.com"),
    ("user@host.other.com", ["example.com"], (), "user@host.other.com"),
    ("user@notexample.com", ["example.com"], (), "user@notexample.com"),
    ("user@host.sub.example.com", ["sub.example.com", "example.com"], (), "user@sub.example.com"),
    ("user@host.sub.example.com", ["!sub.example.com", "example.com"], (), "user@host.sub.example.com"),
    ("user@sub.example.com", ["!sub.example.com", "example.com"], (), "user@sub.example.com"),
    ("user@other.example.com", ["!sub.example.com", "example.com"], (), "user@example.com"),
    ("root@host.example.com", ["example.com"], ("root",), "root@host.example.com"),
    ("user@HOST.Example.COM", ["example.com"], (), "user@example.com"),
    ("user", ["example.com"], (), "user"),
])
def test_masquerade(address, domains, exceptions, expected):
    assert masquerade(address, domains, exceptions=exceptions) == expected
