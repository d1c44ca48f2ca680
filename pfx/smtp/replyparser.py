"""Parsing SMTP/LMTP server replies (multi-line, enhanced status codes) from a byte stream, bounded.

The inverse of pfx.dsn.Reply.lines(): ``250-a`` / ``250 b`` lines become one Reply whose
text has one line per wire line. An enhanced status code is taken from the first line
when its class matches the reply code (RFC 2034) and then stripped from every line that
repeats it. Over-long lines are cut (the rest of the line is dropped), and a reply with
too many lines is an error, so a hostile server cannot make us buffer without bound.
"""

import re

from pfx.dsn import Dsn, Reply
from pfx.smtp.errors import RemoteProtocolError

_LINE = re.compile(rb"^([2-5][0-9][0-9])([ -]|$)(.*)$", re.S)
_DSN = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})(?: |$)")


class ReplyParser:
    """Feed bytes, take Replies. One instance per connection."""

    def __init__(self, line_limit: int = 2048, max_lines: int = 1000):
        self.line_limit = line_limit
        self.max_lines = max_lines
        self._buf = bytearray()
        self._skipping = False  # inside the cut-off tail of an over-long line
        self._lines: list[tuple[int, str]] = []

    @property
    def pending(self) -> bool:
        """Bytes of an unfinished reply are buffered."""
        return bool(self._buf or self._lines)

    def feed(self, data: bytes) -> list[Reply]:
        """Add bytes; return the replies they complete (maybe none)."""
        self._buf += data
        out = []
        while True:
            nl = self._buf.find(b"\n")
            if self._skipping:
                if nl < 0:
                    self._buf.clear()
                    return out
                del self._buf[:nl + 1]
                self._skipping = False
                continue
            if nl < 0:
                if len(self._buf) > self.line_limit:
                    line = bytes(self._buf[:self.line_limit])
                    self._buf.clear()
                    self._skipping = True
                    reply = self._line(line)
                    if reply is not None:
                        out.append(reply)
                return out
            line = bytes(self._buf[:min(nl, self.line_limit)])
            del self._buf[:nl + 1]
            reply = self._line(line.rstrip(b"\r"))
            if reply is not None:
                out.append(reply)

    def _line(self, line: bytes) -> Reply | None:
        m = _LINE.match(line)
        if m is None:
            raise RemoteProtocolError(f"malformed SMTP reply line: {line[:80]!r}")
        code = int(m.group(1))
        if self._lines and self._lines[0][0] != code:
            raise RemoteProtocolError(f"reply code changed inside a reply: {line[:80]!r}")
        text = m.group(3).decode("utf-8", "replace").replace("\r", " ")
        self._lines.append((code, text))
        if len(self._lines) > self.max_lines:
            raise RemoteProtocolError("reply has too many lines")
        if m.group(2) == b"-":
            return None
        lines, self._lines = self._lines, []
        return _build(code, [t for _, t in lines])


def _build(code: int, texts: list[str]) -> Reply:
    dsn = None
    m = _DSN.match(texts[0])
    if m and m.group(1)[0] == str(code)[0]:
        dsn = m.group(1)
        texts = [t[len(dsn) + 1:] if t.startswith(dsn + " ") else ("" if t == dsn else t) for t in texts]
    return Reply(code, Dsn(dsn) if dsn else None, "\n".join(texts))


def parse_reply(data: bytes) -> Reply:
    """One whole reply from bytes (tests, logs)."""
    replies = ReplyParser().feed(data)
    if len(replies) != 1:
        raise RemoteProtocolError(f"expected one reply, got {len(replies)}")
    return replies[0]
