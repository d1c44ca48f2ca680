"""Hypothesis: arbitrary client bytes give replies or a clean protocol error, with bounded buffers,
and the same bytes out however the input is split. Also the fuzz entry point."""

import re

import attrs

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pfx.smtp.errors import RemoteProtocolError
from pfx.smtp.server import ServerConfig
from tests.unit.smtp.smtp_fakes import Driver

TOKENS = [b"EHLO x\r\n", b"HELO x\r\n", b"MAIL FROM:<a@b>", b"MAIL FROM:<a@b> SIZE=5\r\n", b"RCPT TO:<b@c>\r\n",
          b"RCPT TO:<unknown@c>\r\n", b"DATA\r\n", b"BDAT 3\r\n", b"BDAT 2 LAST\r\n", b"BDAT 99999\r\n", b"RSET\r\n",
          b"NOOP\r\n", b"VRFY x\r\n", b"ETRN d\r\n", b"QUIT\r\n", b"STARTTLS\r\n", b"AUTH PLAIN\r\n", b"*\r\n",
          b".\r\n", b"\r\n.\r\n", b"\n.\n", b"\r.\r", b"..\r\n", b"\r\n", b"\n", b"\r", b".", b"x" * 300,
          b"Subject: x\r\n", b"\xff\xfe", b"\x00", b"GET / HTTP/1.0\r\n", b"AUTH=<>", b" NOTIFY=NEVER", b"LAST"]

streams = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=40)), max_size=60).map(b"".join)
CONFIG = ServerConfig(hostname="mx.example", line_length_limit=64, message_size_limit=200, tls_available=True,
                      sasl_enabled=True, smtpd_sasl_response_limit=64, chunk_size=50, smtpd_soft_error_limit=1000,
                      smtpd_hard_error_limit=1000, smtpd_junk_command_limit=1000, max_input_buffer=4096)
# The most any buffer may hold after the machine has looked at it: the longest line it
# must see whole (the SASL limit here) plus what one receive_data() call brought.
_SLACK = 64 + 2
_REPLY = re.compile(r"^S: [2-5][0-9][0-9][ -]")


def run(data: bytes, cuts: list[int], config=CONFIG) -> list[str]:
    """Feed ``data`` split at ``cuts``; -> transcript lines. The fuzz entry point."""
    d = Driver(config)
    pieces, last = [], 0
    for cut in sorted(set(c % (len(data) + 1) for c in cuts)) + [len(data)]:
        pieces.append(data[last:cut])
        last = cut
    for piece in pieces:
        if d.conn.closed or not piece:
            continue
        try:
            d.feed(piece)
        except RemoteProtocolError:
            d.out.append("-- protocol error")
            break
        assert len(d.conn._buf) <= len(piece) + _SLACK, (len(d.conn._buf), d.conn._mode)
    d.conn.receive_data(b"")
    d.pump()
    return d.out


CONFIGS = [CONFIG] + [attrs.evolve(CONFIG, **kw) for kw in (
    {"smtpd_forbid_bare_newline": "reject"}, {"smtpd_forbid_bare_newline": "no"},
    {"smtpd_discard_ehlo_keywords": frozenset({"chunking", "dsn", "enhancedstatuscodes"})},
    {"tls_required": True, "smtpd_helo_required": True}, {"smtputf8_enable": False, "message_size_limit": 0},
    {"smtpd_hard_error_limit": 3, "smtpd_recipient_limit": 1})]


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.lists(st.integers(min_value=0, max_value=10**6), max_size=8), st.sampled_from(CONFIGS))
def test_random_input_gives_only_replies_and_bounded_buffers(data, cuts, config):
    out = run(data, cuts, config)
    for line in out:
        assert line.startswith(("M: ", "-- ")) or _REPLY.match(line), line


@settings(max_examples=200, deadline=None, database=None)
@given(streams, st.lists(st.integers(min_value=0, max_value=10**6), max_size=8), st.sampled_from(CONFIGS))
def test_output_does_not_depend_on_how_input_is_split(data, cuts, config):
    # Without STARTTLS: its outcome legitimately depends on what was already received.
    data = data.replace(b"STARTTLS", b"NOOP")
    assert run(data, cuts, config) == run(data, [], config)


def test_a_client_sending_100_mb_without_newline_costs_o_limit_memory():
    d = Driver(CONFIG)
    block = b"x" * 65536
    for _ in range(1600):  # 100 MiB
        d.feed(block)
        assert len(d.conn._buf) <= 2 * len(block)
    d.feed(b"\r\nQUIT\r\n")
    assert d.out[-3:] == ["S: 500 5.5.0 Error: line too long", "S: 221 2.0.0 Bye", "-- closed"]


if __name__ == "__main__":  # python -m tests.properties.test_smtp_server_fuzz < input (afl-style)
    import sys

    print("\n".join(run(sys.stdin.buffer.read(), [])))
