"""postdrop: put one message into maildrop/ for pickup, and wake pickup if pfx runs.

Two ways in. sendmail calls Maildrop directly, in its own process: pfx has no
setgid helper, so there is nothing a separate postdrop process would add but a fork
and a pipe (Postfix runs postdrop setgid postdrop so that maildrop/ need not be
world-writable; with pfx the submitting user must be able to write maildrop/).
``pfx postdrop`` is the stand-alone form, as postdrop(1): it reads a message in
internal form (the MAILDROP record stream pfx.queue.stream.encode produces) from
standard input and copies it, record by record, into a new maildrop file.

Either way the file is written under a temporary name and gets its queue ID name only
after fsync (QueueFileWriter), so pickup never sees half a file; incomplete input, an
error or a signal (HUP, INT, QUIT, TERM) deletes it. Then ``W`` goes to public/pickup;
when nobody listens the file simply waits for pfx to start.

Security: what a local user sends is untrusted; the MAILDROP policy (checked while
writing) allows only what a local user may set: no client facts, no crossed-off
recipients, only the full_name attribute. Reads queue_directory.
"""

import contextlib
import os
import signal
import sys

from pfx.cli.trigger import send_trigger
from pfx.envelope import Envelope
from pfx.errors import ConfigError, QueueFileCorrupt
from pfx.queue.records import HEADER, MAILDROP, R, Record, SegmentChecker, decode_header
from pfx.queue.store import QueueStore

EX_USAGE, EX_DATAERR, EX_SOFTWARE, EX_TEMPFAIL, EX_NOPERM = 64, 65, 70, 75, 77
SIGNALS = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)


class Interrupted(BaseException):
    """A signal arrived while a maildrop file was being written."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


class Maildrop:
    """One new maildrop file: write(), then commit(extracted) -> QueueId, or abort().

    Used as a context manager it deletes the file unless commit() succeeded, also
    when a signal (raised as Interrupted) or any other exception ends the block.
    """

    def __init__(self, queue_directory, envelope: Envelope, *, full_name="", flags=0):
        self.queue_directory = queue_directory
        attributes = [("full_name", full_name)] if full_name else []
        self.writer = QueueStore(queue_directory).new_file(
            envelope, "maildrop", attributes=attributes, flags=flags)
        self._signals = None

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    def commit(self, extracted=(), attributes=()):
        return self.writer.commit(extracted, attributes)

    def abort(self) -> None:
        self.writer.abort()

    def __enter__(self):
        self._signals = interrupted_by_signals()
        self._signals.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            if not self.writer.committed:
                self.writer.abort()
        finally:
            self._signals.__exit__(None, None, None)


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def interrupted_by_signals():
    """Within the block, HUP INT QUIT TERM raise Interrupted, so that clean-up runs."""
    old = {signum: signal.signal(signum, _raise_interrupted) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


def trigger_pickup(queue_directory) -> bool:
    """Wake pickup; False when pfx is not running (the file then waits)."""
    try:
        return send_trigger(queue_directory, "pickup", b"W", timeout=2.0)
    except OSError:
        return False


# --- pfx postdrop: the record stream on standard input --------------------------------


def _read_record(stream, offset):
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        raise QueueFileCorrupt(f"offset {offset}: premature end of input")
    rtype, length = decode_header(head, offset)
    payload = stream.read(length) if length else b""
    if len(payload) != length:
        raise QueueFileCorrupt(f"offset {offset}: premature end of input")
    return Record(rtype, payload, offset)


def copy_stream(stream, queue_directory):
    """Copy one MAILDROP record stream into a new maildrop file; -> its QueueId.

    Raises QueueFileCorrupt for malformed input (the file is deleted) and OSError
    for a write error. The C record's sizes are recomputed, not trusted.
    """
    check, offset = SegmentChecker(MAILDROP), 0
    fields, rcpts, attributes = {}, [], []
    while check.segment != "content":
        record = _read_record(stream, offset)
        value = check.feed(record)
        offset += HEADER.size + len(record.payload)
        if record.type is R.RCPT:
            rcpts.append(value[0])
        elif record.type is R.ATTR:
            attributes.append(value)
        else:
            fields[record.type] = value
    envelope = Envelope(fields[R.FROM], tuple(rcpts), envid=fields.get(R.ENVID),
                        ret=fields.get(R.RET), body_type=fields.get(R.BODY, ""),
                        arrival=fields[R.TIME])
    with interrupted_by_signals(), \
            Maildrop(queue_directory, envelope, full_name=dict(attributes).get("full_name", ""),
                     flags=fields.get(R.FLAGS, 0)) as drop:
        extracted, xattrs = [], []
        while check.segment != "end":
            record = _read_record(stream, offset)
            value = check.feed(record)
            offset += HEADER.size + len(record.payload)
            if record.type is R.DATA:
                drop.write(value)
            elif record.type is R.RCPT:
                extracted.append(value[0])
            elif record.type is R.ATTR:
                xattrs.append(value)
        if stream.read(1):
            raise QueueFileCorrupt(f"offset {offset}: data after the END record")
        return drop.commit(extracted, xattrs)


def main(argv) -> int:
    """``pfx postdrop [-c config_dir] [-r] [-v]``: internal-form message on stdin."""
    from pfx.cli.sendmail import load_settings  # shares sendmail's config loading
    config_dir = None
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "-c" and args:
            config_dir = args.pop(0)
        elif arg in ("-r", "-v"):
            continue  # -r: the record stream is the only input form pfx has
        else:
            sys.stderr.write("postdrop: fatal: usage: postdrop [-c config_dir] [-r] [-v]\n")
            return EX_USAGE
    uid = os.getuid()
    try:
        settings = load_settings(config_dir)
    except ConfigError as exc:
        sys.stderr.write(f"postdrop: fatal: {exc}\n")
        return EX_TEMPFAIL
    queue_directory = settings.get_str("queue_directory")
    try:
        qid = copy_stream(sys.stdin.buffer, queue_directory)
    except QueueFileCorrupt as exc:
        sys.stderr.write(f"postdrop: fatal: uid={uid}: malformed input: {exc}\n")
        return EX_DATAERR
    except ValueError as exc:  # a well-formed record the policy refuses
        sys.stderr.write(f"postdrop: fatal: uid={uid}: {exc}\n")
        return EX_DATAERR
    except OSError as exc:
        sys.stderr.write(f"postdrop: fatal: uid={uid}: error writing "
                         f"{queue_directory}/maildrop: {exc.strerror or exc}\n")
        return EX_TEMPFAIL
    except Interrupted as exc:
        sys.stderr.write(f"postdrop: fatal: uid={uid}: caught signal {exc.signum}\n")
        return EX_TEMPFAIL
    trigger_pickup(queue_directory)
    if "-v" in argv:
        sys.stderr.write(f"postdrop: maildrop/{qid}\n")
    return 0
