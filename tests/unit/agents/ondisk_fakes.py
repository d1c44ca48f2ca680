"""Fakes and builders shared by the local, virtual and pipe agent tests."""

import io

import attrs
from twisted.internet import defer
from twisted.internet.task import Clock
from zope.interface import implementer

from pfx.envelope import Client, DeliveryRequest, Recipient
from pfx.interfaces import IMailSubmitter, IMessageWriter
from pfx.runtime.build import inline_runtime
from pfx.tables.registry import Registry
from pfx.tables.types import BUILTIN, LazyTableType

MESSAGE = b"From: a@example.test\nSubject: hi\n\nFrom the start\nbody\n"


def tables():
    return Registry({name: LazyTableType(name, desc, mod, fn) for name, desc, mod, fn in BUILTIN})


@implementer(IMessageWriter)
class FakeWriter:
    def __init__(self, submitter, envelope):
        self.submitter, self.envelope, self.data, self.aborted = submitter, envelope, b"", False

    def write(self, data):
        self.data += data

    def commit(self):
        if self.submitter.fail is not None:
            return defer.fail(self.submitter.fail)
        self.submitter.messages.append((self.envelope, self.data))
        return defer.succeed(f"FWD{len(self.submitter.messages)}")

    def abort(self):
        self.aborted = True


@implementer(IMailSubmitter)
class FakeSubmitter:
    def __init__(self, fail=None):
        self.messages, self.fail = [], fail

    def open_message(self, envelope):
        return FakeWriter(self, envelope)


def runtime(submitter=None, clock=None, registry=None, agents=None):
    def require(interface):
        if interface is IMailSubmitter and submitter is not None:
            return submitter
        raise LookupError(interface)
    clock = clock or Clock()
    if not clock.seconds():
        clock.advance(1_700_000_000.25)
    return inline_runtime(clock, tables=registry or tables(), require=require,
                          agent_for=(agents or {}).get)


def request(*recipients, sender="a@example.test", content=MESSAGE, queue_id="4QID1",
            client=Client(), nexthop="mx.example.test", transport="local"):
    rcpts = [r if isinstance(r, Recipient) else Recipient(r) for r in recipients]
    return DeliveryRequest(queue_id=queue_id, queue_name="active", sender=sender,
                           recipients=rcpts, transport=transport, nexthop=nexthop,
                           size=len(content), arrival=1_700_000_000.0, client=client,
                           open_content=lambda: io.BytesIO(content))


def result_of(d):
    out = []
    d.addBoth(out.append)
    assert out, "Deferred did not fire"
    if hasattr(out[0], "raiseException"):
        out[0].raiseException()
    return out[0]


@attrs.frozen
class Pw:
    pw_name: str
    pw_dir: str
    pw_shell: str = "/bin/sh"
    pw_uid: int = attrs.field(factory=lambda: __import__("os").getuid())
    pw_gid: int = attrs.field(factory=lambda: __import__("os").getgid())


def passwd(users):
    """users: {name: home or (home, uid, gid)} -> a getpwnam look-alike."""
    def getpwnam(name):
        if name in users:
            entry = users[name]
            if isinstance(entry, tuple):
                return Pw(name, str(entry[0]), "/bin/sh", entry[1], entry[2])
            return Pw(name, str(entry))
        raise KeyError(name)
    return getpwnam

