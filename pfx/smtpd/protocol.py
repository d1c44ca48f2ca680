"""SMTPServerProtocol: Twisted glue around pfx.smtp.server.ServerConnection; no SMTP rules live here.

Security: bytes from the network go straight into the sans-IO machine, which bounds
them; this module only moves bytes, honours the machine's pause/flush/sleep/close
signals, and never answers plaintext that was pipelined after STARTTLS (the machine
refuses; we abort the connection). Parameters read: smtpd_timeout (given by the
service), smtpd_error_sleep_time (through the machine's error_sleep).
"""

from twisted.internet import defer
from twisted.internet.interfaces import IHandshakeListener
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from pfx.smtp.errors import RemoteProtocolError
from pfx.smtp.events import NEED_DATA, PAUSED, ConnectionClosed, StartTLS
from pfx.smtp.replies import READY_TLS


@implementer(IHandshakeListener)
class SMTPServerProtocol(Protocol):
    """One SMTP connection: feed the machine, ask the session, write replies in order."""

    def __init__(self, conn, session, clock, idle_timeout, tls_options=None, on_close=None):
        self._conn, self._session, self._clock = conn, session, clock
        self._idle_timeout = idle_timeout
        self._tls_options = tls_options
        self._on_close = on_close
        self._idle = None
        self._waiting = False  # an event awaits the session's reply (or the error sleep)
        self._paused = False
        self._out = []  # replies held while the client's pipelined input is read (RFC 2920)
        self._lost = False
        self._pumping = False  # replies that come back at once continue the loop, not recurse

    def connectionMade(self):
        self._waiting = True  # nothing the client sends is answered before the greeting
        local = getattr(self.transport.getHost(), "host", "")
        if local and getattr(self._session, "sasl", None) is not None:
            self._session.sasl.local_addr = local  # Dovecot's lip=
        self._idle = self._clock.callLater(self._idle_timeout, self._timed_out)
        d = defer.maybeDeferred(self._session.greeting)
        d.addCallback(self._greet)
        d.addErrback(self._crash)

    def _greet(self, reply):
        if self._lost:
            return
        self._write_now(self._conn.send(reply))
        if self._conn.closed:
            self.transport.loseConnection()
            return
        self._waiting = False
        if self._idle.active():
            self._idle.reset(self._idle_timeout)
        self._pump()

    def dataReceived(self, data):
        if self._idle is not None and self._idle.active():
            self._idle.reset(self._idle_timeout)
        self._conn.receive_data(data)
        if self._conn.should_pause and not self._paused:
            self._paused = True
            self.transport.pauseProducing()
        self._pump()

    def _pump(self):
        if self._pumping:
            return
        self._pumping = True
        try:
            self._pump_events()
        finally:
            self._pumping = False
        if self._paused and not self._conn.should_pause and not self._waiting and not self._lost:
            self._paused = False
            self.transport.resumeProducing()
        if not self._waiting:
            self._flush()  # about to wait for the client: RFC 2920 says flush now

    def _pump_events(self):
        while not self._waiting and not self._lost:
            event = self._conn.next_event()
            if event is NEED_DATA or event is PAUSED:
                break
            if not event.needs_reply:
                if isinstance(event, ConnectionClosed):
                    break
                taken = self._session.handle(event)
                if isinstance(taken, defer.Deferred) and not taken.called:
                    # cleanup is behind with the body: read no further until it catches up
                    self._waiting = True
                    taken.addBoth(self._resume)
                continue
            self._waiting = True
            # maybeDeferred's error handling without its Deferred when the reply is ready
            try:
                try:
                    reply = self._session.handle(event)
                except BaseException:
                    reply = self._session.internal_error(Failure())
                if isinstance(reply, defer.Deferred):
                    reply.addErrback(self._session.internal_error)
                    reply.addCallback(self._answer, event)
                    reply.addErrback(self._crash)
                else:
                    self._answer(reply, event)
            except BaseException:
                self._crash(Failure())

    def _resume(self, _):
        self._waiting = False
        if not self._lost:
            self._pump()

    def _answer(self, reply, event):
        if self._lost:
            return
        data = self._conn.send(reply)
        sleep = self._conn.error_sleep
        if sleep > 0:
            self._flush()
            self._clock.callLater(sleep, self._emit, data, event, reply)
        else:
            self._emit(data, event, reply)

    def _emit(self, data, event, reply):
        if self._lost:
            return
        self._waiting = False
        if isinstance(event, StartTLS) and reply == READY_TLS:
            self._write_now(data)
            if not self._start_tls():
                return
        else:
            self._out.append(data)
            if not self._conn.input_pending or self._conn.closed:
                self._flush()
        if self._conn.closed:
            self._flush()
            self.transport.loseConnection()
            return
        if self._idle is not None and self._idle.active():
            self._idle.reset(self._idle_timeout)
        self._pump()

    def _start_tls(self) -> bool:
        try:
            self._conn.start_tls()
        except RemoteProtocolError:
            # Plaintext arrived behind STARTTLS: answering it inside TLS is the
            # CVE-2011-0411 injection. Drop the connection without another word.
            self.transport.abortConnection()
            return False
        self._session.tls_started()
        self.transport.startTLS(self._tls_options)
        return True

    def handshakeCompleted(self):
        try:
            tls = self.transport.getHandle()
            info = (tls.get_protocol_version_name(), tls.get_cipher_name(), tls.get_cipher_bits())
        except Exception:  # not an OpenSSL connection (a test transport): no details
            info = None
        self._session.tls_established(info)

    def _flush(self):
        if self._out:
            self.transport.write(b"".join(self._out))
            self._out = []

    def _write_now(self, data):
        self._flush()
        self.transport.write(data)

    def _timed_out(self):
        if self._waiting:  # we are the slow one (a table, cleanup): give the client time again
            self._idle = self._clock.callLater(self._idle_timeout, self._timed_out)
            return
        self._write_now(self._conn.send(self._session.timeout_reply()))
        self.transport.loseConnection()

    def _crash(self, failure):
        self._session.log.error(f"smtpd: {failure.getErrorMessage()}")
        self.transport.abortConnection()

    def connectionLost(self, reason):
        self._lost = True
        if self._idle is not None and self._idle.active():
            self._idle.cancel()
        self._conn.receive_data(b"")
        self._session.lost()
        if self._on_close is not None:
            self._on_close()
