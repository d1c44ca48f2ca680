"""8BITMIME downgrade: 8-bit text parts become quoted-printable for a server without 8BITMIME.

Postfix converts while streaming; we parse the message with the email package (the
whole message in memory, which is acceptable for this rare path) and re-encode every
leaf part whose Content-Transfer-Encoding is 8bit or absent and that holds 8-bit
bytes. Headers are left as they are.

Security: the message is untrusted; the email package's compat32 parser does not
fail on malformed MIME, it only yields defects, so any input gives some output.
"""

import email
import email.policy
import quopri


def has_8bit(data: bytes) -> bool:
    return any(b > 127 for b in data)


def downgrade(data: bytes) -> bytes:
    """Message bytes (LF line ends) -> the same message with 8-bit parts quoted-printable."""
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    changed = False
    for part in msg.walk():
        if part.is_multipart():
            continue
        cte = (part.get("Content-Transfer-Encoding") or "7bit").strip().lower()
        payload = part.get_payload(decode=False)
        raw = payload.encode("utf-8", "surrogateescape") if isinstance(payload, str) else b""
        if cte not in ("7bit", "8bit", "binary") or not has_8bit(raw):
            continue
        encoded = quopri.encodestring(raw.replace(b"\r\n", b"\n"))
        part.set_payload(encoded.decode("ascii"))
        del part["Content-Transfer-Encoding"]
        part["Content-Transfer-Encoding"] = "quoted-printable"
        changed = True
    if not changed:
        return data
    out = msg.as_bytes(policy=email.policy.compat32.clone(linesep="\n"))
    return out if out.endswith(b"\n") else out + b"\n"


class LineFolder:
    """smtp_line_length_limit: a longer line is broken by inserting LF SPACE (the dot
    encoder makes that CRLF SPACE), as Postfix does "to minimize the damage to MIME
    formatted mail". Streaming; 0 means no limit."""

    def __init__(self, limit: int):
        self.limit = limit
        self.column = 0

    def feed(self, data: bytes) -> bytes:
        if not self.limit:
            return data
        out = bytearray()
        for i, segment in enumerate(data.split(b"\n")):
            if i:
                out += b"\n"
                self.column = 0
            if segment.endswith(b"\r"):  # a CRLF line end: the CR is not content
                segment, cr = segment[:-1], b"\r"
            else:
                cr = b""
            while self.column + len(segment) > self.limit:
                room = self.limit - self.column
                out += segment[:room] + b"\n "
                segment, self.column = segment[room:], 1
            out += segment + cr
            self.column += len(segment)
        return bytes(out)
