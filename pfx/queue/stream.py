"""Whole queue files as record streams: the bounded Encoder, the reader's QueueFileInfo.

records.py knows single records and the grammar; this module knows what a file as a
whole must say: the sizes record agrees with the offsets and the recipient count, the
envelope fields make an Envelope, and the content adds up. The qfile reader and writer
use these pieces on disk; encode() and decode() do the same in memory.
"""

import math
import struct

import attrs

from pfx.envelope import Client, Envelope
from pfx.errors import QueueFileCorrupt
from pfx.queue.records import (
    CHUNK_SIZE, CLIENT_ATTRS, FLAG_SMTPUTF8, HEADER, QUEUE, Policy, R, Record, RecType,
    SegmentChecker, Sizes, corrupt, encode_record, encode_recipient, encode_sizes, encode_text,
    encode_version, iter_records, pack_fields,
)


# --- assembling what a reader reports ---------------------------------------------------


@attrs.frozen
class QueueFileInfo:
    """Everything in a queue file except the content: what qmgr, showq and postcat need."""

    queue_id: object  # QueueId, or None for a file read from bytes
    sizes: Sizes
    envelope: Envelope  # recipients: those still to deliver, each with its record offset
    done: tuple  # recipients crossed off
    flags: int = 0
    attributes: tuple = ()  # (name, value) pairs other than the client facts

    @property
    def content_size(self) -> int:
        return self.sizes.content_size

    @property
    def sender(self) -> str:
        return self.envelope.sender

    @property
    def arrival(self) -> float:
        return self.envelope.arrival

    @property
    def create_time(self) -> float:
        """Where the queue lifetime and the backoff start: when postsuper -r queued the
        message again (the ``create_time`` attribute cleanup records then, Postfix's
        REC_TYPE_CTIME), otherwise its arrival. A bad value counts as absent."""
        for name, value in self.attributes:
            if name == "create_time":
                try:
                    when = float(value)
                except ValueError:
                    break
                if math.isfinite(when) and when >= self.arrival:
                    return when
        return self.arrival

    @property
    def recipients(self) -> tuple:
        return self.envelope.recipients


class InfoBuilder:
    """Collects decoded records into a QueueFileInfo and checks the C record against them."""

    def __init__(self):
        self.values = {}
        self.todo, self.done, self.attrs = [], [], []

    def add(self, record: Record, value):
        if record.type is R.RCPT:
            (self.done if value[1] else self.todo).append(value[0])
        elif record.type is R.ATTR:
            self.attrs.append(value)
        else:
            self.values[record.type] = value

    def build(self, queue_id, content_offset: int, xtra_offset: int, file_size: int) -> QueueFileInfo:
        sizes, v = self.values[R.SIZE], self.values
        region = xtra_offset - content_offset
        if (sizes.content_offset != content_offset or sizes.xtra_offset != xtra_offset
                or sizes.content_size > region or (region - sizes.content_size) % HEADER.size
                or sizes.body_offset > sizes.content_size or xtra_offset >= file_size
                or sizes.nrcpt != len(self.todo) + len(self.done)):
            raise corrupt(f"sizes record {attrs.astuple(sizes)} does not match the file")
        client = {CLIENT_ATTRS[n]: val for n, val in self.attrs if n in CLIENT_ATTRS}
        try:
            envelope = Envelope(
                v[R.FROM], tuple(self.todo), client=Client(**client), envid=v.get(R.ENVID),
                ret=v.get(R.RET), body_type=v.get(R.BODY, ""),
                smtputf8=bool(v.get(R.FLAGS, 0) & FLAG_SMTPUTF8), arrival=v[R.TIME])
        except (TypeError, ValueError) as exc:
            raise corrupt(f"bad envelope: {exc}") from None
        extra = tuple((n, val) for n, val in self.attrs if n not in CLIENT_ATTRS)
        return QueueFileInfo(queue_id, sizes, envelope, tuple(self.done),
                             v.get(R.FLAGS, 0), extra)


# --- the encoder ------------------------------------------------------------------------


_DEFAULT_CLIENT = Client()


def envelope_records(envelope: Envelope, arrival: float, flags: int, attributes) -> list:
    """The (type, payload) pairs of an envelope segment after V and C."""
    if envelope.smtputf8:
        flags |= FLAG_SMTPUTF8
    recs = [(R.TIME, struct.pack(">d", arrival)), (R.FROM, encode_text(envelope.sender))]
    if envelope.envid is not None:
        recs.append((R.ENVID, encode_text(envelope.envid)))
    if envelope.ret is not None:
        recs.append((R.RET, envelope.ret.encode("ascii")))
    if envelope.body_type:
        recs.append((R.BODY, envelope.body_type.encode("ascii")))
    if flags:
        recs.append((R.FLAGS, struct.pack(">I", flags)))
    # Only client facts that differ from Client()'s defaults: a maildrop file has none.
    client = envelope.client
    recs += [(R.ATTR, pack_fields(n, getattr(client, f))) for n, f in CLIENT_ATTRS.items()
             if getattr(client, f) != getattr(_DEFAULT_CLIENT, f)]
    recs += [(R.ATTR, pack_fields(n, val)) for n, val in attributes]
    recs += [(R.RCPT, encode_recipient(r)) for r in envelope.recipients]
    return recs


class Encoder:
    """Writes one queue file's records to sink(bytes) with bounded buffering.

    It checks what it writes with the same SegmentChecker a reader uses, so a writer
    cannot produce a file that readers reject; bad input raises ValueError.
    """

    def __init__(self, sink, envelope: Envelope, *, arrival: float, policy: Policy = QUEUE,
                 flags: int = 0, attributes=()):
        self._sink, self.offset, self._check = sink, 0, SegmentChecker(policy)
        self.nrcpt = 0
        self.emit(R.VERSION, encode_version())
        self.size_offset = self.offset
        self.emit(R.SIZE, encode_sizes(Sizes()))
        for rtype, payload in envelope_records(envelope, arrival, flags, attributes):
            self.emit(rtype, payload)
        self.emit(R.MESG, b"")
        self.content_offset = self.offset
        self.content_size, self.body_offset = 0, None
        self._buf = bytearray()
        self._last = b"\n"  # content start counts as a line start for finding the body

    def emit(self, rtype: RecType, payload: bytes):
        record = Record(rtype, bytes(payload), self.offset)
        try:
            self._check.feed(record)
        except QueueFileCorrupt as exc:
            raise ValueError(f"refusing to write a bad queue file: {exc}") from None
        self.nrcpt += rtype is R.RCPT
        self._sink(encode_record(rtype, record.payload))
        self.offset += HEADER.size + len(record.payload)

    def write(self, data: bytes):
        """Add content; whole CHUNK_SIZE records go out at once, the rest is buffered."""
        if self._check.segment != "content":
            raise ValueError("content after commit")
        view = memoryview(data)
        if self.body_offset is None and view:
            self._find_body(view)
        self.content_size += len(view)
        if self._buf:
            take = CHUNK_SIZE - len(self._buf)
            self._buf += view[:take]
            view = view[take:]
            if len(self._buf) == CHUNK_SIZE:
                self.emit(R.DATA, self._buf)
                self._buf.clear()
        while len(view) >= CHUNK_SIZE:
            self.emit(R.DATA, view[:CHUNK_SIZE])
            view = view[CHUNK_SIZE:]
        self._buf += view

    def _find_body(self, view):
        # The body starts at the first empty line (the header/body separator).
        if self._last == b"\n" and view[0:1] == b"\n":
            self.body_offset = self.content_size
        else:
            at = bytes(view).find(b"\n\n")
            if at >= 0:
                self.body_offset = self.content_size + at + 1
        self._last = bytes(view[-1:])

    def start_body(self):
        """Say explicitly that the body starts here (cleanup knows better than a blank line)."""
        self.body_offset = self.content_size

    def finish(self, extracted=(), attributes=()) -> bytes:
        """Flush content, write X, the extracted records and E; return the C payload."""
        if self._buf:
            self.emit(R.DATA, self._buf)
            self._buf.clear()
        xtra_offset = self.offset
        self.emit(R.XTRA, b"")
        for rcpt in extracted:
            self.emit(R.RCPT, encode_recipient(rcpt))
        for name, value in attributes:
            self.emit(R.ATTR, pack_fields(name, value))
        self.emit(R.END, b"")
        body = self.content_size if self.body_offset is None else self.body_offset
        return encode_sizes(Sizes(self.content_size, self.content_offset, xtra_offset, body, self.nrcpt))


def encode(envelope: Envelope, content: bytes = b"", *, arrival: float | None = None,
           extracted=(), policy: Policy = QUEUE, flags: int = 0, attributes=(),
           extracted_attributes=()) -> bytes:
    """A whole queue file in memory (tests, small maildrop files)."""
    out = bytearray()
    when = envelope.arrival if arrival is None else arrival
    enc = Encoder(out.extend, envelope, arrival=when, policy=policy, flags=flags, attributes=attributes)
    enc.write(content)
    sizes = enc.finish(extracted, extracted_attributes)
    start = enc.size_offset + HEADER.size
    out[start:start + len(sizes)] = sizes
    return bytes(out)


def decode(data: bytes, policy: Policy = QUEUE, queue_id=None) -> tuple:
    """-> (QueueFileInfo, content bytes) of a whole file in memory; QueueFileCorrupt if bad."""
    check, build, content = SegmentChecker(policy), InfoBuilder(), []
    content_offset = xtra_offset = None
    for record in iter_records(data):
        value = check.feed(record)
        if record.type is R.DATA:
            content.append(value)
        elif record.type is R.MESG:
            content_offset = record.offset + HEADER.size
        elif record.type is R.XTRA:
            xtra_offset = record.offset
        else:
            build.add(record, value)
    check.finish()
    info = build.build(queue_id, content_offset, xtra_offset, len(data))
    body = b"".join(content)
    if len(body) != info.content_size:
        raise corrupt(f"content is {len(body)} bytes, the sizes record says {info.content_size}")
    return info, body
