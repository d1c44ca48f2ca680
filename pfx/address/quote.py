"""Local-part quoting between internal (unquoted) and external (quoted) address form.

The same rules as Postfix's quote_822_local / quote_821_local / unquote_822_local:
only the local part is ever quoted, a leading source route (``@a,@b:``) is copied
through untouched, and 8-bit characters are left alone (SMTPUTF8) unless the caller
asks for them to be escaped.
"""

# RFC 822 specials that force a quoted-string; "." is handled separately (dot-atom).
_SPECIALS_822 = frozenset('()<>,;:\\"[]')
# RFC 821 has the same set for our purpose; kept separate in case the two diverge.
_SPECIALS_821 = frozenset('<>()[]\\,;:"')


def _split(address, bare_localpart):
    """Return (route, local, rest): route prefix, local part, and '@domain' or ''."""
    route, start = "", address
    if not bare_localpart and address.startswith("@"):
        colon = address.find(":")
        if colon >= 0:
            route, start = address[: colon + 1], address[colon + 1 :]
    if bare_localpart:
        return route, start, ""
    at = start.rfind("@")
    if at < 0:
        return route, start, ""
    return route, start[:at], start[at:]


def is_dot_string(local, *, rfc=822, expose_at=False, eight_bit_clean=True):
    """True if the local part can be sent without quotes (a dot-atom)."""
    if not local or local[0] == "." or local[-1] == "." or ".." in local:
        return False
    specials = _SPECIALS_822 if rfc == 822 else _SPECIALS_821
    for ch in local:
        code = ord(ch)
        if code > 127:
            if not eight_bit_clean:
                return False
            continue
        if ch == " " or code < 32 or code == 127 or ch in specials:
            return False
        if ch == "@" and not expose_at:
            return False
    return True


def _quoted_string(local, rfc, eight_bit_clean):
    escape = {'"', "\\", "\r"} if rfc == 822 else {'"', "\\", "\r", "\n"}
    out = ['"']
    for ch in local:
        if ch in escape or (ord(ch) > 127 and not eight_bit_clean):
            out.append("\\")
        out.append(ch)
    out.append('"')
    return "".join(out)


def quote_local(address, *, rfc=822, expose_at=False, eight_bit_clean=True, bare_localpart=False):
    """Internal -> external: quote the local part of ``address`` when it needs it.

    ``bare_localpart`` treats the whole input as a local part (no '@' split), as
    Postfix's QUOTE_FLAG_BARE_LOCALPART does for ``$user`` style expansions.
    """
    route, local, rest = _split(address, bare_localpart)
    if is_dot_string(local, rfc=rfc, expose_at=expose_at, eight_bit_clean=eight_bit_clean):
        return address
    return route + _quoted_string(local, rfc, eight_bit_clean) + rest


def quote_821_local(address, **kwargs):
    """Internal -> external for SMTP envelopes (MAIL FROM / RCPT TO)."""
    return quote_local(address, rfc=821, **kwargs)


def quote_822_local(address, **kwargs):
    """Internal -> external for message headers."""
    return quote_local(address, rfc=822, **kwargs)


def unquote_local(address):
    """External -> internal: remove quotes and backslashes before the last bare '@'.

    Text after the last unquoted '@' (the domain, possibly a [literal]) is kept as is;
    a source-route prefix is not touched.
    """
    route, start = "", address
    if address.startswith("@"):
        colon = address.find(":")
        if colon >= 0:
            route, start = address[: colon + 1], address[colon + 1 :]
    out = []
    in_quote = False
    bare_at = None  # (position in out, position in start) of the last unquoted '@'
    i = 0
    while i < len(start):
        ch = start[i]
        if ch == '"':
            in_quote = not in_quote
            i += 1
            continue
        if ch == "@" and not in_quote:
            bare_at = (len(out), i)
        elif ch == "\\" and i + 1 < len(start):
            i += 1
            ch = start[i]
        out.append(ch)
        i += 1
    if bare_at is not None:
        return route + "".join(out[: bare_at[0]]) + start[bare_at[1] :]
    return route + "".join(out)


unquote_822_local = unquote_local


def needs_smtputf8(address):
    """True if the address has non-ASCII characters, so it may only travel with SMTPUTF8."""
    return not address.isascii()
