"""Frozen events the SMTP server machine hands to its caller, and the NEED_DATA / PAUSED sentinels.

Every event has ``needs_reply``. When it is true the caller must answer it with
ServerConnection.send(reply) before the machine hands out anything else; that is how
pipelined replies stay in order. DataChunk and Bdat are information only.
"""

import attrs

from pfx.dsn import Reply


class _Sentinel:
    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return self._name


NEED_DATA = _Sentinel("NEED_DATA")  # nothing to do until receive_data() brings more bytes
PAUSED = _Sentinel("PAUSED")  # an event awaits its reply, TLS is pending, or the connection is over


@attrs.frozen
class MailParams:
    """ESMTP parameters of MAIL FROM, already checked for syntax."""

    size: int | None = None
    body: str | None = None  # "7BIT" | "8BITMIME"
    smtputf8: bool = False
    ret: str | None = None  # "FULL" | "HDRS"
    envid: str | None = None  # xtext-decoded
    auth: str | None = None  # xtext-decoded, or "<>"


@attrs.frozen
class RcptParams:
    """ESMTP parameters of RCPT TO: NOTIFY and ORCPT (RFC 3461)."""

    notify: frozenset[str] | None = None  # {"NEVER"} or a subset of SUCCESS, FAILURE, DELAY
    orcpt_type: str | None = None  # "rfc822", as sent
    orcpt: str | None = None  # xtext-decoded address


class Event:
    needs_reply = True


@attrs.frozen
class Helo(Event):
    hostname: str


@attrs.frozen
class Ehlo(Event):
    hostname: str


@attrs.frozen
class MailFrom(Event):
    """address: the text between the angle brackets (or the bare token), unparsed; "" is <>."""

    address: str
    params: MailParams = MailParams()


@attrs.frozen
class RcptTo(Event):
    address: str
    params: RcptParams = RcptParams()


@attrs.frozen
class Data(Event):
    """Answer 354 (replies.START_DATA) to receive the body, anything else to refuse it."""


@attrs.frozen
class DataChunk(Event):
    """Part of the message body: dot-unstuffed, lines ending in CRLF (or raw BDAT bytes)."""

    needs_reply = False
    data: bytes


@attrs.frozen
class EndOfData(Event):
    """The body ended with CRLF.CRLF and is whole; size is the number of bytes in the DataChunks."""

    size: int


@attrs.frozen
class DataRejected(Event):
    """The machine refused the body it read (size limit, bare LF). Abort the message and
    answer with ``reply`` (or a variant of it); the connection closes afterwards if ``close``."""

    reply: Reply
    close: bool = False


@attrs.frozen
class Bdat(Event):
    """A BDAT chunk of ``size`` bytes starts; DataChunks and then an EndOfChunk follow."""

    needs_reply = False
    size: int
    last: bool


@attrs.frozen
class EndOfChunk(Event):
    """A BDAT chunk was received whole; total counts the whole message so far.
    Answer replies.chunk_ok(total), or replies.queued(qid, total) when last."""

    size: int
    total: int
    last: bool


@attrs.frozen
class Rset(Event):
    """The transaction is already reset; answer replies.OK."""


@attrs.frozen
class Noop(Event):
    pass


@attrs.frozen
class Vrfy(Event):
    argument: str


@attrs.frozen
class Etrn(Event):
    argument: str


@attrs.frozen
class Quit(Event):
    pass


@attrs.frozen
class StartTLS(Event):
    """Answer replies.READY_TLS, write it, then call start_tls() and start TLS on the transport."""


@attrs.frozen
class Auth(Event):
    """AUTH mechanism [initial-response]; answer 334 to continue, 235 on success."""

    mechanism: str
    initial: str | None = None


@attrs.frozen
class AuthResponse(Event):
    """A client line during a SASL exchange; "*" means the client aborts (answer AUTH_ABORTED).
    A Reject instead (the line was too long) also ends the exchange."""

    response: str


@attrs.frozen
class Reject(Event):
    """The machine refused the input itself: send ``reply`` (it may be decorated, e.g. a reject
    footer). ``command`` is the offending line for the log, ``close`` ends the session."""

    reply: Reply
    command: str = ""
    close: bool = False
    counts: bool = True  # whether a 4xx/5xx answer counts as a client error


@attrs.frozen
class ConnectionClosed(Event):
    """The client closed its side; anything it had half-sent is dropped."""

    needs_reply = False
