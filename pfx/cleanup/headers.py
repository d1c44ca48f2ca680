"""cleanup's header pass: stream the message, fix up the primary header block.

Works one logical header at a time, so memory is bounded by header_size_limit (the
excess of a longer header is discarded, as Postfix does) whatever the client sends.
It drops message_drop_headers, counts Received: hops, and at the end of the headers adds
the missing Date:, Message-ID: and From: (or their Resent- forms when the message has
Resent- headers) where cleanup(8) would. Line ends are normalized to LF; the body passes
through unchanged.

Security: the content is untrusted. Nothing here interprets header values beyond their
names; header_checks and address rewriting are later passes.
"""

import re
import time

import attrs

from pfx.dsn import Dsn, Reply

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

    def __init__(self, policy: HeaderPolicy, queue_id: str, now: float):
        self.policy = policy
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
        data = self._partial + data
        # keep a trailing CR back: its LF may come with the next chunk
        self._partial = b"\r" if data.endswith(b"\r") else b""
        return (data[:-1] if self._partial else data).replace(b"\r\n", b"\n")

    def finish(self) -> bytes:
        if self.in_body:
            rest, self._partial = self._partial, b""
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
        if name in self.policy.drop:
            return b""
        self.seen.add(name)
        if name == "message-id" and self.message_id is None:
            value = b" ".join(x.strip() for x in lines)[len("message-id:"):].strip()
            self.message_id = value.decode("utf-8", "replace")
        out = b"\n".join(lines) + b"\n"
        self.header_bytes += len(out)
        return out

    def _end_of_headers(self) -> bytes:
        self.in_body = True
        flushed = self._flush_header()
        added = b"".join(h.encode() + b"\n" for h in self.missing())
        self.header_bytes += len(added)
        return flushed + added

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
