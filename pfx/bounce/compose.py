"""RFC 3464 delivery status notifications laid out exactly as Postfix 3.7's bounce(8).

A notice is multipart/report with three parts: the human-readable text (template text,
then one wrapped ``<rcpt>: reason`` paragraph per recipient), message/delivery-status,
and the original as message/rfc822 (RET=FULL, no larger than bounce_size_limit) or its
headers as text/rfc822-headers. notice_chunks() is a generator: the small leading parts
come as one chunk, then the original is copied chunk by chunk from its file, so memory
does not grow with the message. Pure apart from reading that file; callers resume the
generator through runtime.run_blocking.

Decisions (docs: see tests/unit/bounce/golden/ for the Postfix notices we match):
the per-message fields keep Postfix's names ``X-Postfix-Queue-ID``/``X-Postfix-Sender``
and the ``X-Postfix;`` diagnostic type, because bounce parsers (mailing-list managers,
ticket systems) already recognise them; the boundary is ``QID.TIME/myhostname`` as in
Postfix. Postfix's cleanup adds Date: and Message-Id: to the notice; pfx writes them
here (same places: Date first, Message-Id last) so the notice does not depend on
cleanup's local-client rules; the Message-Id holds the original queue ID and a random
tag, since the notice's own queue ID is not known until cleanup commits it.
"""

import time

import attrs

from pfx.address.quote import quote_822_local
from pfx.bounce.template import Template

CHUNK_SIZE = 65536
WRAP_LENGTH, WRAP_INDENT = 79, 4  # bounce_print_wrap() in Postfix


def mail_date(when: float) -> str:
    """``Wed, 25 Nov 2026 10:13:18 +0000 (UTC)``, local time, day space-padded."""
    t = time.localtime(when)
    minutes = t.tm_gmtoff // 60
    sign = "-" if minutes < 0 else "+"
    hh, mm = divmod(abs(minutes), 60)
    return time.strftime("%a, %e %b %Y %H:%M:%S ", t) + f"{sign}{hh:02d}{mm:02d} ({t.tm_zone})"


def wrap(text: str, length: int = WRAP_LENGTH, indent: int = WRAP_INDENT) -> list:
    """Postfix's line_wrap(): break at spaces before ``length``, indent the rest."""
    words = text.split(" ")
    lines, current, limit = [], "", length
    for word in words:
        candidate = f"{current} {word}" if current else word
        if current and len(candidate.rstrip()) > limit:
            lines.append(current.rstrip())
            current, limit = word, length - indent
        else:
            current = candidate
    lines.append(current.rstrip())
    return [lines[0]] + [" " * indent + line for line in lines[1:]]


def line(value) -> str:
    """One header-safe line: CR and LF from logs or remote replies become spaces."""
    text = "" if value is None else str(value)
    return text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")


def addr(address: str) -> str:
    """An address in a header or report: external form, one line."""
    return quote_822_local(line(address)) if address else ""


def qualify(address: str, origin: str) -> str:
    """``MAILER-DAEMON`` -> ``MAILER-DAEMON@origin``; qualified addresses unchanged."""
    return address if "@" in address or not address else f"{address}@{origin}"


def from_header(sender: str, origin: str) -> str:
    """The template's From: with its bare address qualified, as cleanup would."""
    lt, gt = sender.find("<"), sender.rfind(">")
    if 0 <= lt < gt:
        return sender[:lt + 1] + qualify(sender[lt + 1:gt], origin) + sender[gt:]
    first, sep, rest = sender.partition(" ")  # obsolete form: MAILER-DAEMON (Mail ...)
    return qualify(first, origin) + sep + rest


@attrs.frozen
class Notice:
    """Everything a notice says besides the per-recipient records and the original."""

    template: Template
    queue_id: str  # the original message's
    sender: str  # the original envelope sender ("" for the null sender)
    to: str  # who receives this notice
    myhostname: str
    myorigin: str
    now: float
    message_id: str
    arrival: float = 0.0
    envid: str | None = None
    postmaster: bool = False  # a postmaster copy: no template text, own subject
    ret: str = "FULL"  # FULL or HDRS: what of the original to return
    size: int = 0  # the original's size, 0 if unknown
    size_limit: int = 50000
    action: str | None = None  # override every record's Action (expire: failed)
    will_retry_until: float | None = None  # delay warnings
    smtputf8: bool = True
    text_lines: tuple = ()  # the template text, already expanded

    @property
    def boundary(self) -> str:
        return f"{self.queue_id}.{int(self.now)}/{self.myhostname}"

    @property
    def subject(self) -> str:
        t = self.template
        return (t.postmaster_subject or t.subject) if self.postmaster else t.subject

    @property
    def charset(self) -> str:
        # Postfix 3.x labels us-ascii templates utf-8 when SMTPUTF8 is on
        cs = self.template.charset
        return "utf-8" if self.smtputf8 and cs.lower() == "us-ascii" else cs

    @property
    def undelivered(self) -> bool:
        return self.template.name in ("failure_template", "delay_template")


def head_text(n: Notice, records) -> str:
    """Message headers, preamble, the notification part and the delivery report."""
    b = n.boundary
    out = [
        f"Date: {mail_date(n.now)}",
        f"From: {from_header(n.template.sender, n.myorigin)}",
        f"Subject: {n.subject}",
        f"To: {addr(qualify(n.to, n.myorigin))}",  # as cleanup would qualify it
        f"Auto-Submitted: {'auto-generated' if n.postmaster else 'auto-replied'}",
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;",
        f'\tboundary="{b}"',
        "Content-Transfer-Encoding: 8bit",
        f"Message-Id: {n.message_id}",
        "",
        "This is a MIME-encapsulated message.",
        "",
        f"--{b}",
        "Content-Description: Notification",
        f"Content-Type: text/plain; charset={n.charset}",
        "Content-Transfer-Encoding: 8bit",
        "",
    ]
    if not n.postmaster:  # bounce(5): the template text is not sent to the postmaster
        out += list(n.text_lines)
    for rec in records:
        rcpt = rec.status.recipient
        if rcpt.orig and rcpt.orig.lower() != rcpt.address.lower():
            who = f"<{addr(rcpt.address)}> (expanded from <{addr(rcpt.orig)}>)"
        else:
            who = f"<{addr(rcpt.address)}>"
        out += [""] + wrap(f"{who}: {line(rec.status.text)}")
    out += ["", f"--{b}", "Content-Description: Delivery report",
            "Content-Type: message/delivery-status", ""]
    out += report_fields(n, records)
    return "\n".join(out) + "\n"


def report_fields(n: Notice, records) -> list:
    """The message/delivery-status body (RFC 3464 section 2.2 and 2.3), without ending."""
    out = [f"Reporting-MTA: dns; {n.myhostname}"]
    if n.envid:
        out.append(f"Original-Envelope-Id: {line(n.envid)}")
    out.append(f"X-Postfix-Queue-ID: {n.queue_id}")
    sender = addr(n.sender) or qualify("MAILER-DAEMON", n.myorigin)
    out.append(f"X-Postfix-Sender: rfc822; {sender}")
    if n.arrival:
        out.append(f"Arrival-Date: {mail_date(n.arrival)}")
    for rec in records:
        st, rcpt = rec.status, rec.status.recipient
        out += ["", f"Final-Recipient: rfc822; {addr(rcpt.address)}"]
        if rcpt.orcpt:
            out.append(f"Original-Recipient: {line(rcpt.orcpt)}")
        elif rcpt.orig:
            out.append(f"Original-Recipient: rfc822; {addr(rcpt.orig)}")
        out += [f"Action: {n.action or rec.action}", f"Status: {st.dsn.code}"]
        if rec.mta_name:
            out.append(f"Remote-MTA: {line(rec.mta_type) or 'dns'}; {line(rec.mta_name)}")
        if rec.diag_type and st.remote_reply:
            out.append(f"Diagnostic-Code: {line(rec.diag_type)}; {line(st.remote_reply)}")
        else:
            out.append(f"Diagnostic-Code: X-Postfix; {line(st.text)}")
        if n.will_retry_until is not None:
            out.append(f"Will-Retry-Until: {mail_date(n.will_retry_until)}")
    return out


class _Prefixed:
    """A file whose first bytes were already read (to measure it) and are replayed."""

    def __init__(self, prefix: bytes, f):
        self.prefix, self.f = prefix, f

    def read(self, size):
        if self.prefix:
            out, self.prefix = self.prefix[:size], self.prefix[size:]
            return out
        return self.f.read(size)


def _decide_full(n: Notice, f):
    """(full?, reader): RET=FULL only within bounce_size_limit; an unknown size is
    measured by reading at most size_limit + 1 bytes, which are then replayed."""
    if n.ret != "FULL":
        return False, f
    if n.size:
        return n.size <= n.size_limit, f
    head = f.read(n.size_limit + 1)
    return len(head) <= n.size_limit, _Prefixed(head, f)


def _copy_all(f, chunk_size):
    while True:
        buf = f.read(chunk_size)
        if not buf:
            return
        yield buf


def _copy_headers(f, chunk_size):
    """The header section only: everything before the first empty line."""
    at_line_start = True
    while True:
        buf = f.read(chunk_size)
        if not buf:
            return
        if at_line_start and buf.startswith(b"\n"):
            return
        end = buf.find(b"\n\n")
        if end >= 0:
            yield buf[:end + 1]
            return
        yield buf
        at_line_start = buf.endswith(b"\n")


def original_chunks(n: Notice, open_content, chunk_size=CHUNK_SIZE):
    """The third part: its MIME headers, then the original, then the final boundary."""
    b = n.boundary
    f = open_content()
    try:
        full, reader = _decide_full(n, f)
        what = "Message" if full else "Message Headers"
        if n.undelivered:
            what = "Undelivered " + what
        ctype = "message/rfc822" if full else "text/rfc822-headers"
        # the queue file has no Return-Path:, so the returned copy gets one, as in Postfix
        return_path = addr(n.sender) or qualify("MAILER-DAEMON", n.myorigin)
        yield (f"\n--{b}\nContent-Description: {what}\nContent-Type: {ctype}\n"
               f"Content-Transfer-Encoding: 8bit\n\nReturn-Path: <{return_path}>\n"
               ).encode("utf-8", "surrogateescape")
        last = b"\n"
        for buf in (_copy_all if full else _copy_headers)(reader, chunk_size):
            last = buf[-1:]
            yield buf
        yield (b"" if last == b"\n" else b"\n") + f"\n--{b}--\n".encode()
    finally:
        close = getattr(f, "close", None)
        if close is not None:
            close()


def notice_chunks(n: Notice, records, open_content=None, chunk_size=CHUNK_SIZE):
    """The whole notice as byte chunks; without ``open_content`` no third part."""
    head = head_text(n, records).encode("utf-8", "surrogateescape")
    if open_content is None:
        yield head + f"\n--{n.boundary}--\n".encode()
        return
    yield head
    yield from original_chunks(n, open_content, chunk_size)
