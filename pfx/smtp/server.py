"""ServerConnection: the sans-IO SMTP server machine (bytes in, events out, replies in, bytes out).

Security: everything here is untrusted client input. Memory is bounded by the config
(a command line, a SASL line, one DATA line piece, max_input_buffer); over-long lines
are dropped as they arrive. Order is enforced by construction: after an event that
needs a reply, next_event() returns PAUSED until send() gets that reply, so pipelined
replies cannot be reordered. After STARTTLS's 220, start_tls() refuses to go on if
plaintext is still buffered, so no injected command is answered inside TLS.

Driving it (see STYLE.md habit 1 for the Twisted wrapper):
    conn.send(greeting)                       -> bytes to write
    conn.receive_data(data)                   (b"" at end of input)
    while (ev := conn.next_event()) not in (NEED_DATA, PAUSED):
        if ev.needs_reply: write(conn.send(session_reply_for(ev)))   # maybe later
        else: feed the DataChunk / note the Bdat
    conn.closed: close the transport after writing.
    conn.error_sleep: seconds to wait before writing the bytes send() just returned.
    conn.input_pending: unread input is buffered (RFC 2920: hold replies until False).
    conn.should_pause: buffered input above input_high_water (pauseProducing).

Reads the smtpd parameters named in ServerConfig; they come from main.cf via the caller.
"""

from pfx.dsn import Reply
from pfx.smtp import replies as R
from pfx.smtp.config import ServerConfig
from pfx.smtp.dotstuff import DotDecoder
from pfx.smtp.errors import LocalProtocolError, RemoteProtocolError
from pfx.smtp.events import (NEED_DATA, PAUSED, Auth, AuthResponse, ConnectionClosed, Data, DataChunk,
                             DataRejected, Ehlo, EndOfChunk, EndOfData, Etrn, Event, Helo, MailFrom, Noop, Quit,
                             RcptTo, Reject, Rset, StartTLS, Vrfy)
from pfx.smtp.server_commands import CommandHandlers

__all__ = ["ServerConfig", "ServerConnection", "NEED_DATA", "PAUSED"]


class ServerConnection(CommandHandlers):
    """One SMTP server session's protocol state; see the module docstring for the contract."""

    def __init__(self, config: ServerConfig | None = None):
        self.config = config = config or ServerConfig()
        self._buf = bytearray()
        self._mode = "command"  # command | data | bdat | auth | skipline | tls
        self._after_skip = "command"
        self._pending: Event | None = None
        self._greeted = False
        self._eof = False
        self._overflow = False
        self.closed = False
        self._reset_after = False
        self.tls_active = False
        self.authenticated = False
        self.helo_name: str | None = None
        self.esmtp = False
        self.error_count = 0
        self.junk_count = 0
        self.error_sleep = 0.0
        self.where = "CONNECT"  # the last command word, for "lost connection after X"
        self.command_stats: dict[str, list[int]] = {}  # "rcpt" -> [ok, total], for the disconnect log
        self._last_crlf = True
        self._decoder: DotDecoder | None = None
        self._chunk_left = 0
        self._chunk_size = 0
        self._chunk_last = False
        self._chunk_verdict: Event | None = None  # what to say after dropping a chunk
        self._reset_transaction()

    # -- the transaction ------------------------------------------------------------

    def _reset_transaction(self):
        self.in_mail = False
        self.rcpt_count = 0
        self._rcpt_overshoot = 0
        self.in_bdat = False
        self._bdat_error = False
        self.bdat_total = 0
        self.data_size = 0
        self._too_big = False

    @property
    def phase(self) -> str:
        """START, HELO, MAIL, RCPT or BDAT (states.PHASES)."""
        if self.in_bdat:
            return "BDAT"
        if self.rcpt_count:
            return "RCPT"
        if self.in_mail:
            return "MAIL"
        return "START" if self.helo_name is None else "HELO"

    @property
    def input_pending(self) -> bool:
        """Unread client input is buffered: RFC 2920 says hold replies until it is read."""
        return bool(self._buf)

    @property
    def should_pause(self) -> bool:
        """The wrapper should stop reading from the socket until this is False again."""
        return len(self._buf) >= self.config.input_high_water

    # -- input ----------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; b"" means the client closed its side."""
        if not data:
            self._eof = True
            return
        if self.closed or self._overflow:
            return
        if len(self._buf) > self.config.max_input_buffer:
            # Unread input over the cap and still more coming: the wrapper is not
            # pausing the transport. Bound memory to the cap plus one read.
            self._overflow = True
            self._buf.clear()
            return
        self._buf += data
        self._drop_skipped()

    def _drop_skipped(self):
        """Discard what is known to be unwanted now, so it never piles up."""
        if self._mode == "skipline":
            nl = self._buf.find(b"\n")
            if nl < 0:
                self._buf.clear()
            else:
                del self._buf[:nl + 1]
                self._mode = self._after_skip
        elif self._mode == "bdat" and self._chunk_verdict is not None and self._chunk_left:
            take = min(self._chunk_left, len(self._buf))
            del self._buf[:take]
            self._chunk_left -= take

    def next_event(self):
        """The next event, NEED_DATA (feed more bytes) or PAUSED (answer, or start TLS, first)."""
        if self.closed or self._pending is not None or self._mode == "tls":
            return PAUSED
        if self._overflow:
            event = Reject(R.too_much_input(self.config.hostname), close=True, counts=False)
        else:
            self._drop_skipped()
            event = self._next()
        if event is NEED_DATA and self._eof:
            self._buf.clear()
            return ConnectionClosed()
        if event is not NEED_DATA and event.needs_reply:
            self._pending = event
        return event

    def _next(self):
        mode = self._mode
        if mode == "command":
            if self.error_count >= self.config.smtpd_hard_error_limit:
                return Reject(R.too_many_errors(self.config.hostname), close=True, counts=False)
            return self._read_line(self.config.line_length_limit, R.LINE_TOO_LONG, self._command)
        if mode == "data":
            return self._data()
        if mode == "bdat":
            return self._bdat()
        if mode == "auth":
            return self._read_line(self.config.smtpd_sasl_response_limit, R.SASL_RESPONSE_TOO_LONG,
                                   self._auth_line)
        return NEED_DATA  # skipline: still dropping

    def _read_line(self, limit, too_long, handle):
        nl = self._buf.find(b"\n", 0, limit + 2)
        if nl < 0:
            if len(self._buf) <= limit + 1:
                return NEED_DATA
            head = bytes(self._buf[:100]).decode("utf-8", "replace")
            self._after_skip = "command"
            self._mode = "skipline"
            self._drop_skipped()
            return Reject(too_long, command=head)
        line = bytes(self._buf[:nl + 1])
        del self._buf[:nl + 1]
        crlf = line.endswith(b"\r\n")
        raw = line[:-1].rstrip(b"\r")
        if not crlf and self.config.smtpd_forbid_bare_newline == "reject":
            return Reject(self._bare_lf_reply(), command=raw[:100].decode("utf-8", "replace"), close=True)
        self._last_crlf = crlf
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            if self.config.smtputf8_enable:
                return Reject(R.BAD_UTF8, command=raw[:100].decode("utf-8", "replace"))
            text = raw.decode("utf-8", "surrogateescape")
        return handle(text)

    def _bare_lf_reply(self) -> Reply:
        return R.bare_lf(self.config.hostname, self.config.smtpd_forbid_bare_newline_reject_code)

    def _data(self):
        dec = self._decoder
        reject_lf = self.config.smtpd_forbid_bare_newline == "reject"
        while not dec.done:
            out = dec.decode(self._buf, self.config.chunk_size)
            if not out:
                if dec.done:
                    break
                return NEED_DATA
            if reject_lf and dec.bare_lf:
                continue  # the message is lost; read on to the end of data
            if self._too_big:
                continue
            limit = self.config.message_size_limit
            if limit and self.data_size + len(out) > limit:
                self._too_big = True
                continue
            self.data_size += len(out)
            return DataChunk(out)
        self._mode = "command"
        self._decoder = None
        self._last_crlf = dec.prev_crlf
        if reject_lf and dec.bare_lf:
            return DataRejected(self._bare_lf_reply(), close=True)
        if self._too_big:
            return DataRejected(R.MESSAGE_TOO_BIG)
        return EndOfData(self.data_size)

    def _bdat(self):
        if self._chunk_left:
            if self._chunk_verdict is not None:
                return NEED_DATA  # _drop_skipped() does the dropping
            take = min(self._chunk_left, len(self._buf), self.config.chunk_size)
            if not take:
                return NEED_DATA
            data = bytes(self._buf[:take])
            del self._buf[:take]
            self._chunk_left -= take
            return DataChunk(data)
        self._mode = "command"
        if self._chunk_verdict is not None:
            verdict, self._chunk_verdict = self._chunk_verdict, None
            return verdict
        self.bdat_total += self._chunk_size
        return EndOfChunk(self._chunk_size, self.bdat_total, self._chunk_last)

    # -- output ---------------------------------------------------------------------

    def send(self, reply: Reply) -> bytes:
        """Answer the pending event (or send the greeting, or an unsolicited 421); -> bytes."""
        if self.closed:
            raise LocalProtocolError("send() after the session ended")
        event, self._pending = self._pending, None
        self.error_sleep = 0.0
        if event is None:
            if self._greeted and reply.code != 421:
                raise LocalProtocolError(f"no event to answer with {reply}")
            self._greeted = True
            if reply.code in (421, 521):
                self.closed = True
            return self._encode(reply)
        c = self.config
        if self.error_count >= c.smtpd_soft_error_limit:
            self.error_sleep = c.smtpd_error_sleep_time  # Postfix sleeps before each reply
        self._greeted = True
        self._count(event, reply)
        self._apply(event, reply)
        failed = reply.code >= 400
        if failed and getattr(event, "counts", True):
            self.error_count += 1
        if isinstance(event, (Noop, Vrfy, Etrn, Rset)):
            self.junk_count += 1
            if self.junk_count > c.smtpd_junk_command_limit + 1:
                self.error_count += 1
        if reply.code in (421, 521) or getattr(event, "close", False):
            self.closed = True
        return self._encode(reply)

    def _count(self, event: Event, reply: Reply):
        if isinstance(event, Reject):
            if not event.command:
                return  # the machine's own 421s answer no command
            verb = event.command.split(None, 1)[0].upper() if event.command.strip() else ""
            name = verb.lower() if verb in _COUNTED else "unknown"
        elif reply.code in (334, 354):
            return  # DATA and AUTH count once, at their outcome
        else:
            name = _EVENT_NAMES.get(type(event))
            if name is None:
                return
            if name == "data" and self.in_bdat:
                name = "bdat"
        stat = self.command_stats.setdefault(name, [0, 0])
        stat[0] += reply.code < 400
        stat[1] += 1

    def disconnect_summary(self) -> str:
        """Postfix's 'ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1 commands=3/5' (ok/total when they differ)."""
        order = [n for n in _ORDER if n in self.command_stats]
        ok = sum(self.command_stats[n][0] for n in order)
        total = sum(self.command_stats[n][1] for n in order)
        fmt = lambda name, o, t: f"{name}={o}" if o == t else f"{name}={o}/{t}"  # noqa: E731
        return " ".join([fmt(n, *self.command_stats[n]) for n in order] + [fmt("commands", ok, total)])

    def _apply(self, event: Event, reply: Reply):
        ok = 200 <= reply.code < 300
        if isinstance(event, (Helo, Ehlo)):
            if ok:
                # HELO after EHLO stays ESMTP: Postfix never downgrades the protocol name
                self.helo_name, self.esmtp = event.hostname, self.esmtp or isinstance(event, Ehlo)
        elif isinstance(event, MailFrom):
            self.in_mail = ok
        elif isinstance(event, RcptTo):
            self.rcpt_count += ok
        elif isinstance(event, Data):
            if reply.code == 354:
                self._mode = "data"
                self.data_size = 0
                self._decoder = DotDecoder(self.config.smtpd_forbid_bare_newline, self.config.line_length_limit,
                                           prev_crlf=self._last_crlf)
        elif isinstance(event, (EndOfData, DataRejected, EndOfChunk)):
            if self.in_bdat and not self._chunk_last:
                if not ok:
                    self._bdat_error = True  # drop the rest of this BDAT transaction
            else:
                if ok:
                    self.error_count = self.junk_count = 0  # Postfix forgives after a message
                self._reset_transaction()
        elif isinstance(event, (Auth, AuthResponse)):
            self._mode = "auth" if reply.code == 334 else "command"
            if ok:
                self.authenticated = True
        elif isinstance(event, StartTLS):
            if reply.code == 220:
                self._mode = "tls"
        elif isinstance(event, Quit):
            self.closed = True
        elif isinstance(event, Reject) and self._reset_after:
            self._reset_after = False
            self._reset_transaction()

    def _encode(self, reply: Reply) -> bytes:
        if self.config.soft_bounce and reply.code >= 500:
            reply = Reply(reply.code - 100, reply.dsn and reply.dsn.soften(), reply.text)
        if not self.config.offers("enhancedstatuscodes") and reply.dsn is not None:
            reply = Reply(reply.code, None, reply.text)  # Postfix strips them when not offered
        return ("\r\n".join(reply.lines()) + "\r\n").encode("utf-8", "surrogateescape")

    # -- TLS ------------------------------------------------------------------------

    def start_tls(self) -> None:
        """Call after writing STARTTLS's 220 and before starting TLS on the transport.

        Raises RemoteProtocolError (and ends the session) when plaintext is still
        buffered: a client that pipelines after STARTTLS, or an attacker injecting
        commands in front of the handshake (CVE-2011-0411). Otherwise the session
        restarts as after the greeting: no HELO, no transaction, no authentication.
        """
        if self._mode != "tls":
            raise LocalProtocolError("start_tls() without an accepted STARTTLS")
        if self._buf:
            self._buf.clear()
            self.closed = True
            raise RemoteProtocolError("plaintext pipelined after STARTTLS")
        self._mode = "command"
        self.tls_active = True
        self.authenticated = False
        self.helo_name = None
        self._reset_transaction()


# Postfix's command table order, used for the disconnect log line.
_ORDER = ("helo", "ehlo", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy", "etrn",
          "quit", "unknown")
_COUNTED = frozenset(n.upper() for n in _ORDER) - {"UNKNOWN"}
_EVENT_NAMES = {Helo: "helo", Ehlo: "ehlo", StartTLS: "starttls", Auth: "auth", AuthResponse: "auth", MailFrom: "mail", RcptTo: "rcpt",
                Data: "data", EndOfData: "data", DataRejected: "data", EndOfChunk: "bdat", Rset: "rset",
                Noop: "noop", Vrfy: "vrfy", Etrn: "etrn", Quit: "quit"}
