"""ClientConnection: the sans-IO SMTP/LMTP client machine (commands out as bytes, replies in as events).

The caller (pfx.agents.smtp) decides what to send; the machine formats commands,
dot-stuffs the body, keeps the queue of commands awaiting replies so that pipelined
replies are matched to their commands, and knows LMTP's one reply per accepted
recipient after the end of data (RFC 2033). It refuses to pipeline to a server that did
not offer PIPELINING, to send a body before 354, and to put CR or LF into a command.
Security: server replies are untrusted; ReplyParser bounds what they can make us buffer.
"""

from collections import deque

import attrs

from pfx.dsn import Reply
from pfx.smtp.commands import xtext_encode
from pfx.smtp.dotstuff import DotEncoder
from pfx.smtp.errors import LocalProtocolError, RemoteProtocolError
from pfx.smtp.events import NEED_DATA, MailParams, RcptParams
from pfx.smtp.replyparser import ReplyParser

__all__ = ["ClientConnection", "Response", "ServerClosed", "NEED_DATA"]

_EACH = object()  # placeholder recipient: "each accepted recipient" (LMTP end of data)


@attrs.frozen
class Response:
    """The server's reply to ``command`` ("CONNECT" for the greeting, "END" for end of data).

    ``recipient`` is set for RCPT replies and, in LMTP, for each per-recipient reply to END.
    """

    command: str
    reply: Reply
    recipient: str | None = None


@attrs.frozen
class ServerClosed:
    """The server closed the connection; ``expected`` commands got no reply."""

    expected: tuple[str, ...] = ()


class ClientConnection:
    """One SMTP or LMTP client session. Methods that send return the bytes to write."""

    def __init__(self, lmtp: bool = False, line_limit: int = 2048):
        self.lmtp = lmtp
        self._parser = ReplyParser(line_limit=line_limit)
        self._expect: deque[tuple[str, str | None]] = deque([("CONNECT", None)])
        self._events: deque = deque()
        self._eof = False
        self.extensions: dict[str, str] = {}  # EHLO/LHLO keyword (upper case) -> its parameters
        self.accepted: list[str] = []  # recipients with a 2xx RCPT reply, this transaction
        self._in_data = False  # 354 received, body may be sent
        self._encoder: DotEncoder | None = None
        self._ehlo_sent = False
        self.closed = False

    # -- input ----------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the server; b"" at end of input. May raise RemoteProtocolError."""
        if not data:
            self._eof = True
            return
        for reply in self._parser.feed(data):
            if not self._expect:
                raise RemoteProtocolError(f"reply with no command to answer: {reply}")
            command, recipient = self._expect.popleft()
            if recipient is _EACH:  # LMTP: now all RCPT replies are in, one reply per accepted
                rcpts = self.accepted or [None]
                self._expect.extendleft(("END", r) for r in reversed(rcpts[1:]))
                recipient = rcpts[0]
            self._note(command, recipient, reply)
            self._events.append(Response(command, reply, recipient))

    def next_event(self):
        """A Response, ServerClosed once at end of input, or NEED_DATA."""
        if self._events:
            return self._events.popleft()
        if self._eof and not self.closed:
            self.closed = True
            return ServerClosed(tuple(c for c, _ in self._expect))
        return NEED_DATA

    @property
    def waiting(self) -> int:
        """How many replies are still expected."""
        return len(self._expect)

    def _note(self, command: str, recipient: str | None, reply: Reply):
        ok = 200 <= reply.code < 300
        if command in ("EHLO", "LHLO") and ok:
            self.extensions = {}
            for line in reply.text.split("\n")[1:]:
                word, _, rest = line.strip().partition(" ")
                if word:
                    self.extensions[word.upper()] = rest
        elif command == "RCPT" and ok:
            self.accepted.append(recipient)
        elif command == "DATA" and reply.code == 354:
            self._in_data = True
            self._encoder = DotEncoder()
        elif command == "MAIL":
            self.accepted = []
        if command == "QUIT" or reply.code == 421:
            self._expect.clear()  # the server is going away

    # -- output ---------------------------------------------------------------------

    def _command(self, line: str, command: str, recipient: str | None = None, pipelinable: bool = True) -> bytes:
        if self.closed:
            raise LocalProtocolError("the connection is closed")
        if "\r" in line or "\n" in line:
            raise LocalProtocolError(f"CR or LF in an SMTP command: {line!r}")
        if self._in_data:
            raise LocalProtocolError("a command in the middle of the message body")
        if self._expect and not (pipelinable and "PIPELINING" in self.extensions):
            raise LocalProtocolError(f"{command} while {len(self._expect)} replies are outstanding")
        self._expect.append((command, recipient))
        return (line + "\r\n").encode("utf-8")

    def ehlo(self, hostname: str) -> bytes:
        """EHLO (LHLO in LMTP)."""
        self._ehlo_sent = True
        verb = "LHLO" if self.lmtp else "EHLO"
        return self._command(f"{verb} {hostname}", verb, pipelinable=False)

    def helo(self, hostname: str) -> bytes:
        return self._command(f"HELO {hostname}", "HELO", pipelinable=False)

    def starttls(self) -> bytes:
        return self._command("STARTTLS", "STARTTLS", pipelinable=False)

    def start_tls(self) -> None:
        """After a 220 to STARTTLS: forget what the server said in plaintext (RFC 3207)."""
        if self._expect or self._parser.pending:
            raise RemoteProtocolError("server sent data after its STARTTLS reply")
        self.extensions = {}

    def auth(self, mechanism: str, initial: str | None = None) -> bytes:
        """AUTH mechanism [initial-response]; answer each 334 with auth_response()."""
        line = f"AUTH {mechanism}" + ("" if initial is None else f" {initial or '='}")
        return self._command(line, "AUTH", pipelinable=False)

    def auth_response(self, response: str) -> bytes:
        """A SASL response line ("*" aborts)."""
        return self._command(response, "AUTH", pipelinable=False)

    def mail(self, sender: str, params: MailParams = MailParams()) -> bytes:
        """MAIL FROM:<sender> with the parameters the server offered extensions for."""
        ext = self.extensions
        words = [f"MAIL FROM:<{sender}>"]
        if params.size is not None and "SIZE" in ext:
            words.append(f"SIZE={params.size}")
        if params.body and "8BITMIME" in ext:
            words.append(f"BODY={params.body}")
        if "DSN" in ext:  # smtp_proto.c's order: SIZE BODY ENVID RET SMTPUTF8 AUTH
            if params.envid:
                words.append(f"ENVID={xtext_encode(params.envid)}")
            if params.ret:
                words.append(f"RET={params.ret}")
        if params.smtputf8 and "SMTPUTF8" in ext:
            words.append("SMTPUTF8")
        if params.auth and "AUTH" in ext:
            words.append("AUTH=<>" if params.auth == "<>" else f"AUTH={xtext_encode(params.auth)}")
        return self._command(" ".join(words), "MAIL")

    def rcpt(self, recipient: str, params: RcptParams = RcptParams()) -> bytes:
        words = [f"RCPT TO:<{recipient}>"]
        if "DSN" in self.extensions:  # ORCPT before NOTIFY, as smtp_proto.c sends them
            if params.orcpt is not None:
                words.append(f"ORCPT={params.orcpt_type or 'rfc822'};{xtext_encode(params.orcpt)}")
            if params.notify:
                order = ("NEVER", "SUCCESS", "FAILURE", "DELAY")
                words.append("NOTIFY=" + ",".join(w for w in order if w in params.notify))
        return self._command(" ".join(words), "RCPT", recipient)

    def data(self) -> bytes:
        """DATA; send the body with send_body() once the 354 Response arrived."""
        return self._command("DATA", "DATA", pipelinable=True)

    def send_body(self, data: bytes) -> bytes:
        """Message bytes (any line endings) -> dot-stuffed CRLF bytes to write."""
        if not self._in_data:
            raise LocalProtocolError("body before the server's 354")
        return self._encoder.feed(data)

    def end_body(self) -> bytes:
        """The terminating CRLF.CRLF; SMTP expects one reply, LMTP one per accepted recipient."""
        if not self._in_data:
            raise LocalProtocolError("end of body before the server's 354")
        tail = self._encoder.end()
        self._in_data, self._encoder = False, None
        self._expect_end()
        return tail

    def bdat(self, chunk: bytes, last: bool = False) -> bytes:
        """BDAT n [LAST] and the chunk, sent as is (binary, no dot-stuffing)."""
        if "CHUNKING" not in self.extensions:
            raise LocalProtocolError("server did not offer CHUNKING")
        line = f"BDAT {len(chunk)}" + (" LAST" if last else "")
        head = self._command(line, "BDAT")
        if last:
            self._expect.pop()  # the reply to BDAT LAST is the end-of-data reply
            self._expect_end()
        return head + chunk

    def _expect_end(self):
        # LMTP: one reply per recipient accepted at RCPT, counted when the first arrives
        # (with pipelined BDAT, RCPT replies may still be on their way now).
        self._expect.append(("END", _EACH if self.lmtp else None))

    def rset(self) -> bytes:
        self._in_data = False
        return self._command("RSET", "RSET")

    def noop(self) -> bytes:
        return self._command("NOOP", "NOOP", pipelinable=False)

    def quit(self) -> bytes:
        return self._command("QUIT", "QUIT")
