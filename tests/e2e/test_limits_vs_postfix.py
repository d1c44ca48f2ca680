"""Protocol limits and odd commands against a private Postfix 3.7 and against pfx: each
dialogue on its own connection, the same replies.

Skipped when Postfix cannot be started (not root, not installed).
"""


import pytest

from tests.support.dialogue import converse_items, start_smtpd
from tests.e2e.test_smtpd_vs_postfix import KNOWN
from tests.support.peers.fixtures import make_postfix  # noqa: F401

pytestmark = pytest.mark.e2e

SETTINGS = {
    "smtpd_banner": "$myhostname ESMTP",
    "mynetworks": "192.0.2.0/24",
    "mydestination": "mx.example.test",
    "local_recipient_maps": "",
    "smtpd_peername_lookup": "no",
    "smtpd_recipient_limit": "2",
    "smtpd_recipient_overshoot_limit": "3",
    "smtpd_soft_error_limit": "100",
    "smtpd_hard_error_limit": "6",
    "smtpd_junk_command_limit": "4",
    "message_size_limit": "200",
    "disable_vrfy_command": "yes",
    "smtpd_helo_required": "yes",
}
DIALOGUES = [
    ["MAIL FROM:<a@example.org>", "HELO c.example", "VRFY u@mx.example.test", "EXPN u", "ETRN",
     "ETRN example.org", "MAIL FROM:<a@example.org> SIZE=500", "MAIL FROM:<a@example.org> SIZE=100",
     "RCPT TO:<u1@mx.example.test>", "RCPT TO:<u2@mx.example.test>", "RCPT TO:<u3@mx.example.test>",
     "RCPT TO:<u4@mx.example.test>", "RCPT TO:<u5@mx.example.test>", "RCPT TO:<u6@mx.example.test>"],
    ["EHLO c.example", "MAIL FROM:<a@example.org>", "RCPT TO:<u@mx.example.test>", "DATA",
     "Subject: big\r\n\r\n" + "x" * 300 + "\r\n.", "RSET", "NOOP", "NOOP", "NOOP", "NOOP", "NOOP", "QUIT"],
    ["EHLO c.example", "FOO", "BAR", "MAIL", "RCPT TO:<x@y>", "DATA", "BAZ", "QUIT"],
    ["EHLO c.example", "AUTH PLAIN", "STARTTLS", "MAIL FROM:<a@example.org> BODY=BOGUS",
     "MAIL FROM:<a@example.org> AUTH=<>", "RSET", "MAIL FROM:<a@example.org> AUTH=bob+4", "RSET",
     "MAIL FROM:<a@example.org> AUTH=bob+40x AUTH=<>", "RSET", "MAIL FROM:<a@example.org> AUTH=b\x01b", "RSET",
     "MAIL FROM:<a@example.org> RET=HDRS ENVID=x",
     "RCPT TO:<u@mx.example.test> NOTIFY=NEVER,SUCCESS", "RCPT TO:<u@mx.example.test> ORCPT=bogus", "QUIT"],
    ["EHLO c.example", "Subject: hello"],
    ["CONNECT example.org:25"],
]



def test_limit_replies_match_postfix(make_postfix, config_dir, run_twistd):  # noqa: F811
    pf = make_postfix("discard", hostname="mx.example.test", main_extra=dict(SETTINGS))
    theirs = [converse_items(pf.port, d) for d in DIALOGUES]

    port = start_smtpd(config_dir, run_twistd, SETTINGS)
    ours = [converse_items(port, d) for d in DIALOGUES]
    differ = [(cmd, o, t) for d, os_, ts in zip(DIALOGUES, ours, theirs)
              for cmd, o, t in zip(["(greeting)", *d], os_, ts)
              if o != t and (o[0], t[0]) not in KNOWN]
    assert differ == [], "(command, pfx, Postfix)"
    assert [len(o) for o in ours] == [len(t) for t in theirs]
