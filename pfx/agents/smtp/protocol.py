"""The thin Twisted Protocol around pfx.smtp.client.ClientConnection: replies as Deferreds.

The session (session.py) writes what the ClientConnection formats and awaits
``reply(timeout)``; this class owns only transport concerns: the per-stage timer
(which aborts the connection), connection loss, the STARTTLS switch with its
handshake, and flow control while the body is written.

Security: server bytes are untrusted and go only into ClientConnection, which bounds
them; a reply nobody asked for (e.g. plaintext pipelined behind the 220 to STARTTLS)
is a protocol error that aborts the connection.
"""

from twisted.internet import defer
from twisted.internet.interfaces import IHandshakeListener, IPushProducer
from twisted.internet.protocol import Protocol
from zope.interface import implementer

from pfx.smtp.client import NEED_DATA, ClientConnection, ServerClosed
from pfx.smtp.errors import RemoteProtocolError


class SessionTimeout(Exception):
    """No reply (or no progress writing) within the stage's timeout."""


class ProtocolViolation(Exception):
    """The server broke the protocol (unsolicited or malformed reply)."""


class TlsFailed(Exception):
    """The TLS handshake failed or the connection closed during it."""


@implementer(IHandshakeListener, IPushProducer)
class SmtpClientProtocol(Protocol):
    """One outbound SMTP/LMTP connection."""

    def __init__(self, clock, lmtp=False, line_limit=2048):
        self.clock = clock
        self.conn = ClientConnection(lmtp=lmtp, line_limit=line_limit)
        self.lost = False
        self.tls_active = False
        self._violation = None
        self._waiter = None  # Deferred for the next event
        self._timer = None
        self._tls_waiter = None
        self._paused = False
        self._resume = None

    # -- Twisted callbacks --------------------------------------------------------------

    def connectionMade(self):
        self.transport.registerProducer(self, True)

    def dataReceived(self, data):
        try:
            self.conn.receive_data(data)
        except RemoteProtocolError as e:
            self._violation = str(e)
            self.transport.abortConnection()
        self._wake()

    def connectionLost(self, reason=None):
        self.lost = True
        self.conn.receive_data(b"")
        if self._tls_waiter is not None:
            d, self._tls_waiter = self._tls_waiter, None
            self._cancel_timer()
            d.errback(TlsFailed(_reason_text(reason)))
        if self._resume is not None:
            d, self._resume = self._resume, None
            d.callback(None)
        self._wake()

    def handshakeCompleted(self):
        self.tls_active = True
        if self._tls_waiter is not None:
            d, self._tls_waiter = self._tls_waiter, None
            self._cancel_timer()
            d.callback(None)

    def pauseProducing(self):
        self._paused = True

    def resumeProducing(self):
        self._paused = False
        if self._resume is not None:
            d, self._resume = self._resume, None
            self._cancel_timer()
            d.callback(None)

    def stopProducing(self):
        self.transport.abortConnection()

    # -- what the session uses ----------------------------------------------------------

    def send(self, data: bytes) -> None:
        if data and not self.lost:
            self.transport.write(data)

    def reply(self, timeout) -> defer.Deferred:
        """The next Response, or ServerClosed; fails with SessionTimeout or ProtocolViolation."""
        event = self._event()
        if event is not None:
            return event if isinstance(event, defer.Deferred) else defer.succeed(event)
        self._waiter = defer.Deferred()
        self._start_timer(timeout, self._timed_out)
        return self._waiter

    def write_body(self, data: bytes, timeout) -> defer.Deferred:
        """Write body bytes; fires when the transport will take more (smtp_data_xfer_timeout)."""
        self.send(data)
        if not self._paused or self.lost:
            return defer.succeed(None)
        self._resume = defer.Deferred()
        self._start_timer(timeout, self._xfer_timed_out)
        return self._resume

    def start_tls(self, creator, timeout) -> defer.Deferred:
        """After the 220 to STARTTLS: switch the transport; fires when the handshake is done.
        Raises RemoteProtocolError at once if plaintext followed the 220 (injection)."""
        if self._violation is not None:
            raise RemoteProtocolError(self._violation)
        self.conn.start_tls()
        d = self._tls_waiter = defer.Deferred()
        self._start_timer(timeout, self._tls_timed_out)
        self.transport.startTLS(creator)
        return d

    def peer_certificate(self):
        """The server's certificate (pyOpenSSL X509) once TLS is up, else None."""
        get = getattr(self.transport, "getPeerCertificate", None)
        return get() if get is not None else None

    def close(self):
        if not self.lost:
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    def abort(self):
        if not self.lost:
            self.transport.abortConnection()

    # -- internals ----------------------------------------------------------------------

    def _event(self):
        event = self.conn.next_event()  # replies parsed before a violation still count
        if event is not NEED_DATA:
            return event
        if self._violation is not None:
            return defer.fail(ProtocolViolation(self._violation))
        return ServerClosed() if self.lost else None

    def _wake(self):
        if self._waiter is None:
            return
        event = self._event()
        if event is None:
            return
        d, self._waiter = self._waiter, None
        self._cancel_timer()
        if isinstance(event, defer.Deferred):
            event.chainDeferred(d)
        else:
            d.callback(event)

    def _start_timer(self, timeout, action):
        self._cancel_timer()
        if timeout:
            self._timer = self.clock.callLater(timeout, action)

    def _cancel_timer(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _fire_timeout(self, attr, exc):
        self._timer = None
        d = getattr(self, attr)
        setattr(self, attr, None)
        self.transport.abortConnection()
        if d is not None:
            d.errback(exc)

    def _timed_out(self):
        self._fire_timeout("_waiter", SessionTimeout())

    def _xfer_timed_out(self):
        self._fire_timeout("_resume", SessionTimeout())

    def _tls_timed_out(self):
        self._fire_timeout("_tls_waiter", TlsFailed("timeout"))


def _reason_text(reason) -> str:
    if reason is None:
        return "lost connection"
    value = getattr(reason, "value", reason)
    text = str(value)
    return text if len(text) < 300 else text[:300]
