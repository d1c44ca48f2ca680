"""Every (phase, command) pair: the machine answers with a reply (or a clean protocol error).

The phases are states.PHASES, reached through real dialogue; the commands are every verb
with good and bad arguments, plus unknown, forbidden and empty lines (h2's state-machine
test, enumerated instead of sampled because the product is small).
"""

import re

import pytest

from pfx.smtp import replies as R
from pfx.smtp import states
from pfx.smtp.errors import RemoteProtocolError
from pfx.smtp.events import NEED_DATA, PAUSED, ConnectionClosed, Event, Reject
from pfx.smtp.server import ServerConfig
from tests.unit.smtp.smtp_fakes import Driver

SETUP = {
    "START": b"",
    "HELO": b"EHLO c.example\r\n",
    "MAIL": b"EHLO c.example\r\nMAIL FROM:<a@b>\r\n",
    "RCPT": b"EHLO c.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<b@mx.example>\r\n",
    "BDAT": b"EHLO c.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<b@mx.example>\r\nBDAT 3\r\nabc",
    # Not phases but input modes: a SASL exchange and a message body.
    "AUTH-EXCHANGE": b"EHLO c.example\r\nAUTH PLAIN\r\n",
    "DATA-BODY": b"EHLO c.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<b@mx.example>\r\nDATA\r\n",
}
MODES = {"AUTH-EXCHANGE": "auth", "DATA-BODY": "data"}

COMMANDS = [
    "HELO c.example", "HELO", "EHLO c.example", "EHLO",
    "MAIL FROM:<x@y>", "MAIL FROM:<x@y> SIZE=1 BODY=7BIT", "MAIL FROM:<x@y> BOGUS=1", "MAIL", "MAIL FROM:<x",
    "RCPT TO:<z@mx.example>", "RCPT TO:<z@mx.example> NOTIFY=FAILURE", "RCPT", "RCPT TO:<>",
    "DATA", "DATA x", "BDAT 2\r\nxy", "BDAT 2 LAST\r\nxy", "BDAT 0 LAST", "BDAT 0", "BDAT x", "BDAT 1 MORE\r\nq",
    "RSET", "RSET x", "NOOP", "NOOP x", "VRFY bob", "VRFY", "ETRN example.com", "ETRN",
    "QUIT", "STARTTLS", "STARTTLS x", "AUTH PLAIN", "AUTH PLAIN AGJvYgBzZWNyZXQ=", "AUTH",
    "XYZZY", "GET / HTTP/1.0", "Subject: hi", "", "   ", "\x00\x01", "\xff",
]

CONFIG = ServerConfig(hostname="mx.example", tls_available=True, sasl_enabled=True)
_REPLY_LINE = re.compile(rb"^[2-5][0-9][0-9][ -].*$")


def _driver_in(phase):
    d = Driver(CONFIG)
    d.feed(SETUP[phase])
    assert d.conn._mode == MODES[phase] if phase in MODES else d.conn.phase == phase, d.out
    del d.out[:]
    return d


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("phase", list(SETUP))
def test_every_phase_and_command_gives_a_reply(phase, command):
    d = _driver_in(phase)
    data = command.encode("latin-1") if "\r\n" in command else command.encode("utf-8", "surrogateescape") + b"\r\n"
    if phase == "DATA-BODY":
        # The command is just body text; the reply comes at the end of data.
        data += b".\r\n" if data.endswith(b"\r\n") else b"\r\n.\r\n"
    try:
        d.feed(data)
    except RemoteProtocolError as e:  # allowed, but it must say what to send (or that nothing may be)
        assert e.reply is None or e.reply.code >= 400
        return
    replies = [line for line in d.out if line.startswith("S: ")]
    assert replies, f"no reply in {phase} to {command!r}"
    for line in replies:
        assert _REPLY_LINE.match(line[3:].encode()), line
    assert d.conn.next_event() in (NEED_DATA, PAUSED) or isinstance(d.conn.next_event(), ConnectionClosed)


@pytest.mark.parametrize("verb", states.VERBS)
@pytest.mark.parametrize("phase", states.PHASES)
def test_table_refusals_are_what_the_machine_says(phase, verb):
    """A pair in the table is refused with exactly its reply; others reach the session."""
    d = _driver_in(phase)
    args = {"HELO": " c", "EHLO": " c", "MAIL": " FROM:<x@y>", "RCPT": " TO:<z@mx.example>",
            "BDAT": " 1\r\nq", "VRFY": " bob", "ETRN": " example.com", "AUTH": " PLAIN"}
    line = (verb + args.get(verb, "")).encode()
    d.conn.receive_data(line if b"\r\n" in line else line + b"\r\n")
    event = d.conn.next_event()
    while isinstance(event, Event) and not event.needs_reply:
        event = d.conn.next_event()
    expected = states.refusal(phase, verb)
    if expected is not None:
        assert isinstance(event, Reject) and event.reply == expected
    else:
        assert isinstance(event, Event) and not isinstance(event, Reject), event


def test_helo_required_refuses_mail_before_helo():
    d = Driver(ServerConfig(hostname="mx.example", smtpd_helo_required=True))
    d.feed(b"MAIL FROM:<a@b>\r\n")
    assert d.out[-1] == "S: " + str(R.SEND_HELO)
