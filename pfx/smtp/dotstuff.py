"""DATA-phase decoding (end-of-data detection, dot-unstuffing, bare-LF policy) and dot-stuffing.

Streaming and bounded: the decoder consumes from a caller's bytearray and never holds
more than one line piece (``piece_limit`` bytes) of undecided input, however long the
client's lines are. A line longer than the limit is passed on in pieces; only the
first piece of a line is at "line start", so the rest can never be read as a dot line.

End of data (smtpd_forbid_bare_newline):
  "normalize"/"yes" and "reject": only <CR><LF>.<CR><LF> ends the message, where the
      first CRLF is the previous line's end (or the DATA command's). <LF>.<LF>,
      <LF>.<CR><LF>, <CR><LF>.<LF> are content; CR alone never ends a line.
  "no": Postfix before 3.9: "." on a line ending in LF or CRLF ends it (smugglable).
Lines ending in a bare LF are passed on ending in CRLF (Postfix stores records, which
is the same thing); "reject" also notes that one was seen.
"""

import re

MODES = ("no", "normalize", "yes", "reject")
# What needs the line-by-line path: a bare LF, or a line that starts with a dot.
_SPECIAL = re.compile(rb"(?<!\r)\n|\n\.")


class DotDecoder:
    """Turns the SMTP DATA stream into message bytes; one instance per message."""

    def __init__(self, mode: str = "normalize", piece_limit: int = 2048, prev_crlf: bool = True):
        if mode not in MODES:
            raise ValueError(f"bad smtpd_forbid_bare_newline value: {mode!r}")
        if piece_limit < 3:
            raise ValueError("piece_limit must be at least 3")
        self.strict = mode != "no"
        self.piece_limit = piece_limit
        self.at_line_start = True
        self.prev_crlf = prev_crlf  # did the last complete line end in CRLF?
        self.bare_lf = False
        self.done = False

    def decode(self, buf: bytearray, max_out: int = 65536) -> bytes:
        """Consume complete lines (or over-long pieces) from ``buf``; stops at end of data
        (self.done), when ``max_out`` bytes are ready, or when more input is needed."""
        out = bytearray()
        limit = self.piece_limit
        while not self.done and len(out) < max_out and buf:
            if self.at_line_start and buf[0] != 0x2E:
                # Whole CRLF lines with no dot at their start pass through unchanged,
                # so copy them in one step. The search stops at the first special
                # line, which the loop below takes: the work stays linear in the input.
                window = max_out - len(out)
                special = _SPECIAL.search(buf, 0, window)
                if special is None:
                    stop = window
                else:  # up to a dot line, or up to the line with a bare LF
                    stop = special.start() + (special.group() == b"\n.")
                end = buf.rfind(b"\n", 0, stop) + 1
                if end:
                    out += buf[:end]
                    del buf[:end]
                    self.at_line_start = self.prev_crlf = True
                    continue
            nl = buf.find(b"\n", 0, limit)
            if nl < 0:
                if len(buf) < limit:
                    break  # wait: this may still become a short line or a dot line
                take = limit - 1 if buf[limit - 1] == 0x0D else limit  # keep CR next to its LF
                piece = bytes(buf[:take])
                del buf[:take]
                if self.at_line_start and piece[:1] == b".":
                    piece = piece[1:]
                out += piece
                self.at_line_start = False
                continue
            line = bytes(buf[:nl + 1])
            del buf[:nl + 1]
            crlf = line.endswith(b"\r\n")
            content = line[:-2] if crlf else line[:-1]
            if self.at_line_start and content[:1] == b".":
                if content == b"." and (not self.strict or (crlf and self.prev_crlf)):
                    self.done = True
                    break
                content = content[1:]
            if not crlf:
                self.bare_lf = True
            out += content + b"\r\n"
            self.prev_crlf = crlf
            self.at_line_start = True
        return bytes(out)


class DotEncoder:
    """Dot-stuffs message bytes for sending, streaming; one instance per message.

    Lines end at LF; a '.' at line start is doubled; bare LF becomes CRLF, so that what
    we send can always be ended safely (no smuggling through us). A CR at the end of a
    chunk is held back until we know whether LF follows.
    """

    def __init__(self):
        self.at_line_start = True
        self._cr = False

    def feed(self, data: bytes) -> bytes:
        if self._cr:
            data, self._cr = b"\r" + data, False
        if data.endswith(b"\r"):
            data, self._cr = data[:-1], True
        out = bytearray()
        start, n = 0, len(data)
        while start < n:
            nl = data.find(b"\n", start)
            segment = data[start:n if nl < 0 else nl]
            if self.at_line_start and segment[:1] == b".":
                out += b"."
            if nl < 0:
                out += segment
                self.at_line_start = False
                break
            out += (segment[:-1] if segment.endswith(b"\r") else segment) + b"\r\n"
            self.at_line_start = True
            start = nl + 1
        return bytes(out)

    def end(self) -> bytes:
        """The rest and the terminator: CRLF.CRLF, adding the CRLF a last line lacks."""
        tail = b""
        if self._cr:
            tail, self._cr = b"\r", False
            self.at_line_start = False
        return tail + (b".\r\n" if self.at_line_start else b"\r\n.\r\n")


def dot_encode(data: bytes) -> bytes:
    """A whole message, dot-stuffed and terminated."""
    enc = DotEncoder()
    return enc.feed(data) + enc.end()
