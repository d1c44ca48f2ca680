"""Golden SMTP dialogues: every tests/transcripts/*.txt replayed whole and byte at a time."""

import pathlib

import pytest

from tests.unit.smtp.smtp_fakes import run_transcript

TRANSCRIPTS = sorted((pathlib.Path(__file__).parents[2] / "transcripts").glob("*.txt"))


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.stem)
def test_transcript_whole(path):
    expected, actual = run_transcript(path.read_text())
    assert actual == expected


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=lambda p: p.stem)
def test_transcript_byte_at_a_time_gives_the_same_bytes(path):
    if "% split-sensitive" in path.read_text():
        pytest.skip("the point of this transcript is what arrives in one read")
    _, whole = run_transcript(path.read_text())
    _, bytewise = run_transcript(path.read_text(), byte_at_a_time=True)
    assert bytewise == whole


def test_there_are_transcripts():
    assert len(TRANSCRIPTS) >= 10
