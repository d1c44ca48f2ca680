"""cleanup's header pass: stream the message, fix up the primary header block.

Works one logical header at a time, so memory is bounded by header_size_limit (the
excess of a longer header is discarded, as Postfix does) whatever the client sends.
It drops message_drop_headers, counts Received: hops, and at the end of the headers adds
the missing Date:, Message-ID: and From: (or their Resent- forms when the message has
Resent- headers) where cleanup(8) would. Line ends are normalized to LF; the body passes
through unchanged.

With a ContentChecks (checks.py) the primary headers go through header_checks or
mime_header_checks, and the body is handled line by line: a MimeTracker (mime.py) finds
the header blocks of MIME parts and attached messages (mime_header_checks,
nested_header_checks) and every other line goes to body_checks. With a ``rewrite``
callable, the addresses in sender and recipient headers are rewritten (display names,
comments and folding kept).

Security: the content is untrusted. Header values are only parsed as address lists
(pfx.address.parse, linear and never raising) and handed to the checks' tables.
"""

import re
import time

import attrs

from pfx.cleanup.mime import MimeTracker, is_mime_header
from pfx.dsn import Dsn, Reply

# header_opts.c: which headers carry sender and which recipient addresses
SENDER_HEADERS = frozenset({"from", "sender", "resent-from", "resent-sender", "errors-to",
                            "return-receipt-to"})
RECIPIENT_HEADERS = frozenset({"to", "cc", "bcc", "apparently-to", "reply-to", "resent-to",
                               "resent-cc", "resent-bcc", "resent-reply-to"})
LINE_LIMIT = 2048  # line_length_limit: a longer body line is checked in pieces

_HEADER_NAME = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:")
TOO_MANY_HOPS = Reply(554, Dsn("5.4.0"), "Error: too many hops")


@attrs.frozen
class HeaderPolicy:
    myhostname: str
    add_missing: bool  # local submission, or always_add_missing_headers = yes
    drop: frozenset = frozenset({"bcc", "content-length", "resent-bcc", "return-path"})
    header_size_limit: int = 102400
    hopcount_limit: int = 50
    from_address: str = ""  # the envelope sender, for a missing From:
    full_name: str = ""  # sendmail -F, for a missing From:
    long_queue_ids: bool = True
    # (kind, value) -> new value or None; kind is "header_sender" or "header_recipient"
    rewrite: object = None
    mime_nesting_limit: int = 100


def mail_date(now: float) -> str:
    """RFC 5322 date as Postfix writes it: ``Wed, 25 Nov 2026 09:35:53 +0000 (UTC)``."""
    t = time.localtime(now)
    offset = t.tm_gmtoff // 60
    sign = "-" if offset < 0 else "+"
    hh, mm = divmod(abs(offset), 60)
    return (time.strftime("%a, %e %b %Y %H:%M:%S ", t)
            + f"{sign}{hh:02d}{mm:02d} ({t.tm_zone})")


class HeaderPass:
    """feed(bytes) -> bytes to queue; finish() -> the rest. ``verdict`` is a Reply when
    the message must be rejected (too many hops)."""

    def __init__(self, policy: HeaderPolicy, queue_id: str, now: float, checks=None):
        self.policy = policy
        self.checks = checks if checks is not None and checks.active else None
        self.mime = MimeTracker(policy.mime_nesting_limit) if self.checks else None
        self._part = []  # lines of a MIME part header being collected
        self._part_kind = None
        self.queue_id = queue_id
        self.now = now
        self.verdict = None
        self.hops = 0
        self.message_id = None
        self.seen = set()  # lower-case names of the headers kept
        self.header_bytes = 0  # output bytes before the body: where cleanup marks it
        self.in_body = False
        self._partial = b""  # an incomplete input line
        self._header = []  # lines of the current logical header
        self._header_size = 0
        self._truncated = False

    # -- streaming ---------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        if self.in_body:
            return self._body(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        out = []
        for i, line in enumerate(lines):
            if self.in_body:  # the header block ended on an earlier line of this chunk
                rest, self._partial = b"\n".join(lines[i:]) + b"\n" + self._partial, b""
                out.append(self._body(rest))
                break
            out.append(self._header_line(line.removesuffix(b"\r")))
        else:
            if self.in_body and self._partial:
                rest, self._partial = self._partial, b""
                out.append(self._body(rest))
        return b"".join(out)

    def _body(self, data: bytes) -> bytes:
        if self.checks is not None:
            return self._body_lines(data)
        data = self._partial + data
        # keep a trailing CR back: its LF may come with the next chunk
        self._partial = b"\r" if data.endswith(b"\r") else b""
        return (data[:-1] if self._partial else data).replace(b"\r\n", b"\n")

    def finish(self) -> bytes:
        if self.in_body:
            rest, self._partial = self._partial, b""
            if self.checks is not None:
                out = self._body_line(rest.removesuffix(b"\r"), b"") if rest else b""
                return out + self._flush_part()
            return rest
        out = b""
        if self._partial:
            line, self._partial = self._partial.removesuffix(b"\r"), b""
            out = self._header_line(line)
        if not self.in_body:
            out += self._end_of_headers()
        elif self._partial:  # a non-header last line went to the body path
            out, self._partial = out + self._partial, b""
        return out

    # -- headers -----------------------------------------------------------------

    def _header_line(self, line: bytes) -> bytes:
        if line[:1] in (b" ", b"\t") and self._header:
            self._add_to_header(line)
            return b""
        flushed = self._flush_header()
        if _HEADER_NAME.match(line):
            self._add_to_header(line)
            return flushed
        # an empty line or a non-header line ends the primary headers
        tail = self._end_of_headers()
        if self.checks is not None and line:
            return flushed + tail + self._body_line(line, b"\n")  # it is body content
        return flushed + tail + line + b"\n"

    def _add_to_header(self, line):
        room = self.policy.header_size_limit - self._header_size
        if room <= 0:
            self._truncated = True
            return
        kept = line[:room]
        self._truncated |= len(kept) < len(line)
        self._header.append(kept)
        self._header_size += len(kept) + 1

    def _flush_header(self) -> bytes:
        if not self._header:
            return b""
        lines, self._header, self._header_size = self._header, [], 0
        name = _HEADER_NAME.match(lines[0]).group(1).decode("ascii").lower()
        if name == "received":
            self.hops += 1
            if self.hops > self.policy.hopcount_limit and self.verdict is None:
                self.verdict = TOO_MANY_HOPS
        prepend = b""
        if self.checks is not None:
            if self.mime is not None:
                self.mime.header(name, _value(b"\n".join(lines)))
            result = self.checks.check_header("mime" if is_mime_header(name) else "header",
                                              _text(b"\n".join(lines)))
            if result is not None:
                if not result:
                    return b""  # IGNORE
                if len(result) > 1:  # PREPEND: the new header, then this one
                    prepend = b"".join(_bytes(r) + b"\n" for r in result[:-1])
                    self.header_bytes += len(prepend)
                else:  # REPLACE: the new text is the header from here on
                    lines = _bytes(result[0]).split(b"\n")
                    if not _HEADER_NAME.match(lines[0]):
                        return prepend
                    name = _HEADER_NAME.match(lines[0]).group(1).decode("ascii").lower()
        if name in self.policy.drop:
            return prepend
        self.seen.add(name)
        if self.policy.rewrite is not None and (name in SENDER_HEADERS
                                                or name in RECIPIENT_HEADERS):
            lines = self._rewrite(name, lines)
        if name == "message-id" and self.message_id is None:
            value = b" ".join(x.strip() for x in lines)[len("message-id:"):].strip()
            self.message_id = value.decode("utf-8", "replace")
        out = b"\n".join(lines) + b"\n"
        self.header_bytes += len(out)
        return prepend + out

    def _rewrite(self, name, lines):
        raw = b"\n".join(lines)
        colon = raw.index(b":")
        value = _text(raw[colon + 1 :])
        kind = "header_sender" if name in SENDER_HEADERS else "header_recipient"
        new = self.policy.rewrite(kind, value)
        if new is None or new == value:
            return lines
        return (raw[: colon + 1] + _bytes(new)).split(b"\n")

    def _end_of_headers(self) -> bytes:
        self.in_body = True
        flushed = self._flush_header()
        if self.mime is not None:
            self.mime.end_of_headers()
        added = b"".join(h.encode() + b"\n" for h in self.missing())
        self.header_bytes += len(added)
        return flushed + added

    # -- the body, line by line (only with content checks) --------------------------

    def _body_lines(self, data: bytes) -> bytes:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        out = [self._body_line(line.removesuffix(b"\r"), b"\n") for line in lines]
        while len(self._partial) > LINE_LIMIT:  # an over-long line: check it in pieces
            piece, self._partial = self._partial[:LINE_LIMIT], self._partial[LINE_LIMIT:]
            out.append(self._body_line(piece, b""))
        return b"".join(out)

    def _body_line(self, line: bytes, eol: bytes) -> bytes:
        where = self.mime.classify(line)
        if where in ("part", "nested"):
            if line[:1] in (b" ", b"\t") and self._part:
                self._add_part_line(line)
                return b""
            if _HEADER_NAME.match(line):
                flushed = self._flush_part()
                self._part_kind = where
                self._add_part_line(line)
                return flushed
            where = "end"  # not a header: the block ends here, the line is content
            flushed = self._flush_part()
            self.mime.end_of_headers()
            return flushed + self._check_body_line(line, eol)
        if where == "end":
            flushed = self._flush_part()
            self.mime.end_of_headers()
            return flushed + line + eol
        return self._check_body_line(line, eol)

    def _add_part_line(self, line):
        if sum(len(x) + 1 for x in self._part) + len(line) <= self.policy.header_size_limit:
            self._part.append(line)

    def _flush_part(self) -> bytes:
        if not self._part:
            return b""
        raw, self._part = b"\n".join(self._part), []
        name = _HEADER_NAME.match(raw).group(1).decode("ascii")
        self.mime.header(name, _value(raw))
        kind = "mime" if self._part_kind == "part" or is_mime_header(name) else "nested"
        result = self.checks.check_header(kind, _text(raw))
        if result is None:
            return raw + b"\n"
        return b"".join(_bytes(r) + b"\n" for r in result)

    def _check_body_line(self, line: bytes, eol: bytes) -> bytes:
        result = self.checks.check_body(_text(line))
        if result is None:
            return line + eol
        return b"".join(_bytes(r) + b"\n" for r in result[:-1]) + (
            _bytes(result[-1]) + eol if result else b"")

    def missing(self) -> list[str]:
        """The headers cleanup adds at the end of the header block."""
        if not self.policy.add_missing:
            return []
        resent = any(n.startswith("resent-") for n in self.seen)
        prefix = "Resent-" if resent else ""
        out = []
        if prefix.lower() + "date" not in self.seen:
            out.append(f"{prefix}Date: {mail_date(self.now)}")
        if prefix.lower() + "message-id" not in self.seen:
            mid = self._new_message_id()
            if not resent:
                self.message_id = mid
            out.append(f"{prefix}Message-Id: {mid}")
        if prefix.lower() + "from" not in self.seen and self.policy.from_address:
            addr = self.policy.from_address
            name = self.policy.full_name
            out.append(f"{prefix}From: {_quote_phrase(name)} <{addr}>" if name
                       else f"{prefix}From: {addr}")
        return out

    def _new_message_id(self) -> str:
        host = self.policy.myhostname
        if self.policy.long_queue_ids:
            return f"<{self.queue_id}@{host}>"
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(self.now))
        return f"<{stamp}.{self.queue_id}@{host}>"


_ATOM_OK = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")  # atoms and spaces


def _quote_phrase(name: str) -> str:
    """A display name as RFC 5322 allows it: quoted when it has specials."""
    if _ATOM_OK.match(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _value(raw: bytes) -> str:
    return _text(raw.split(b":", 1)[1]) if b":" in raw else ""
