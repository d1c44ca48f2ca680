"""SMTP AUTH against a private Postfix 3.7 and against pfx, both using the same
throwaway Dovecot auth service: the same AUTH dialogues, the same replies, the same
smtpd warning lines.

Skipped when Postfix or Dovecot cannot be started (not root, not installed).
"""

import base64
import re

import pytest

from tests.support.dialogue import converse_items, start_smtpd
from tests.support.peers.fixtures import dovecot, make_postfix  # noqa: F401

pytestmark = pytest.mark.e2e


def b64(text):
    return base64.b64encode(text.encode()).decode()


DIALOGUES = [
    ["EHLO c.example", "AUTH PLAIN " + b64("\0bob@example.test\0wrong"), "AUTH LOGIN", b64("bob@example.test"), "*",
     "AUTH PLAIN !!!", "AUTH CRAM-MD5", "AUTH", "AUTH PLAIN", b64("\0bob@example.test\0bobpw"), "AUTH PLAIN x",
     "MAIL FROM:<a@example.org> AUTH=<>", "AUTH PLAIN", "QUIT"],
    ["EHLO c.example", "AUTH LOGIN " + b64("alice@example.test"), b64("alicepw"), "MAIL FROM:<alice@example.test>",
     "RCPT TO:<x@elsewhere.example>", "DATA", "Subject: x\r\n\r\nhi\r\n.", "QUIT"],
    ["HELO c.example", "AUTH PLAIN " + b64("\0alice@example.test\0alicepw"), "QUIT"],
]


def settings(auth_port):
    return {"mynetworks": "192.0.2.0/24", "mydestination": "mx.example.test", "local_recipient_maps": "",
            "smtpd_peername_lookup": "no", "smtpd_sasl_auth_enable": "yes", "smtpd_sasl_type": "dovecot",
            "smtpd_sasl_path": f"inet:127.0.0.1:{auth_port}", "smtpd_soft_error_limit": "100",
            "smtpd_banner": "$myhostname ESMTP",
            "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"}


def warnings(maillog, name):
    return [line.split("]: ", 1)[1] for line in maillog.splitlines()
            if f" {name}/smtpd[" in line and re.search(r"\]: (warning: |\w+: client=)", line)]


def test_auth_replies_match_postfix(dovecot, make_postfix, config_dir, run_twistd):  # noqa: F811
    values = settings(dovecot.auth_port)
    pf = make_postfix("discard", hostname="mx.example.test", main_extra=dict(values))
    theirs = [converse_items(pf.port, d) for d in DIALOGUES]

    port = start_smtpd(config_dir, run_twistd, values)
    ours = [converse_items(port, d) for d in DIALOGUES]
    queued = re.compile(r"queued as \w+")
    ours, theirs = ([[[queued.sub("queued as QID", line) for line in r] for r in x] for x in side]
                    for side in (ours, theirs))
    differ = [(cmd, o, t) for d, os_, ts in zip(DIALOGUES, ours, theirs)
              for cmd, o, t in zip(["(greeting)", *d], os_, ts) if o != t]
    assert differ == [], "(command, pfx, Postfix)"
    ours_w, theirs_w = warnings(config_dir.log_text(), "pfx"), warnings(open(pf.maillog).read(), "postfix")
    theirs_w = [re.sub(r"^\w{10,}: client=", "QID: client=", w) for w in theirs_w]
    ours_w = [re.sub(r"^\w{10,}: client=", "QID: client=", w) for w in ours_w]
    assert ours_w == theirs_w
