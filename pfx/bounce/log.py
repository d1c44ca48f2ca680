"""Per-message status logs in bounce/, defer/ and trace/: durable append, tolerant read.

One record per recipient: ``name=value`` lines ended by an empty line, with Postfix's
attribute names (bounce_log.c, dsn_print.c). A record is written with one write() and
fsync'd before append() returns, so a status that qmgr counts as done is on disk. The
reader never raises for bad content: a damaged or torn record is skipped and described
in the returned warnings (a crash mid-append leaves a recipient that qmgr retries
anyway, because its queue-file record was not yet crossed off).

Blocking file work; callers run it through runtime.run_blocking.
"""

import os

import attrs

from pfx.dsn import Dsn
from pfx.envelope import Recipient, RecipientStatus

ATTRIBUTES = ("recipient", "orig_rcpt", "dsn_orcpt", "dsn_notify", "offset", "status",
              "action", "reason", "relay", "diag_type", "diag_text", "mta_type",
              "mta_name", "time")
# DSN NOTIFY as Postfix's bit mask (dsn_mask.h), so the files read the same.
NOTIFY_BITS = {"NEVER": 1, "SUCCESS": 2, "FAILURE": 4, "DELAY": 8}
# RecipientStatus.action -> the RFC 3464 Action the log records
DSN_ACTION = {"bounced": "failed", "deferred": "delayed", "sent": "delivered"}
_STATUS_ACTION = {"2": "sent", "4": "deferred", "5": "bounced"}
LOG_MODE = 0o600


@attrs.frozen
class LogRecord:
    """One recipient's entry: the status plus the DSN details the notice needs."""

    status: RecipientStatus
    action: str = "failed"  # failed, delayed, delivered, relayed, expanded
    diag_type: str = ""  # "smtp" when diag_text is a remote server's reply
    mta_type: str = ""
    mta_name: str = ""
    time: int = 0


def notify_mask(words) -> int:
    return sum(NOTIFY_BITS[w] for w in words)


def notify_words(mask: int) -> frozenset:
    return frozenset(w for w, bit in NOTIFY_BITS.items() if mask & bit)


def _clean(value) -> str:
    # a value is one line: CR/LF inside a reply or reason must not start a new attribute
    text = "" if value is None else str(value)
    return " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text


def remote_host(relay: str) -> str:
    """``mx.example[192.0.2.1]:25`` -> ``mx.example``, the Remote-MTA name."""
    return relay.split("[", 1)[0] if relay and relay != "none" else ""


def record_for(status: RecipientStatus, when: float, action: str | None = None) -> dict:
    """The attribute values for one status, in ATTRIBUTES order."""
    rcpt = status.recipient
    remote = status.remote_reply is not None
    return {
        "recipient": rcpt.address,
        "orig_rcpt": rcpt.orig or "",
        "dsn_orcpt": rcpt.orcpt or "",
        "dsn_notify": str(notify_mask(rcpt.notify)),
        "offset": "" if rcpt.offset is None else str(rcpt.offset),
        "status": status.dsn.code,
        "action": action or DSN_ACTION[status.action],
        "reason": status.text,
        "relay": status.relay,
        "diag_type": "smtp" if remote else "",
        "diag_text": status.remote_reply if remote else "",
        "mta_type": "dns" if remote and remote_host(status.relay) else "",
        "mta_name": remote_host(status.relay) if remote else "",
        "time": str(int(when)),
    }


def encode(status: RecipientStatus, when: float, action: str | None = None) -> bytes:
    """One record as bytes, ended by the empty line."""
    fields = record_for(status, when, action)
    lines = [f"{name}={_clean(value)}\n" for name, value in fields.items()]
    return ("".join(lines) + "\n").encode("utf-8", "surrogateescape")


def append(path: str, status: RecipientStatus, when: float, action: str | None = None) -> None:
    """Add one record and fsync it; creates the file (and a missing hash directory)."""
    data = encode(status, when, action)
    directory = os.path.dirname(path)
    created = not os.path.exists(path)
    if created and not os.path.isdir(directory):
        os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, LOG_MODE)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:  # the new directory entry must survive a crash too
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def decode(fields: dict) -> LogRecord:
    """A record's fields -> LogRecord; ValueError (or KeyError) if it is damaged."""
    address = fields["recipient"]
    dsn = Dsn(fields["status"])
    mask = int(fields.get("dsn_notify") or 0)
    offset = fields.get("offset") or ""
    rcpt = Recipient(address, orig=fields.get("orig_rcpt") or None,
                     orcpt=fields.get("dsn_orcpt") or None, notify=notify_words(mask),
                     offset=int(offset) if offset else None)
    diag_type = fields.get("diag_type", "")
    remote = fields.get("diag_text", "") if diag_type.lower() == "smtp" else None
    status = RecipientStatus(rcpt, _STATUS_ACTION[dsn.klass], dsn, fields.get("reason", ""),
                             fields.get("relay") or "none", remote or None)
    action = fields.get("action") or DSN_ACTION[status.action]
    return LogRecord(status, action, diag_type, fields.get("mta_type", ""),
                     fields.get("mta_name", ""), int(fields.get("time") or 0))


def parse(lines, name: str = "log"):
    """Records from an iterable of byte lines -> (records, warnings)."""
    records, warnings, fields, bad, number = [], [], {}, None, 0
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        if line == "":
            if fields or bad:
                _finish(records, warnings, fields, bad, name, number)
            fields, bad = {}, None
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.isidentifier():
            continue  # Postfix's "<rcpt>: text" summary lines and other prose: not data
        if key in ATTRIBUTES:
            fields[key] = value
        # unknown attributes are a newer writer's: ignored, as Postfix's attr_scan does
    if fields or bad:
        warnings.append(f"{name}: record ending at line {number} is incomplete (torn write?): "
                        "skipped")
    return records, warnings


def _finish(records, warnings, fields, bad, name, number):
    if bad is None:
        try:
            records.append(decode(fields))
            return
        except (KeyError, ValueError, TypeError) as e:
            bad = f"{type(e).__name__}: {e}"
    warnings.append(f"{name}: damaged record ending at line {number} ({bad}): skipped")


def read(path: str):
    """All readable records of a log -> (records, warnings); a missing log is empty."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return [], []
    except OSError as e:
        return [], [f"{path}: cannot read: {e.strerror}"]
    with f:
        return parse(f, path)


def remove(path: str) -> bool:
    """Delete a log after its notice is queued; False if it was not there."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True
