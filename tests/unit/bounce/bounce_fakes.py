"""Test doubles for the bounce tests: a collecting IMailSubmitter, a list logger, goldens."""

import io
import re
from pathlib import Path

from twisted.internet import defer
from zope.interface import implementer

from pfx.interfaces import IMailSubmitter, IMessageWriter

GOLDEN = Path(__file__).parent / "golden"


class ListLog:
    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)

    def warning(self, text):
        self.lines.append("warning: " + text)

    error = warning


@implementer(IMessageWriter)
class FakeWriter:
    def __init__(self, submitter, envelope):
        self.submitter, self.envelope = submitter, envelope
        self.chunks = [] if submitter.keep else None
        self.size = 0
        self.largest = 0
        self.state = "open"

    def write(self, data):
        assert self.state == "open" and isinstance(data, bytes)
        self.size += len(data)
        self.largest = max(self.largest, len(data))
        if self.chunks is not None:
            self.chunks.append(data)
        return defer.succeed(None)

    def commit(self):
        self.state = "committed"
        if self.submitter.refuse:
            return defer.fail(RuntimeError("452 4.3.1 Insufficient system storage"))
        self.submitter.count += 1
        return defer.succeed(f"NOTICE{self.submitter.count}")

    def abort(self):
        self.state = "aborted"
        return defer.succeed(None)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


@implementer(IMailSubmitter)
class FakeSubmitter:
    """Collects every message; ``keep=False`` only counts bytes (memory tests)."""

    def __init__(self, keep=True):
        self.keep = keep
        self.refuse = False
        self.count = 0
        self.writers = []

    def open_message(self, envelope):
        w = FakeWriter(self, envelope)
        self.writers.append(w)
        return w

    def to(self, address):
        return [w for w in self.writers if w.envelope.recipients[0].address == address]


def content_opener(data: bytes):
    return lambda: io.BytesIO(data)


def golden(name) -> str:
    """A notice as Postfix queued it: the sink's X- lines and Received: headers gone,
    and the Message-Id value replaced by <ID>."""
    text = (GOLDEN / name).read_text()
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("Date: "))
    text = "\n".join(lines[start:])
    text = text[:-1] if text.endswith("\n\n") else text  # smtp-sink's extra newline
    return normalize(text)


def normalize(text: str) -> str:
    return re.sub(r"(?m)^Message-Id: <[^>]*>$", "Message-Id: <ID>", text, count=1)


def golden_original(name) -> bytes:
    """The original message as it was in the queue: the third part minus Return-Path:."""
    text = golden(name)
    third = text.split("Content-Transfer-Encoding: 8bit\n\n")[-1]
    body = third.rsplit("\n--", 1)[0]
    assert body.startswith("Return-Path: ")
    body = body.split("\n", 1)[1]
    if "\n\n" not in body:  # a headers-only golden: give the original a body again
        body += "\nHello body line 1\nline 2\n\n"
    return body.encode()
