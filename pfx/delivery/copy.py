"""Copying a message into a mailbox, file or command (Postfix's mail_copy.c), streamed.

The envelope lines local(8) and pipe(8) prepend (``From sender  date``, Return-Path,
X-Original-To, Delivered-To) and the body transforms (``>From`` and ``..`` quoting,
end-of-line conversion, the trailing blank line of mbox) are built here, reading the
content line by line with a bounded line length, so memory does not grow with the
message.
"""

import time

from pfx.address.quote import quote_822_local

CHUNK = 64 * 1024
MAILER_DAEMON = "MAILER-DAEMON"


def from_line(sender, now, null_sender=MAILER_DAEMON):
    """``From sender  Tue Jun  3 10:22:11 2025`` (two spaces: mail_copy.c's format)."""
    who = quote_822_local(sender) if sender else null_sender
    return f"From {who}  {time.asctime(time.localtime(now))[:24]}\n".encode("utf-8", "surrogateescape")


def envelope_headers(sender=None, orig_rcpt=None, delivered=None, null_sender=""):
    """Return-Path, X-Original-To, Delivered-To in mail_copy.c's order; None leaves one out.

    Delivered-To is lower-cased, as mail_copy.c does, so loop detection compares equal.
    """
    out = []
    if sender is not None:
        who = quote_822_local(sender) if sender else null_sender
        out.append(f"Return-Path: <{who}>\n")
    if orig_rcpt is not None:
        out.append(f"X-Original-To: {quote_822_local(orig_rcpt)}\n")
    if delivered is not None:
        out.append(f"Delivered-To: {quote_822_local(delivered).lower()}\n")
    return "".join(out).encode("utf-8", "surrogateescape")


def copy_body(src, dst, quote_from=False, dot=False, eol=b"\n", blank=False):
    """Copy ``src`` (LF line ends) to ``dst``; returns the bytes written.

    quote_from: ``From `` at a line start becomes ``>From ``; dot: a leading ``.`` is
    doubled; eol: the record delimiter written for each LF; blank: end with an empty
    line (mbox), after adding a missing final newline.
    """
    written, at_start, last = 0, True, b"\n"
    while True:
        line = src.readline(CHUNK)
        if not line:
            break
        if at_start:
            if quote_from and line.startswith(b"From "):
                line = b">" + line
            elif dot and line.startswith(b"."):
                line = b"." + line
        at_start = line.endswith(b"\n")
        if at_start and eol != b"\n":
            line = line[:-1] + eol
        dst.write(line)
        written += len(line)
        last = line
    if blank:
        tail = (b"" if last.endswith(b"\n") else eol) + eol
        dst.write(tail)
        written += len(tail)
    return written


def delivered_to(src, limit=1000):
    """The lower-cased Delivered-To values in the header section of ``src``.

    Reads only the headers; at most ``limit`` values are kept (Postfix's
    delivered_hdr.c reads the primary headers only). ``src`` is left anywhere.
    """
    found, current = set(), None
    while len(found) < limit:
        line = src.readline(CHUNK)
        if not line or line in (b"\n", b"\r\n"):
            break
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current += line
            continue
        if current is not None:
            found.add(_value(current))
        current = line if line[:13].lower() == b"delivered-to:" else None
    if current is not None:
        found.add(_value(current))
    return found


def _value(header):
    text = header[13:].decode("utf-8", "surrogateescape")
    return " ".join(text.split()).lower()
