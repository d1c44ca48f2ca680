"""Hypothesis: end of data only at the first CRLF.CRLF, and dot-stuffing round-trips."""

from hypothesis import given, settings
from hypothesis import strategies as st

from pfx.smtp.dotstuff import DotDecoder, DotEncoder

pieces = st.lists(st.sampled_from([b"\r\n", b"\n", b"\r", b".", b"..", b"a", b"\r\n.\r\n", b"\n.\n", b"\x00",
                                   b"x" * 20]), max_size=80).map(b"".join)
splits = st.lists(st.integers(min_value=1, max_value=50), max_size=20)


def decode(data: bytes, sizes, mode="normalize", limit=16):
    dec, buf, out, pos = DotDecoder(mode, limit), bytearray(), bytearray(), 0
    for n in list(sizes) + [len(data)]:
        buf += data[pos:pos + n]
        pos += n
        while True:
            before = len(buf)
            out += dec.decode(buf, 7)
            if dec.done or len(buf) == before:
                break
        if dec.done:
            break
        assert len(buf) < limit  # undecided input is less than one piece
    return dec, bytes(out), bytes(buf) + data[pos:]


@settings(max_examples=400, deadline=None, database=None)
@given(pieces, splits)
def test_strict_modes_end_exactly_at_the_first_crlf_dot_crlf(data, sizes):
    # The DATA command's own CRLF counts as the first CRLF.
    end = (b"\r\n" + data).find(b"\r\n.\r\n")
    for mode in ("normalize", "reject"):
        dec, _, rest = decode(data, sizes, mode)
        if end < 0:
            assert not dec.done
        else:
            assert dec.done and rest == data[end + 3:]


@settings(max_examples=300, deadline=None, database=None)
@given(pieces, splits, splits)
def test_dot_stuffing_round_trips(body, enc_sizes, dec_sizes):
    enc, wire, pos = DotEncoder(), bytearray(), 0
    for n in list(enc_sizes) + [len(body)]:
        wire += enc.feed(body[pos:pos + n])
        pos += n
    wire += enc.end()
    dec, out, rest = decode(bytes(wire) + b"NEXT", dec_sizes)
    assert dec.done and rest == b"NEXT"
    # What arrives is the body with every line ending made CRLF, plus a final CRLF if missing.
    expected = body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not expected.endswith(b"\r\n") and expected:
        expected += b"\r\n"
    assert out == expected


@settings(max_examples=300, deadline=None, database=None)
@given(pieces, splits)
def test_whole_line_blocks_decode_as_line_by_line(data, sizes):
    # max_out=1 leaves the block fast path no room: every line goes the slow way.
    for mode in ("no", "normalize", "reject"):
        for limit in (3, 16):
            slow, fast = [], []
            for out, max_out in ((slow, 1), (fast, 65536)):
                dec, buf, pos = DotDecoder(mode, limit), bytearray(), 0
                for n in list(sizes) + [len(data)]:
                    buf += data[pos:pos + n]
                    pos += n
                    while not dec.done:
                        before = len(buf)
                        out.append(dec.decode(buf, max_out))
                        if len(buf) == before:
                            break
                out.append((dec.done, dec.bare_lf, dec.prev_crlf, bytes(buf) + data[pos:]))
            assert b"".join(slow[:-1]) == b"".join(fast[:-1]) and slow[-1] == fast[-1]
