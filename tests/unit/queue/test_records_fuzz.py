"""Hypothesis: envelopes round-trip through the codec, and garbage gives only QueueFileCorrupt."""

import os
import tempfile

import attrs
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pfx.envelope import Client, Envelope, Recipient
from pfx.errors import QueueFileCorrupt
from pfx.queue.qfile import QueueFileReader
from pfx.queue.records import CHUNK_SIZE, MAILDROP, QUEUE
from pfx.queue.stream import decode, encode

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
maybe = st.none() | text
notify = st.sampled_from([(), ("NEVER",), ("SUCCESS",), ("FAILURE", "DELAY"),
                          ("SUCCESS", "FAILURE", "DELAY")])
recipients = st.builds(Recipient, text, maybe, maybe, notify)
clients = st.builds(Client, text, text, text, text, text, text, text)
envelopes = st.builds(
    Envelope, text, st.lists(recipients, max_size=5), clients, maybe,
    st.sampled_from([None, "FULL", "HDRS"]), st.sampled_from(["", "7BIT", "8BITMIME"]),
    st.booleans(), st.floats(0, 2e9, allow_nan=False),
)
attributes = st.lists(st.tuples(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), text),
                      max_size=3)
contents = st.binary(max_size=300) | st.builds(lambda n, b: b * n, st.integers(1, 3 * CHUNK_SIZE),
                                               st.sampled_from([b"x", b"\n", b"ab\n"]))


def no_offsets(rcpts):
    return tuple(attrs.evolve(r, offset=None) for r in rcpts)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(envelopes, contents, st.lists(recipients, max_size=3), attributes)
def test_round_trip(envelope, content, extracted, extra):
    extra = [(n, v) for n, v in extra if not n.startswith(("client_", "helo_", "protocol_", "sasl_"))]
    data = encode(envelope, content, extracted=extracted, attributes=extra)
    info, body = decode(data)
    assert body == content
    assert info.content_size == len(content)
    assert no_offsets(info.recipients) == no_offsets(envelope.recipients) + tuple(extracted)
    assert attrs.evolve(info.envelope, recipients=()) == attrs.evolve(envelope, recipients=())
    assert info.attributes == tuple(extra)
    for rcpt in info.recipients:  # every offset points at that recipient's record
        assert data[rcpt.offset:rcpt.offset + 1] == b"R"


def verdict(data, policy=QUEUE):
    """decode() either succeeds or says corrupt; anything else fails the test."""
    try:
        decode(data, policy)
    except QueueFileCorrupt:
        return "corrupt"
    return "ok"


@settings(max_examples=400)
@given(st.binary(max_size=400))
@example(b"")
@example(b"V\x00\x00\x00\x06PFXQ\x00\x01")
@example(b"V\xff\xff\xff\xff")
def test_garbage_is_corrupt_never_a_crash(data):
    assert verdict(data) == "corrupt" or data.startswith(b"V")


_VALID = encode(Envelope("s@x", [Recipient("r@x", orcpt="rfc822;r@x", notify={"FAILURE"})],
                         client=Client("mx", "192.0.2.1"), envid="id", ret="FULL"),
                b"Subject: s\n\nbody\n", extracted=[Recipient("e@x")],
                attributes=[("full_name", "S")])


@settings(max_examples=600)
@given(st.data())
def test_mutated_files_are_corrupt_or_still_valid(data):
    buf = bytearray(_VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(buf)))
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "truncate"]))
        if action == "flip" and pos < len(buf):
            buf[pos] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del buf[pos:pos + data.draw(st.integers(1, 8))]
        elif action == "insert":
            buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del buf[pos:]
    for policy in (QUEUE, MAILDROP):
        assert verdict(bytes(buf), policy) in ("ok", "corrupt")


def test_every_truncation_is_corrupt():
    for cut in range(len(_VALID)):
        assert verdict(_VALID[:cut]) == "corrupt", cut


@settings(max_examples=300)
@given(st.data())
def test_reader_on_damaged_files_says_corrupt_or_reads_them(data):
    """The on-disk reader seeks (by the sizes record) instead of walking: fuzz it too."""
    buf = bytearray(_VALID)
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(buf) - 1))
        if data.draw(st.booleans()):
            buf[pos] ^= data.draw(st.integers(1, 255))
        else:
            del buf[pos:pos + data.draw(st.integers(1, 8))]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f")
        with open(path, "wb") as f:
            f.write(buf)
        try:
            with QueueFileReader(path) as reader:
                reader.verify()
                list(reader.records())
                reader.open_content().read()
        except QueueFileCorrupt:
            pass
