"""The record codec: one test per record type, the segment grammar, the allowlists."""

import struct

import pytest

from pfx.envelope import Client, Envelope, Recipient
from pfx.errors import QueueFileCorrupt
from pfx.queue import records
from pfx.queue.records import (
    CHUNK_SIZE, HEADER, MAILDROP, QUEUE, R, Record, SegmentChecker, Sizes, decode_value, describe,
    encode_record, iter_records,
)
from pfx.queue.stream import Encoder, decode, encode

ENV = Envelope("sender@example.com", [Recipient("rcpt@example.net")], arrival=1_700_000_000.5)


def rec(rtype, payload=b"", offset=0):
    return Record(rtype, payload, offset)


def value(rtype, payload):
    return decode_value(rec(rtype, payload))


def corrupt(rtype, payload):
    with pytest.raises(QueueFileCorrupt):
        decode_value(rec(rtype, payload))


def records_of(data):
    return [r.type for r in iter_records(data)]


# --- the frame --------------------------------------------------------------------------


def test_frame_is_type_byte_and_big_endian_length():
    assert encode_record(R.FROM, b"a@b") == b"S\x00\x00\x00\x03a@b"
    assert list(iter_records(b"S\x00\x00\x00\x03a@bE\x00\x00\x00\x00")) == [
        Record(R.FROM, b"a@b", 0), Record(R.END, b"", 8)]


@pytest.mark.parametrize("data", [
    b"S", b"S\x00\x00\x00", b"S\x00\x00\x00\x04abc",  # truncated header, payload
    b"Q\x00\x00\x00\x00",  # unknown type
    b"N\x00\x01\x00\x01" + b"x" * 65537,  # longer than MAX_PAYLOAD
])
def test_bad_frames_are_corrupt(data):
    with pytest.raises(QueueFileCorrupt):
        list(iter_records(data))


def test_encoder_refuses_oversized_payload():
    with pytest.raises(ValueError):
        encode_record(R.DATA, b"x" * (CHUNK_SIZE + 1))


# --- one test per record type -----------------------------------------------------------


def test_version():
    assert value(R.VERSION, b"PFXQ\x00\x01") == 1
    corrupt(R.VERSION, b"PFXQ\x00\x02")  # a future format is not guessed at
    corrupt(R.VERSION, b"XXXX\x00\x01")
    corrupt(R.VERSION, b"PFXQ")


def test_size():
    sizes = Sizes(10, 20, 30, 5, 2)
    assert value(R.SIZE, records.encode_sizes(sizes)) == sizes
    corrupt(R.SIZE, b"\x00" * 35)


def test_time():
    assert value(R.TIME, struct.pack(">d", 1.25)) == 1.25
    for bad in (float("nan"), float("inf"), -1.0):
        corrupt(R.TIME, struct.pack(">d", bad))
    corrupt(R.TIME, b"\x00" * 4)


def test_sender_keeps_non_utf8_bytes_and_null_sender():
    assert value(R.FROM, b"") == ""
    assert value(R.FROM, "j\u00f6rg@example.com".encode()) == "j\u00f6rg@example.com"
    raw = value(R.FROM, b"\xff@x")
    assert raw.encode("utf-8", "surrogateescape") == b"\xff@x"


def test_recipient_fields_and_status_byte():
    rcpt = Recipient("u@x", orig="alias@x", orcpt="rfc822;u@x", notify={"SUCCESS", "DELAY"})
    payload = records.encode_recipient(rcpt)
    assert payload[0] == records.STATUS_TODO
    got, done = decode_value(rec(R.RCPT, payload, offset=99))
    assert not done and got == Recipient("u@x", "alias@x", "rfc822;u@x", {"SUCCESS", "DELAY"}, 99)
    got, done = value(R.RCPT, bytes([records.STATUS_DONE]) + payload[1:])
    assert done
    # orig None and orig "" are different things and both survive
    assert value(R.RCPT, records.encode_recipient(Recipient("u@x", orig="")))[0].orig == ""


@pytest.mark.parametrize("payload", [
    b"", b"-", b"X\x00\x00\x01a\xff\xff\xff\xff",  # bad status
    b"-\x10\x00\x01a\xff\xff\xff\xff",  # unknown NOTIFY bit
    b"-\x03\x00\x01a\xff\xff\xff\xff",  # NEVER with SUCCESS
    b"-\x00\xff\xff\xff\xff\xff\xff",  # no address
    b"-\x00\x00\x05a\xff\xff\xff\xff",  # field runs past the record
    b"-\x00\x00\x01a\xff\xff\xff\xffjunk",  # trailing bytes
])
def test_bad_recipients(payload):
    corrupt(R.RCPT, payload)


def test_envid_ret_body_flags():
    assert value(R.ENVID, b"QQ314159") == "QQ314159"
    assert value(R.RET, b"HDRS") == "HDRS"
    corrupt(R.RET, b"hdrs")
    assert value(R.BODY, b"8BITMIME") == "8BITMIME"
    corrupt(R.BODY, b"BINARYMIME")
    assert value(R.FLAGS, struct.pack(">I", 3)) == 3
    corrupt(R.FLAGS, b"\x01")


def test_attribute():
    assert value(R.ATTR, records.pack_fields("client_name", "mx.example")) == ("client_name", "mx.example")
    corrupt(R.ATTR, records.pack_fields("Bad Name", "x"))
    corrupt(R.ATTR, records.pack_fields("name", None))


def test_markers_and_content():
    for marker in (R.MESG, R.XTRA, R.END):
        assert value(marker, b"") is None
        corrupt(marker, b"x")
    assert value(R.DATA, b"Subject: x\n") == b"Subject: x\n"
    corrupt(R.DATA, b"")


def test_describe_gives_postcat_lines():
    assert describe(rec(R.FROM, b"a@b")) == "sender: a@b"
    line = describe(rec(R.RCPT, records.encode_recipient(Recipient("u@x", orcpt="rfc822;u@x"), done=True)))
    assert line == "done_recipient: u@x orcpt=rfc822;u@x"
    assert describe(rec(R.END)) == "*** MESSAGE FILE END ***"


# --- whole files and the grammar --------------------------------------------------------


def test_whole_file_layout():
    data = encode(ENV, b"Subject: x\n\nbody\n")
    assert records_of(data) == [R.VERSION, R.SIZE, R.TIME, R.FROM, R.RCPT, R.MESG, R.DATA, R.XTRA, R.END]
    info, content = decode(data)
    assert content == b"Subject: x\n\nbody\n"
    assert info.sizes.body_offset == len(b"Subject: x\n")
    assert info.sender == ENV.sender and info.arrival == ENV.arrival
    assert [r.address for r in info.recipients] == ["rcpt@example.net"]


def test_content_is_split_into_chunk_records():
    data = encode(ENV, b"x" * (2 * CHUNK_SIZE + 1))
    assert records_of(data).count(R.DATA) == 3
    assert decode(data)[0].content_size == 2 * CHUNK_SIZE + 1


def test_client_facts_travel_as_named_attributes():
    env = Envelope("", [Recipient("r@x")], client=Client("mx", "192.0.2.1", "2525", "helo.x", "ESMTPSA",
                                                       "PLAIN", "alice"))
    info, _ = decode(encode(env, b"x", attributes=[("full_name", "Alice")]))
    assert info.envelope.client == env.client
    assert info.attributes == (("full_name", "Alice"),)


def splice(data, index, rtype, payload=b""):
    """Insert a record before the index-th record."""
    offs = [r.offset for r in iter_records(data)] + [len(data)]
    return data[:offs[index]] + encode_record(rtype, payload) + data[offs[index]:]


@pytest.mark.parametrize("mutate", [
    lambda d: d[:-HEADER.size],  # no END
    lambda d: d + encode_record(R.END, b""),  # something after END
    lambda d: splice(d, 0, R.FROM, b"x"),  # V not first
    lambda d: splice(d, 3, R.FROM, b"x"),  # duplicate sender
    lambda d: splice(d, 6, R.FROM, b"x"),  # envelope record in content
    lambda d: splice(d, 8, R.DATA, b"x"),  # content in extracted segment
    lambda d: splice(d, 6, R.DATA, b"x"),  # content longer than the sizes record says
    lambda d: d.replace(b"S\x00\x00\x00\x12sender@example.com", b""),  # no sender
])
def test_grammar_violations_are_corrupt(mutate):
    data = encode(ENV, b"Subject: x\n\nbody\n")
    decode(data)
    with pytest.raises(QueueFileCorrupt):
        decode(mutate(data))


def test_wrong_recipient_count_is_corrupt():
    data = bytearray(encode(ENV, b"x"))
    size = next(r for r in iter_records(bytes(data)) if r.type is R.SIZE)
    data[size.offset + HEADER.size + 35] = 7  # nrcpt's last byte
    with pytest.raises(QueueFileCorrupt):
        decode(bytes(data))


def test_maildrop_policy_rejects_client_facts_and_done_recipients():
    plain = encode(ENV, b"x", policy=MAILDROP, attributes=[("full_name", "Bob")])
    assert decode(plain, MAILDROP)[0].attributes == (("full_name", "Bob"),)
    forged = encode(Envelope("a@b", [Recipient("r@x")], client=Client(addr="10.0.0.1")), b"x")
    with pytest.raises(QueueFileCorrupt, match="client_address"):
        decode(forged, MAILDROP)
    decode(forged, QUEUE)
    with pytest.raises(ValueError):  # the writer side refuses the same thing
        encode(Envelope("a@b", [], client=Client(addr="10.0.0.1")), policy=MAILDROP)


def test_checker_rejects_done_recipient_in_maildrop():
    check = SegmentChecker(MAILDROP)
    check.feed(rec(R.VERSION, b"PFXQ\x00\x01"))
    done = records.encode_recipient(Recipient("r@x"), done=True)
    with pytest.raises(QueueFileCorrupt, match="done recipient"):
        check.feed(rec(R.RCPT, done))


def test_extract_flag_and_smtputf8():
    env = Envelope("a@b", [], smtputf8=True)
    info, _ = decode(encode(env, b"To: x@y\n\n", flags=records.FLAG_EXTRACT))
    assert info.envelope.smtputf8
    assert info.flags == records.FLAG_EXTRACT | records.FLAG_SMTPUTF8


def test_body_offset_rules():
    assert decode(encode(ENV, b"\nbody"))[0].sizes.body_offset == 0
    assert decode(encode(ENV, b"A: b\nC: d\n"))[0].sizes.body_offset == 10  # no body at all
    out = bytearray()
    enc = Encoder(out.extend, ENV, arrival=1.0)
    enc.write(b"A: b\n")
    enc.write(b"\nbody\n")  # the separator arrives in the next write
    enc.finish()
    assert enc.body_offset == 5
