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

MODES = ("no", "normalize", "yes", "reject")


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
        slow = 0  # bytes known to hold a bare LF: these go line by line
        while not self.done and len(out) < max_out and buf:
            if self.at_line_start and slow <= 0 and buf[0] != 0x2E:
                # Whole CRLF lines with no dot at their start pass through unchanged,
                # so copy them in one step, up to the next line that starts with a dot.
                window = max_out - len(out)
                dot = buf.find(b"\n.", 0, window)
                end = buf.rfind(b"\n", 0, window if dot < 0 else dot + 1) + 1
                if end:
                    if buf.count(b"\n", 0, end) == buf.count(b"\r\n", 0, end):
                        out += buf[:end]
                        del buf[:end]
                        self.prev_crlf = True
                        continue
                    slow = end  # a bare LF among them: each scanned byte is decoded once
            nl = buf.find(b"\n", 0, limit)
            if nl < 0:
                if len(buf) < limit:
                    break  # wait: this may still become a short line or a dot line
                take = limit - 1 if buf[limit - 1] == 0x0D else limit  # keep CR next to its LF
                piece = bytes(buf[:take])
                del buf[:take]
                slow -= take
                if self.at_line_start and piece[:1] == b".":
                    piece = piece[1:]
                out += piece
                self.at_line_start = False
                continue
            line = bytes(buf[:nl + 1])
            del buf[:nl + 1]
            slow -= nl + 1
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
