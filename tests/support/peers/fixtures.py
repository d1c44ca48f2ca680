"""pytest fixtures for the real peers. Import the ones you use into a test module (or do
``from tests.support.peers.fixtures import *  # noqa`` in a conftest.py):

    from tests.support.peers.fixtures import dovecot, dns_server   # noqa: F401

    def test_x(dovecot, dns_server): ...

Every fixture skips the test (with the reason) when its program is not installed or root is
missing, and stops its processes at teardown even when the test fails.
"""

import pytest

from .common import PeerUnavailable
from .dns import DnsServer
from .dovecot import Dovecot
from .postfix import Postfix, SmtpSink
from .swaks import SWAKS

__all__ = ["dovecot", "dns_server", "make_dns_server", "make_postfix", "make_smtp_sink",
           "swaks_available", "started"]


def started(peer):
    """``peer.start()``, turning :class:`PeerUnavailable` into ``pytest.skip``."""
    try:
        return peer.start()
    except PeerUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture
def dovecot():
    """A fresh Dovecot with the default users (see tests.support.peers.dovecot)."""
    dc = Dovecot()
    try:
        yield started(dc)
    finally:
        dc.stop()


@pytest.fixture
def dns_server():
    """The test DNS server with DEFAULT_ZONE; ``dns_server.port`` for make_resolver()."""
    ns = DnsServer()
    try:
        yield started(ns)
    finally:
        ns.stop()


@pytest.fixture
def make_dns_server():
    """Factory: ``make_dns_server(zones=[text], servfail=(), silent=())`` -> started server."""
    servers = []

    def make(**kw):
        ns = DnsServer(**kw)
        servers.append(ns)
        return started(ns)

    yield make
    for ns in servers:
        ns.stop()


@pytest.fixture
def make_postfix():
    """Factory: ``make_postfix("discard" | "relay" | "maildir", **kw)`` -> started Postfix."""
    instances = []

    def make(mode="discard", **kw):
        pf = Postfix(mode, **kw)
        instances.append(pf)
        return started(pf)

    yield make
    for pf in instances:
        pf.stop()


@pytest.fixture
def make_smtp_sink():
    """Factory: ``make_smtp_sink(*options)`` -> started smtp-sink (``.address``, ``.port``)."""
    sinks = []

    def make(*options, port=None, backlog=64):
        sink = SmtpSink(port, *options, backlog=backlog)
        sinks.append(sink)
        return started(sink)

    yield make
    for sink in sinks:
        sink.stop()


@pytest.fixture
def swaks_available():
    """Skip unless swaks is installed."""
    import os
    if not os.access(SWAKS, os.X_OK):
        pytest.skip(f"swaks is not installed ({SWAKS}); run tests/install-peers.sh")
