"""Command-line parsing for the SMTP server: verbs, MAIL/RCPT addresses and ESMTP parameters.

Lenient like Postfix with strict_rfc821_envelopes = no: ``MAIL FROM: <a@b>`` and
``MAIL FROM:a@b`` both work. The address text is returned raw (inside the brackets);
RFC 5321 address semantics belong to pfx.address. Errors are raised as CommandError
carrying the exact Postfix reply.
"""

import re

from pfx.dsn import Reply
from pfx.smtp import replies as R
from pfx.smtp.events import MailParams, RcptParams


class CommandError(Exception):
    def __init__(self, reply: Reply):
        super().__init__(str(reply))
        self.reply = reply


_WS = " \t"
# Postfix is_header(): a header name (printable, no colon or space) then a colon.
_HEADER_RE = re.compile(r"^[!-9;-~]+[ \t]*:")
_DIGITS = re.compile(r"^[0-9]+$")
_MAX_OFF_T = 2**63 - 1


def split_verb(line: str) -> tuple[str, str]:
    """('MAIL', 'FROM:<a@b> SIZE=1') from 'mail FROM:<a@b> SIZE=1'; ('', '') for a blank line."""
    stripped = line.strip(_WS)
    if not stripped:
        return "", ""
    for i, c in enumerate(stripped):
        if c in _WS:
            return stripped[:i].upper(), stripped[i:].strip(_WS)
    return stripped.upper(), ""


def looks_like_header(line: str) -> bool:
    """True for 'Subject: x' style lines: a client that sends its message as commands."""
    return bool(_HEADER_RE.match(line))


def _take_address(text: str, bad: Reply) -> tuple[str, str]:
    """Split '<addr> rest' or 'addr rest'; the address keeps its quoting."""
    if not text.startswith("<"):
        for i, c in enumerate(text):
            if c in _WS:
                return text[:i], text[i:]
        return text, ""
    depth, i, quoted = 0, 0, False
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "\\":
            i += 1
        elif c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
            if depth == 0:
                end = i + 1
                if end < len(text) and text[end] not in _WS:
                    raise CommandError(bad)
                return text[1:i], text[end:]
        i += 1
    raise CommandError(bad)


def _split_path(arg: str, keyword: str, syntax: Reply, bad: Reply) -> tuple[str, list[str]]:
    if arg[: len(keyword)].upper() != keyword:
        raise CommandError(syntax)
    rest = arg[len(keyword):].lstrip(_WS)
    if not rest:
        raise CommandError(syntax)
    address, params = _take_address(rest, bad)
    return address, params.split()


def xtext_decode(text: str) -> str | None:
    """RFC 3461 xtext to text, None when malformed ('+' not followed by two hex digits)."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "+":
            h = text[i + 1:i + 3]
            if len(h) != 2 or not all(x in "0123456789ABCDEFabcdef" for x in h):
                return None
            out.append(chr(int(h, 16)))
            i += 3
            continue
        if c < "!" or c == "\x7f":  # Postfix only rejects a bad +XX; controls never belong here
            return None
        out.append(c)
        i += 1
    return "".join(out)


def xtext_encode(text: str) -> str:
    """Text to RFC 3461 xtext (for the client side)."""
    return "".join(c if ("!" <= c <= "~" and c not in "+=") else "".join(f"+{b:02X}" for b in c.encode()) for c in text)


def _is_print(text: str) -> bool:
    return all(" " <= c <= "~" for c in text)


def parse_mail(arg: str, *, size_limit: int = 0, dsn: bool = True, smtputf8: bool = True,
               auth: bool = False) -> tuple[str, MailParams]:
    """Parse what follows 'MAIL'; checks SIZE against size_limit (0 = none) like smtpd_check_size."""
    address, params = _split_path(arg, "FROM:", R.SYNTAX_MAIL, R.BAD_SENDER)
    size = body = ret = envid = auth_value = None
    utf8 = False
    for p in params:
        up = p.upper()
        if up in ("BODY=8BITMIME", "BODY=7BIT"):
            body = up[5:]
        elif up.startswith("SIZE="):
            if not _DIGITS.match(p[5:]):
                raise CommandError(R.BAD_SIZE)
            size = int(p[5:])
            if size > _MAX_OFF_T:
                raise CommandError(R.SIZE_EXCEEDS_FS)
        elif up == "SMTPUTF8" and smtputf8:
            utf8 = True
        elif up.startswith("AUTH=") and auth:
            # smtpd_sasl_mail_opt(): kept as sent (not xtext-decoded, not checked), only
            # a second AUTH= is refused
            if auth_value is not None:
                raise CommandError(R.MULTIPLE_AUTH)
            auth_value = p[5:]
        elif up.startswith("RET="):
            if not dsn:
                raise CommandError(R.DSN_DISABLED)
            if ret is not None or up[4:] not in ("FULL", "HDRS"):
                raise CommandError(R.BAD_RET)
            ret = up[4:]
        elif up.startswith("ENVID="):
            if not dsn:
                raise CommandError(R.DSN_DISABLED)
            decoded = xtext_decode(p[6:])
            if envid is not None or decoded is None or not _is_print(decoded):
                raise CommandError(R.BAD_ENVID)
            envid = decoded
        else:
            raise CommandError(R.unsupported_option(p))
    if size is not None and size_limit > 0 and size > size_limit:
        raise CommandError(R.SIZE_EXCEEDS_LIMIT)
    return address, MailParams(size=size, body=body, smtputf8=utf8, ret=ret, envid=envid, auth=auth_value)


_NOTIFY_WORDS = frozenset({"SUCCESS", "FAILURE", "DELAY"})


def parse_notify(value: str) -> frozenset[str] | None:
    """NOTIFY=NEVER | comma list of SUCCESS, FAILURE, DELAY; None when malformed."""
    words = value.upper().split(",")
    if words == ["NEVER"]:
        return frozenset(words)
    if not all(w in _NOTIFY_WORDS for w in words):
        return None
    return frozenset(words)


def parse_rcpt(arg: str, *, dsn: bool = True) -> tuple[str, RcptParams]:
    """Parse what follows 'RCPT'. An empty address is a syntax error, as in Postfix."""
    address, params = _split_path(arg, "TO:", R.SYNTAX_RCPT, R.BAD_RECIPIENT)
    if address == "":
        raise CommandError(R.BAD_RECIPIENT)
    notify = orcpt_type = orcpt = None
    for p in params:
        up = p.upper()
        if up.startswith("NOTIFY="):
            if not dsn:
                raise CommandError(R.DSN_DISABLED)
            if notify is not None or (notify := parse_notify(p[7:])) is None:
                raise CommandError(R.BAD_NOTIFY)
        elif up.startswith("ORCPT="):
            if not dsn:
                raise CommandError(R.DSN_DISABLED)
            kind, semi, coded = p[6:].partition(";")
            decoded = xtext_decode(coded) if semi else None
            if orcpt is not None or not kind or decoded is None:
                raise CommandError(R.BAD_ORCPT)
            orcpt_type, orcpt = kind, decoded
        else:
            raise CommandError(R.unsupported_option(p))
    return address, RcptParams(notify=notify, orcpt_type=orcpt_type, orcpt=orcpt)


def parse_bdat(arg: str) -> tuple[int | None, bool, bool]:
    """(size, last, ok): size None when the count is unreadable (then the stream is lost)."""
    words = arg.split()
    if not words or not _DIGITS.match(words[0]) or len(words[0]) > 18:
        return None, False, False
    size = int(words[0])
    if len(words) == 1:
        return size, False, True
    if len(words) == 2 and words[1].upper() == "LAST":
        return size, True, True
    return size, False, False
