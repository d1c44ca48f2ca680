"""Test helpers: a scripted session answering ServerConnection events, and the transcript runner.

Transcript files (tests/transcripts/*.txt):
    # comment                     ignored
    ! name = value                a ServerConfig field (int, bool yes/no, float, or a word list)
    % split-sensitive             the outcome depends on what arrived together (only replayed whole)
    C: EHLO x                     client line, CRLF appended
    R: DATA\\n.\\n                 raw client bytes, Python escapes, nothing appended
    S: 250 ...                    expected server line
    M: 'line'                     a line of a queued message body (repr of the bytes)
    -- note                       the machine's doing: closed, tls started, sleep N, ...
Consecutive C:/R: lines form one block, fed together (pipelined); the next block is fed
only after the machine asks for more data, as a client waiting for replies would.
"""

import ast

from pfx.dsn import Dsn, Reply
from pfx.smtp import replies as R
from pfx.smtp.ehlo import ehlo_reply
from pfx.smtp.errors import RemoteProtocolError
from pfx.smtp.events import (NEED_DATA, PAUSED, Auth, AuthResponse, Bdat, ConnectionClosed, Data, DataChunk,
                             DataRejected, Ehlo, EndOfChunk, EndOfData, Etrn, Helo, MailFrom, Noop, Quit, RcptTo,
                             Reject, Rset, StartTLS, Vrfy)
from pfx.smtp.server import ServerConfig, ServerConnection

HOST = "mx.example"
PLAINTEXT_AFTER_STARTTLS = "-- plaintext after STARTTLS: not answered, session ends"
GREETING = Reply(220, None, f"{HOST} ESMTP pfx")


class FakeSession:
    """Answers like a permissive Postfix: rcpt addresses starting 'unknown' are refused."""

    def __init__(self, conn):
        self.conn = conn
        self.body = bytearray()
        self.messages = []
        self.events = []

    def handle(self, ev):
        self.events.append(ev)
        c = self.conn.config
        if isinstance(ev, Ehlo):
            return ehlo_reply(HOST, message_size_limit=c.message_size_limit, vrfy=not c.disable_vrfy_command,
                              starttls=c.tls_available and not self.conn.tls_active,
                              auth_mechanisms=("PLAIN",) if c.sasl_enabled and not self.conn.authenticated else (),
                              smtputf8=c.smtputf8_enable, discard=c.smtpd_discard_ehlo_keywords)
        if isinstance(ev, Helo):
            return Reply(250, None, HOST)
        if isinstance(ev, MailFrom):
            return R.MAIL_OK
        if isinstance(ev, RcptTo):
            if ev.address.startswith("unknown"):
                return Reply(550, Dsn("5.1.1"), f"<{ev.address}>: Recipient address rejected: User unknown")
            return R.RCPT_OK
        if isinstance(ev, Data):
            self.body.clear()
            return R.START_DATA
        if isinstance(ev, DataChunk):
            self.body += ev.data
            return None
        if isinstance(ev, Bdat):
            return None
        if isinstance(ev, EndOfData):
            assert ev.size == len(self.body)
            return self._queue(R.queued("QID%d" % (len(self.messages) + 1)))
        if isinstance(ev, EndOfChunk):
            if not ev.last:
                return R.chunk_ok(ev.total)
            return self._queue(R.queued("QID%d" % (len(self.messages) + 1), ev.total))
        if isinstance(ev, DataRejected):
            self.body.clear()
            return ev.reply
        if isinstance(ev, (Rset, Noop)):
            return R.OK
        if isinstance(ev, Vrfy):
            return Reply(252, Dsn("2.0.0"), ev.argument)
        if isinstance(ev, Etrn):
            return Reply(250, None, "Queuing started")
        if isinstance(ev, Quit):
            return R.BYE
        if isinstance(ev, StartTLS):
            return R.READY_TLS
        if isinstance(ev, Auth):
            if ev.initial is None:
                return Reply(334, None, "")
            return R.AUTH_OK if ev.initial == "AGJvYgBzZWNyZXQ=" else Reply(535, Dsn("5.7.8"), "Error: authentication failed: bad")
        if isinstance(ev, AuthResponse):
            if ev.response == "*":
                return R.AUTH_ABORTED
            return R.AUTH_OK if ev.response == "AGJvYgBzZWNyZXQ=" else Reply(535, Dsn("5.7.8"), "Error: authentication failed: bad")
        if isinstance(ev, Reject):
            return ev.reply
        raise AssertionError(f"unexpected event {ev!r}")

    def _queue(self, reply):
        self.messages.append(bytes(self.body))
        self.body.clear()
        return reply


class Driver:
    """The Twisted wrapper's job, synchronously: pump events, answer them, record output."""

    def __init__(self, config=None):
        self.conn = ServerConnection(config or ServerConfig(hostname=HOST))
        self.session = FakeSession(self.conn)
        self.out = []  # transcript lines produced by the server side
        self.tls_starts = 0
        self.dead = False
        self._write(self.conn.send(GREETING))

    def _write(self, data: bytes):
        if self.conn.error_sleep:
            self.out.append(f"-- sleep {self.conn.error_sleep:g}")
        for line in data.decode("utf-8").split("\r\n")[:-1]:
            self.out.append(f"S: {line}")

    def feed(self, data: bytes):
        self.conn.receive_data(data)
        self.pump()

    def pump(self):
        while not self.conn.closed:
            ev = self.conn.next_event()
            if ev is NEED_DATA or ev is PAUSED or isinstance(ev, ConnectionClosed):
                return
            n = len(self.session.messages)
            reply = self.session.handle(ev)
            if reply is None:
                continue
            self._write(self.conn.send(reply))
            for msg in self.session.messages[n:]:
                lines = msg.split(b"\r\n")
                if lines[-1] == b"":  # the usual case: the message ends in CRLF
                    lines.pop()
                self.out.extend(f"M: {line!r}" for line in lines)
            if isinstance(ev, StartTLS) and reply.code == 220:
                try:
                    self.conn.start_tls()
                    self.out.append("-- tls started")
                    self.tls_starts += 1
                except RemoteProtocolError:
                    self.out.append(PLAINTEXT_AFTER_STARTTLS)
            if self.conn.closed:
                self.out.append("-- closed")


def parse_transcript(text: str):
    """-> (config kwargs, list of (client bytes block, expected lines after it)), expected lines before."""
    config, blocks, current_in, current_out, head = {}, [], None, [], []
    for raw in text.splitlines():
        if not raw.strip() or raw.startswith(("#", "%")):
            continue
        if raw.startswith("! "):
            name, _, value = raw[2:].partition("=")
            config[name.strip()] = _config_value(name.strip(), value.strip())
            continue
        kind, rest = raw[:2], raw[3:] if len(raw) > 2 else ""
        if kind in ("C:", "R:"):
            data = (rest.encode() + b"\r\n") if kind == "C:" else ast.literal_eval("b'" + rest + "'")
            if current_in is None or current_out:
                if current_in is not None:
                    blocks.append((current_in, current_out))
                current_in, current_out = bytearray(), []
            current_in += data
        else:
            (current_out if current_in is not None else head).append(raw)
    if current_in is not None:
        blocks.append((current_in, current_out))
    return config, head, blocks


def _config_value(name, value):
    default = getattr(ServerConfig(), name)
    if isinstance(default, bool):
        return value == "yes"
    if isinstance(default, frozenset):
        return frozenset(value.replace(",", " ").split())
    return type(default)(value)


def run_transcript(text: str, byte_at_a_time: bool = False) -> tuple[list[str], list[str]]:
    """-> (expected lines, actual lines), both including the C:/R: lines for readability."""
    config, head, blocks = parse_transcript(text)
    driver = Driver(ServerConfig(hostname=HOST, **config))
    expected, actual = list(head), list(driver.out)
    for data, out in blocks:
        shown = [f"<< {bytes(data)!r}"]
        expected += shown + out
        actual += shown
        n = len(driver.out)
        if driver.dead:
            pass
        elif byte_at_a_time:
            for i in range(len(data)):
                before = driver.tls_starts
                driver.feed(data[i:i + 1])
                if driver.tls_starts != before and i + 1 < len(data):
                    # More bytes of the same write: on a real socket they would reach the
                    # TLS layer as a garbage handshake. Same outcome as the whole-write case.
                    driver.out[-1] = PLAINTEXT_AFTER_STARTTLS
                    driver.out.append("-- closed")
                    driver.dead = True
                    break
        else:
            driver.feed(bytes(data))
        actual += driver.out[n:]
    driver.conn.receive_data(b"")
    driver.pump()
    return expected, actual
