"""Hypothesis over the whole smtpd stack (protocol + session + restrictions): any client bytes give
the same output however they are split, never an exception, and never an unreleased message."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.smtpd.smtpd_helpers import Harness

TOKENS = [b"EHLO c.example.org\r\n", b"HELO x\r\n", b"MAIL FROM:<a@example.org>\r\n", b"MAIL FROM:<>\r\n",
          b"RCPT TO:<b@mx.example.test>\r\n", b"RCPT TO:<x@elsewhere.example>\r\n",
          b"RCPT TO:<u%elsewhere.example@mx.example.test>\r\n", b"DATA\r\n", b"BDAT 3\r\n", b"BDAT 2 LAST\r\n",
          b"RSET\r\n", b"NOOP\r\n", b"VRFY x\r\n", b"ETRN d\r\n", b"QUIT\r\n", b"STARTTLS\r\n", b".\r\n",
          b"\r\n.\r\n", b"\n.\n", b"..\r\n", b"\r\n", b"\n", b"x" * 100, b"Subject: x\r\n", b"\xff"]
streams = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=20)), max_size=40).map(b"".join)
LIMITS = dict(smtpd_soft_error_limit=1000, smtpd_hard_error_limit=1000, smtpd_junk_command_limit=1000,
              message_size_limit=300, addr="192.0.2.1")


def run(data, pieces):
    h = Harness(**LIMITS)
    step = max(1, len(data) // pieces) if pieces else 1
    for i in range(0, len(data), step):
        if h.transport.disconnecting:
            break
        h.say(data[i:i + step])
    h.close()
    for w in h.submitter.writers:
        assert w.committed or w.aborted, "a message was neither committed nor aborted"
    return h.transport.value(), [(w.committed, w.aborted) for w in h.submitter.writers]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.integers(min_value=0, max_value=7))
def test_same_replies_however_split(data, pieces):
    assert run(data, 1) == run(data, pieces)
