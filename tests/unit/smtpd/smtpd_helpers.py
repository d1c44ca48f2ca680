"""Builders for smtpd unit tests: settings, a recording log, a controllable submitter, a wired protocol."""

from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from zope.interface import implementer

from pfx.config.core import CORE_PARAMS
from pfx.config.params import ParamRegistry
from pfx.config.settings import Setting, Settings
from pfx.envelope import Client
from pfx.interfaces import IMailSubmitter, IMessageWriter
from pfx.smtp.server import ServerConnection
from pfx.smtpd.config import from_settings
from pfx.smtpd.params import PARAMETERS
from pfx.smtpd.protocol import SMTPServerProtocol
from pfx.smtpd.session import Session

BASE = {"myhostname": "mx.example.test", "mydomain": "example.test", "mynetworks": "127.0.0.0/8",
        "inet_interfaces": "127.0.0.1", "inet_protocols": "ipv4"}


def make_settings(**values):
    registry = ParamRegistry(CORE_PARAMS + PARAMETERS)
    explicit = {k: Setting(str(v)) for k, v in {**BASE, **values}.items()}
    return Settings(registry, explicit)


def make_config(tables=None, **values):
    return from_settings(make_settings(**values), tables)


class RecordingLog:
    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)

    def warning(self, text):
        self.lines.append("warning: " + text)

    def error(self, text):
        self.lines.append("error: " + text)

    fatal = panic = error

    def text(self):
        return "\n".join(self.lines)


@implementer(IMessageWriter)
class FakeWriter:
    def __init__(self, envelope, queue_id, commit_result):
        self.envelope, self.queue_id = envelope, queue_id
        self.data = b""
        self.aborted = self.committed = False
        self.commit_deferred = commit_result

    def write(self, data):
        self.data += data

    def commit(self, actions=()):
        self.committed = True
        self.late_actions = actions
        return self.commit_deferred if self.commit_deferred is not None else defer.succeed(self.queue_id)

    def abort(self):
        self.aborted = True


@implementer(IMailSubmitter)
class FakeSubmitter:
    """Each message gets queue id 4QID1, 4QID2, ...; ``commit_result`` (a Deferred) delays commit."""

    def __init__(self, commit_result=None):
        self.writers = []
        self.commit_result = commit_result

    def open_message(self, envelope, **options):
        w = FakeWriter(envelope, f"4QID{len(self.writers) + 1}", self.commit_result)
        w.options = options  # content_filter, ...
        self.writers.append(w)
        return w


class Harness:
    """A protocol on a StringTransport with a Clock; say() feeds bytes, out() takes replies."""

    def __init__(self, addr="127.0.0.1", submitter=None, tls_options=None, tables=None, **settings):
        self.clock = Clock()
        self.log = RecordingLog()
        self.config = make_config(**settings)
        self.submitter = submitter if submitter is not None else FakeSubmitter()
        self.conn = ServerConnection(self.config.server_config(addr, tls_options is not None))
        self.session = Session(self.conn, self.config, Client(name="client.example.org", addr=addr, port="4000"),
                               self.log, self.clock, lambda: self.submitter, tables=tables)
        self.proto = SMTPServerProtocol(self.conn, self.session, self.clock, self.config.timeout, tls_options)
        self.transport = StringTransport()
        self.proto.makeConnection(self.transport)

    def say(self, data):
        self.proto.dataReceived(data.encode() if isinstance(data, str) else data)

    def out(self):
        text = self.transport.value().decode()
        self.transport.clear()
        return text

    def lines(self):
        return self.out().splitlines()

    def ask(self, line):
        self.say(line + "\r\n")
        return self.lines()

    def close(self):
        from twisted.python.failure import Failure
        from twisted.internet.error import ConnectionLost
        self.proto.connectionLost(Failure(ConnectionLost()))
