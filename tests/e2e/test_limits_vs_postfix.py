"""Protocol limits and odd commands against a private Postfix 3.7 and against pfx: each
dialogue on its own connection, the same replies.

Skipped when Postfix cannot be started (not root, not installed).
"""

import socket

import pytest

from tests.conftest import free_port, wait_for_port
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


def converse_items(port, dialogue):
    """The greeting and one reply per item; "(closed)" once the server has hung up."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")

        def reply():
            lines = []
            while True:
                try:
                    line = reader.readline().decode()
                except OSError:  # reset after the server hung up
                    line = ""
                if not line:
                    return lines or ["(closed)"]
                lines.append(line.rstrip("\r\n"))
                if len(lines[-1]) < 4 or lines[-1][3] != "-":
                    return lines
        replies.append(reply())
        for item in dialogue:
            try:
                sock.sendall(item.encode() + b"\r\n")
            except OSError:
                replies.append(["(closed)"])
                continue
            replies.append(reply())
    return replies


def test_limit_replies_match_postfix(make_postfix, config_dir, run_twistd):  # noqa: F811
    pf = make_postfix("discard", hostname="mx.example.test", main_extra=dict(SETTINGS))
    theirs = [converse_items(pf.port, d) for d in DIALOGUES]

    port = free_port()
    config_dir.write(main_extra="".join(f"{k} = {v}\n" for k, v in SETTINGS.items()),
                     master="cleanup unix n - n - 0 cleanup\n"
                            f"127.0.0.1:{port} inet n - n - - smtpd\n")
    proc = run_twistd(config_dir.path)
    wait_for_port(port, proc=proc)
    ours = [converse_items(port, d) for d in DIALOGUES]
    differ = [(cmd, o, t) for d, os_, ts in zip(DIALOGUES, ours, theirs)
              for cmd, o, t in zip(["(greeting)", *d], os_, ts)
              if o != t and (o[0], t[0]) not in KNOWN]
    assert differ == [], "(command, pfx, Postfix)"
    assert [len(o) for o in ours] == [len(t) for t in theirs]
