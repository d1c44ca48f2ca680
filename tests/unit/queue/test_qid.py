"""QueueId: construction, validation, ordering, hashing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pfx.queue.qid import ALPHABET, QueueId, is_queue_id


def test_layout_matches_postfix_long_ids():
    qid = QueueId.make(1_700_000_000, 123_456, 2_164_227)
    text = str(qid)
    assert text[10] == "z" and len(text) > 11
    assert set(text) <= set(ALPHABET)
    assert not set(text) & set("aeiouAEIOU")
    assert (qid.seconds, qid.microseconds, qid.inode) == (1_700_000_000, 123_456, 2_164_227)
    assert qid.created == pytest.approx(1_700_000_000.123456)


def test_from_time_round_trips_microseconds():
    qid = QueueId.from_time(1_700_000_000.999_999, 7)
    assert (qid.seconds, qid.microseconds, qid.inode) == (1_700_000_000, 999_999, 7)


@pytest.mark.parametrize("bad", [
    "", "../../etc/passwd", "4jZDwy2c1t/zJJ3p", "4jZDwy2c1tzJJ3p\n", "4jZDwy2c1t", "4jZDwy2c1tz",
    "4jZDwy2c1tzz", "4jZDay2c1tzJJ3p", "4jZDwy2c1txJJ3p", "123.4.abcd", None, 17,
    "000000zzzzz1",  # microseconds digits out of range
])
def test_bad_ids_cannot_exist(bad):
    with pytest.raises(ValueError):
        QueueId(bad)
    assert not is_queue_id(bad) if isinstance(bad, str) else True


def test_make_rejects_out_of_range():
    for args in [(-1, 0, 1), (0, 1_000_000, 1), (0, 0, -1), (52**6, 0, 1)]:
        with pytest.raises(ValueError):
            QueueId.make(*args)


@given(st.integers(0, 52**6 - 1), st.integers(0, 999_999), st.integers(0, 2**48),
       st.integers(0, 52**6 - 1), st.integers(0, 999_999), st.integers(0, 2**48))
def test_string_order_is_time_order(s1, u1, i1, s2, u2, i2):
    a, b = QueueId.make(s1, u1, i1), QueueId.make(s2, u2, i2)
    if (s1, u1) < (s2, u2):
        assert a < b and a.value < b.value
    assert QueueId(a.value) == a
    assert (a.seconds, a.microseconds, a.inode) == (s1, u1, i1)


def test_hash_dirs_use_microseconds_hex():
    qid = QueueId.make(1_700_000_000, 0xABCDE, 5)
    assert qid.hash_dirs(1) == ("A",)
    assert qid.hash_dirs(2) == ("A", "B")
