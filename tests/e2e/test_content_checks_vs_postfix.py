"""header_checks and body_checks against a private Postfix 3.7 and against pfx: the same
tables, the same messages, the same SMTP replies and the same cleanup log lines.

Skipped when Postfix cannot be started (not root, not installed).
"""

import re
import smtplib

import pytest

from tests.support.dialogue import start_smtpd
from tests.support.peers.fixtures import make_postfix  # noqa: F401

pytestmark = pytest.mark.e2e

HEADER_CHECKS = """\
/^Subject:.*fold/ WARN folded seen
/^X-Hold/ HOLD held
/^X-Long/ INFO long one
/^X-Pass/ PASS trusted
/^X-After/ REJECT should not fire
/^X-Two/ REJECT 2.1.0 two
/^X-Prep/ PREPEND X-Added: yes
/^X-Strip/ STRIP gone
/^X-Bad/ REDIRECT nobody
"""
BODY_CHECKS = """\
/^$/ WARN empty line
/^xx/ WARN long body line
/^stop/ REJECT 5.7.9 stop here
"""
MESSAGES = [
    "Subject: a fold\r\n\tcontinued\r\nX-Hold: 1\r\nX-Hold: 2\r\nX-Long: " + "y" * 300 +
    "\r\nX-Prep: 1\r\nX-Strip: 1\r\nX-Bad: 1\r\n\r\n\r\nabc\r\nxx" + "x" * 30 + "\r\nxx\r\n",
    "X-Pass: 1\r\nX-After: 1\r\n\r\nbody\r\n",
    "X-Two: 1\r\n\r\nbody\r\n",
    "Subject: body\r\n\r\nstop\r\n",
]


def send_all(port):
    replies = []
    for message in MESSAGES:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
            client.ehlo("c.example")
            client.mail("a@example.org")
            client.rcpt("b@mx.example.test")
            code, text = client.data(message.encode())
            replies.append((code, re.sub(r"queued as \w+", "queued as QID", text.decode())))
    return replies


def cleanup_lines(maillog, name):
    """The check lines and warnings of cleanup, queue ids replaced."""
    lines = [line.split("]: ", 1)[1] for line in maillog.splitlines() if f" {name}/cleanup[" in line]
    lines = [re.sub(r"^[0-9A-Za-z]{10,}:", "QID:", line) for line in lines]
    return [line for line in lines if "message-id=" not in line]


def test_content_check_replies_and_logs_match_postfix(make_postfix, config_dir, run_twistd, tmp_path):  # noqa: F811
    (tmp_path / "hc").write_text(HEADER_CHECKS)
    (tmp_path / "bc").write_text(BODY_CHECKS)
    settings = {"mynetworks": "127.0.0.0/8", "mydestination": "mx.example.test", "local_recipient_maps": "",
                "smtpd_peername_lookup": "no", "header_checks": f"regexp:{tmp_path}/hc",
                "body_checks": f"regexp:{tmp_path}/bc", "body_checks_size_limit": "10"}
    pf = make_postfix("discard", hostname="mx.example.test", main_extra=dict(settings))
    theirs = send_all(pf.port)

    port = start_smtpd(config_dir, run_twistd, settings)
    ours = send_all(port)
    assert ours == theirs

    config_dir.wait_for_log("reject: body stop")
    pf.wait_for_log("reject: body stop")
    assert cleanup_lines(config_dir.log_text(), "pfx") == cleanup_lines(open(pf.maillog).read(), "postfix")
