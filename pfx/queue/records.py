"""Queue file records: the typed, versioned record codec and its segment rules (pure bytes).

A queue file is a stream of records, each a type byte, a 4-byte big-endian payload length
and the payload (Postfix global/record.c uses a variable-length size; a fixed one makes
every header 5 bytes, so a recipient's status byte is always at its record offset + 5).
Payloads are at most MAX_PAYLOAD bytes, so a garbage length cannot make a reader allocate
much. Whole files (Encoder, decode) are in stream.py. The stream is:

    V  C  envelope...  M  N...  X  extracted...  E

- V: magic ``PFXQ`` and the format version; always first.
- C: fixed-size sizes record (content size, offsets, recipient count), written as zeros
  first and rewritten in place at commit, as Postfix does with REC_TYPE_SIZE.
- envelope: T arrival, S sender, R recipients, i ENVID, < RET, B body type, f flags, A
  named attributes (client facts, full name, ...).
- M starts the content; N records carry it in chunks of at most CHUNK_SIZE bytes.
  Unlike Postfix (REC_TYPE_NORM/CONT per line) content is opaque chunks: no per-line
  cost, any line length round-trips, and line limits stay cleanup's business. Where the
  headers end is the C record's body_offset.
- X starts the extracted segment (recipients and attributes known only after the
  content, e.g. sendmail -t); E ends the file, and nothing may follow it.

An R record's payload starts with a status byte that mark_done rewrites in place
(REC_TYPE_DONE). Strings are UTF-8 with surrogateescape, so non-UTF-8 bytes survive.
"""

import enum
import math
import re
import struct

import attrs

from pfx.envelope import Recipient
from pfx.errors import QueueFileCorrupt

MAGIC = b"PFXQ"
VERSION = 1
HEADER = struct.Struct(">BI")
MAX_PAYLOAD = CHUNK_SIZE = 1 << 16
STATUS_TODO, STATUS_DONE = ord("-"), ord("D")
FLAG_SMTPUTF8, FLAG_EXTRACT = 1, 2  # FLAG_EXTRACT: sendmail -t, cleanup takes rcpts from headers
ALL_FLAGS = FLAG_SMTPUTF8 | FLAG_EXTRACT
NOTIFY_BITS = {"NEVER": 1, "SUCCESS": 2, "FAILURE": 4, "DELAY": 8}

_VERSION = struct.Struct(">4sH")
_SIZES = struct.Struct(">QQQQI")
_FIELD = struct.Struct(">H")
_NONE = 0xFFFF  # field length meaning None
_ATTR_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
CLIENT_ATTRS = {
    "client_name": "name", "client_address": "addr", "client_port": "port",
    "helo_name": "helo", "protocol_name": "protocol",
    "sasl_method": "sasl_method", "sasl_username": "sasl_username",
}


class RecType(enum.IntEnum):
    """Record type bytes: printable ASCII letters, Postfix's where they exist."""

    VERSION = ord("V")
    SIZE = ord("C")
    TIME = ord("T")
    FROM = ord("S")
    RCPT = ord("R")
    ENVID = ord("i")
    RET = ord("<")
    BODY = ord("B")
    FLAGS = ord("f")
    ATTR = ord("A")
    MESG = ord("M")
    DATA = ord("N")
    XTRA = ord("X")
    END = ord("E")


R = RecType
_TYPES = {t.value: t for t in RecType}
_ONCE = {R.VERSION, R.SIZE, R.TIME, R.FROM, R.ENVID, R.RET, R.BODY, R.FLAGS}
_REQUIRED = {R.SIZE, R.TIME, R.FROM}


@attrs.frozen
class Sizes:
    """The C record: where things are, filled in at commit."""

    content_size: int = 0  # bytes of message content (headers and body)
    content_offset: int = 0  # file offset of the first N record
    xtra_offset: int = 0  # file offset of the X record
    body_offset: int = 0  # content offset where the body starts (== content_size: no body)
    nrcpt: int = 0  # R records in the file, done or not


@attrs.frozen
class Record:
    """One decoded record: its type, raw payload and file offset."""

    type: RecType
    payload: bytes
    offset: int = 0


@attrs.frozen
class Policy:
    """Which records may appear where: the queue's own rules, or a maildrop file's."""

    name: str
    envelope: frozenset
    extracted: frozenset
    attr_names: frozenset | None  # None: any well-formed name
    flags: int
    done_allowed: bool


QUEUE = Policy("queue", frozenset(_ONCE - {R.VERSION} | {R.RCPT, R.ATTR}),
               frozenset({R.RCPT, R.ATTR}), None, ALL_FLAGS, True)
# What a local user may put in maildrop/ (Postfix REC_TYPE_POST_*): no client facts, no
# crossed-off recipients; pickup and cleanup fill in the rest.
MAILDROP = Policy("maildrop", QUEUE.envelope, QUEUE.extracted,
                  frozenset({"full_name"}), ALL_FLAGS, False)
# A message postsuper -r put back into maildrop/ (pfx.queue.requeue): written by the mail
# system itself, so it may keep the client facts and name the queue ID it came from
# (orig_id), but, like any maildrop file, carries only recipients still to deliver.
# pickup reads a file with this policy only when the queue's own user (or root) owns it.
REQUEUE = Policy("requeue", QUEUE.envelope, QUEUE.extracted,
                 frozenset(CLIENT_ATTRS) | {"full_name", "orig_id"}, FLAG_SMTPUTF8, False)


def corrupt(why: str) -> QueueFileCorrupt:
    return QueueFileCorrupt(why)


# --- low level: header + payload --------------------------------------------------------


def encode_record(rtype: RecType, payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"record {chr(rtype)}: payload of {len(payload)} bytes is too long")
    return HEADER.pack(rtype, len(payload)) + payload


def decode_header(header: bytes, offset: int = 0) -> tuple:
    """(RecType, payload length) from HEADER.size bytes; QueueFileCorrupt if bad."""
    if len(header) < HEADER.size:
        raise corrupt(f"offset {offset}: truncated record header")
    code, length = HEADER.unpack_from(header)
    rtype = _TYPES.get(code)
    if rtype is None:
        raise corrupt(f"offset {offset}: unknown record type {code:#04x}")
    if length > MAX_PAYLOAD:
        raise corrupt(f"offset {offset}: record {chr(code)}: bad length {length}")
    return rtype, length


def iter_records(data: bytes, offset: int = 0):
    """Yield the Records of an in-memory stream; QueueFileCorrupt on a short one."""
    view = memoryview(data)
    while offset < len(data):
        rtype, length = decode_header(bytes(view[offset:offset + HEADER.size]), offset)
        end = offset + HEADER.size + length
        if end > len(data):
            raise corrupt(f"offset {offset}: record {chr(rtype)}: truncated payload")
        yield Record(rtype, bytes(view[offset + HEADER.size:end]), offset)
        offset = end


# --- payloads <-> values ----------------------------------------------------------------


def encode_text(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _t(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def pack_fields(*values) -> bytes:
    """Length-prefixed strings (None allowed), so no character needs escaping."""
    out = []
    for value in values:
        if value is None:
            out.append(_FIELD.pack(_NONE))
            continue
        data = encode_text(value)
        if len(data) >= _NONE:
            raise ValueError(f"field of {len(data)} bytes is too long")
        out += [_FIELD.pack(len(data)), data]
    return b"".join(out)


def unpack_fields(payload: bytes, count: int) -> tuple:
    values, pos = [], 0
    for _ in range(count):
        (length,) = _FIELD.unpack_from(payload, pos)
        pos += _FIELD.size
        if length == _NONE:
            values.append(None)
            continue
        if pos + length > len(payload):
            raise ValueError("field runs past the record")
        values.append(_t(payload[pos:pos + length]))
        pos += length
    if pos != len(payload):
        raise ValueError("trailing bytes after the fields")
    return tuple(values)


def encode_recipient(rcpt: Recipient, done: bool = False) -> bytes:
    notify = sum(NOTIFY_BITS[word] for word in rcpt.notify)
    status = STATUS_DONE if done else STATUS_TODO
    return bytes((status, notify)) + pack_fields(rcpt.address, rcpt.orig, rcpt.orcpt)


def decode_recipient(payload: bytes, offset: int = 0) -> tuple:
    """-> (Recipient with its record offset, done)."""
    status, notify = payload[0], payload[1]
    if status not in (STATUS_TODO, STATUS_DONE) or notify & ~0xF:
        raise ValueError("bad recipient status or NOTIFY bits")
    address, orig, orcpt = unpack_fields(payload[2:], 3)
    if address is None:
        raise ValueError("recipient without an address")
    words = frozenset(w for w, bit in NOTIFY_BITS.items() if notify & bit)
    return Recipient(address, orig=orig, orcpt=orcpt, notify=words, offset=offset), status == STATUS_DONE


def encode_version() -> bytes:
    return _VERSION.pack(MAGIC, VERSION)


def encode_sizes(sizes: Sizes) -> bytes:
    return _SIZES.pack(sizes.content_size, sizes.content_offset, sizes.xtra_offset,
                       sizes.body_offset, sizes.nrcpt)  # Sizes' field order


def _dec_version(p):
    magic, version = _VERSION.unpack(p)
    if magic != MAGIC:
        raise ValueError("not a pfx queue file")
    if version != VERSION:
        raise ValueError(f"unsupported queue file version {version}")
    return version


def _dec_time(p):
    (when,) = struct.unpack(">d", p)
    if not (math.isfinite(when) and when >= 0):
        raise ValueError(f"bad arrival time {when}")
    return when


def _dec_choice(*choices):
    def decode(p):
        if p not in choices:
            raise ValueError(f"bad value {p!r}")
        return p.decode("ascii")
    return decode


def _dec_flags(p):
    (flags,) = struct.unpack(">I", p)
    return flags


def _dec_attr(p):
    name, value = unpack_fields(p, 2)
    if name is None or value is None or not _ATTR_NAME.fullmatch(name):
        raise ValueError(f"bad attribute name {name!r}")
    return name, value


def _dec_empty(p):
    if p:
        raise ValueError("marker record with a payload")


def _dec_data(p):
    if not p:
        raise ValueError("empty content record")
    return p


_DECODERS = {
    R.VERSION: _dec_version,
    R.SIZE: lambda p: Sizes(*_SIZES.unpack(p)),
    R.TIME: _dec_time,
    R.FROM: _t,
    R.ENVID: _t,
    R.RET: _dec_choice(b"FULL", b"HDRS"),
    R.BODY: _dec_choice(b"7BIT", b"8BITMIME"),
    R.FLAGS: _dec_flags,
    R.ATTR: _dec_attr,
    R.MESG: _dec_empty,
    R.DATA: _dec_data,
    R.XTRA: _dec_empty,
    R.END: _dec_empty,
}


def decode_value(record: Record):
    """The typed value of one record; QueueFileCorrupt (never another error) if bad."""
    try:
        if record.type is R.RCPT:
            return decode_recipient(record.payload, record.offset)
        return _DECODERS[record.type](record.payload)
    except (ValueError, struct.error, IndexError, TypeError) as exc:
        raise corrupt(f"offset {record.offset}: record {chr(record.type)}: {exc}") from None


def describe(record: Record) -> str:
    """A postcat-style line for one record, e.g. ``recipient: user@example.com``."""
    value = decode_value(record)
    if record.type is R.RCPT:
        rcpt, done = value
        text = f"{'done_recipient' if done else 'recipient'}: {rcpt.address}"
        extra = [f"orig_to={rcpt.orig}"] * (rcpt.orig is not None)
        extra += [f"orcpt={rcpt.orcpt}"] * (rcpt.orcpt is not None)
        extra += [f"notify={','.join(sorted(rcpt.notify))}"] * bool(rcpt.notify)
        return " ".join([text] + extra)
    if record.type is R.SIZE:
        return "message_size: " + " ".join(str(v) for v in attrs.astuple(value))
    if record.type is R.ATTR:
        return f"named_attribute: {value[0]}={value[1]}"
    if record.type is R.DATA:
        return f"content: {len(value)} bytes"
    label = _LABELS[record.type]
    return label if value is None else f"{label}: {value}"


_LABELS = {
    R.VERSION: "queue_file_version", R.TIME: "message_arrival_time", R.FROM: "sender",
    R.ENVID: "dsn_envid", R.RET: "dsn_ret", R.BODY: "body_type", R.FLAGS: "flags",
    R.MESG: "*** MESSAGE CONTENTS ***", R.XTRA: "*** HEADER EXTRACTED ***",
    R.END: "*** MESSAGE FILE END ***",
}


# --- segment rules ----------------------------------------------------------------------


_NEXT_SEGMENT = {RecType.VERSION: "envelope", RecType.MESG: "content", RecType.XTRA: "extracted",
                 RecType.END: "end"}


def _where(record) -> str:
    return f"offset {record.offset}: record {chr(record.type)}"


class SegmentChecker:
    """Feed records in file order; it enforces the grammar and the policy's allowlists."""

    def __init__(self, policy: Policy = QUEUE):
        self.policy = policy
        self.segment = "start"
        self._seen = set()

    def feed(self, record: Record):
        """Check one record in its place and return its decoded value."""
        rtype, pol, seg = record.type, self.policy, self.segment
        if seg == "start":
            ok = rtype is R.VERSION
        elif seg == "envelope":
            ok = rtype in pol.envelope or rtype is R.MESG
        elif seg == "content":
            ok = rtype in (R.DATA, R.XTRA)
        elif seg == "extracted":
            ok = rtype in pol.extracted or rtype is R.END
        else:
            raise corrupt(f"{_where(record)}: data after the END record")
        if not ok:
            raise corrupt(f"{_where(record)}: not allowed in the {seg} segment of a {pol.name} file")
        if rtype in _ONCE:
            if rtype in self._seen:
                raise corrupt(f"{_where(record)}: duplicate record")
            self._seen.add(rtype)
        value = decode_value(record)
        if rtype is R.ATTR and pol.attr_names is not None and value[0] not in pol.attr_names:
            raise corrupt(f"{_where(record)}: attribute {value[0]!r} not allowed in a {pol.name} file")
        if rtype is R.FLAGS and value & ~pol.flags:
            raise corrupt(f"{_where(record)}: flags {value:#x} not allowed in a {pol.name} file")
        if rtype is R.RCPT and value[1] and not pol.done_allowed:
            raise corrupt(f"{_where(record)}: done recipient not allowed in a {pol.name} file")
        if rtype is R.MESG and not _REQUIRED <= self._seen:
            missing = ", ".join(sorted(chr(t) for t in _REQUIRED - self._seen))
            raise corrupt(f"{_where(record)}: envelope lacks record(s) {missing}")
        self.segment = _NEXT_SEGMENT.get(rtype, seg)
        return value

    def finish(self):
        if self.segment != "end":
            raise corrupt("no END record")
