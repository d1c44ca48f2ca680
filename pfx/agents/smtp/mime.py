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
