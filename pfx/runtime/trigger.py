"""Trigger sockets: Postfix's public/pickup and public/qmgr wake-ups, as unix sockets.

A client writes one or more trigger bytes (qmgr: I D A F W; pickup: W) and closes; the
service's callback gets each byte. Nothing else is read, so an unprivileged writer can
only wake a service up, never tell it anything.
"""

import os
import socket

from twisted.application.internet import StreamServerEndpointService
from twisted.internet import endpoints, protocol

MAX_TRIGGER_BYTES = 64  # a client sending more is cut off


class _TriggerProtocol(protocol.Protocol):
    def connectionMade(self):
        self.seen = 0

    def dataReceived(self, data):
        for byte in data[: MAX_TRIGGER_BYTES - self.seen]:
            self.factory.callback(bytes([byte]))
        self.seen += len(data)
        if self.seen >= MAX_TRIGGER_BYTES:
            self.transport.loseConnection()


def _remove_stale(path):
    """A socket file left by a crash makes listen() fail; remove it if nobody answers."""
    if not os.path.exists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)
    else:
        raise OSError(f"{path}: another pfx instance is running")
    finally:
        probe.close()


class TriggerService(StreamServerEndpointService):
    """Listens on ``path`` (mode 0666 inside the 0710 public/ directory)."""

    def __init__(self, reactor, path, callback):
        factory = protocol.Factory.forProtocol(_TriggerProtocol)
        factory.callback = callback
        self.path = path
        endpoint = endpoints.UNIXServerEndpoint(reactor, path, mode=0o666, wantPID=False)
        super().__init__(endpoint, factory)

    def privilegedStartService(self):
        _remove_stale(self.path)
        super().privilegedStartService()

    def stopService(self):
        d = super().stopService()

        def unlink(result):
            if os.path.exists(self.path):
                os.unlink(self.path)
            return result
        return d.addBoth(unlink) if d is not None else unlink(None)
