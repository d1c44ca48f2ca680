"""The test IMailSubmitter behind the ``dirsubmit`` plugin: each message becomes files in a directory.

QID.msg holds the content bytes as smtpd wrote them; QID.env the envelope as JSON. A
recipient whose local part ends in ``+tempfail`` makes commit() fail with a 451 Reply,
as cleanup would on a write error.
"""

import itertools
import json
import os

import attrs
from twisted.application.service import Service
from twisted.internet import defer
from zope.interface import implementer

from pfx.dsn import Dsn, Reply
from pfx.interfaces import IMailSubmitter, IMessageWriter


class CommitFailed(Exception):
    def __init__(self, reply):
        super().__init__(str(reply))
        self.reply = reply


@implementer(IMessageWriter)
class DirWriter:
    def __init__(self, directory, queue_id, envelope):
        self.directory, self.queue_id, self.envelope = directory, queue_id, envelope
        self._parts = []

    def write(self, data):
        self._parts.append(bytes(data))

    def commit(self):
        if any(r.address.split("@")[0].endswith("+tempfail") for r in self.envelope.recipients):
            return defer.fail(CommitFailed(Reply(451, Dsn("4.3.0"), "Error: queue file write error")))
        base = os.path.join(self.directory, self.queue_id)
        with open(base + ".msg", "wb") as f:
            f.write(b"".join(self._parts))
        env = attrs.asdict(self.envelope, value_serializer=lambda i, a, v: sorted(v) if isinstance(v, frozenset) else v)
        with open(base + ".env", "w") as f:
            json.dump(env, f)
        return defer.succeed(self.queue_id)

    def abort(self):
        with open(os.path.join(self.directory, "aborted"), "a") as f:
            f.write(self.queue_id + "\n")


@implementer(IMailSubmitter)
class DirSubmitter:
    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self._ids = itertools.count(0x1A2B0)

    def open_message(self, envelope):
        return DirWriter(self.directory, f"{next(self._ids):X}", envelope)


def make_service(entry, context):
    context.provide(IMailSubmitter, DirSubmitter(context.settings.get_str("test_submit_directory")))
    return Service()
