"""The same SMTP dialogue against a private Postfix 3.7 and against pfx: the replies must match.

Both run with the same identity, networks, domains and restrictions; only the queue ids
are normalised. Skipped when Postfix cannot be started (not root, not installed).

Known difference, left out of the dialogue (it lives in pfx.smtp): Postfix 3.7 treats a
BDAT refused for want of RCPT as the start of a failed BDAT transaction (a later MAIL
gets "503 5.5.1 Error: MAIL after BDAT" and BDATs "551 5.0.0 Discarded N bytes" until
BDAT LAST); pfx answers each such BDAT on its own.
"""

import re

import pytest

from tests.support.dialogue import converse_items, start_smtpd
from tests.support.peers.fixtures import make_postfix  # noqa: F401

pytestmark = pytest.mark.e2e

SETTINGS = {
    "smtpd_banner": "$myhostname ESMTP",
    "mynetworks": "192.0.2.0/24",
    "mydestination": "mx.example.test",
    "relay_domains": "relay.example",
    "local_recipient_maps": "",
    "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
    "smtpd_recipient_restrictions": "reject_non_fqdn_recipient, reject_invalid_helo_hostname",
    "smtpd_peername_lookup": "no",
    "smtpd_forbid_bare_newline": "normalize",
    "smtpd_soft_error_limit": "100",  # no error sleep: the dialogue makes many errors on purpose
}

# (pfx, Postfix 3.7.11) reply pairs that differ on purpose or are known, each with its owner.
KNOWN = {
    ("500 5.5.2 Error: command not recognized", "500 5.5.2 Error: command not recognized"):
        "pfx.smtp.replies.NOT_RECOGNIZED says 502 (POSTFIX-FEATURES IN-4 too); Postfix 3.7 sends 500",
    ("501 5.5.4 Syntax: ETRN domain", "500 Syntax: ETRN domain"):
        "pfx.smtp's deliberate choice (replies.SYNTAX_ETRN): a syntax error is 501 with a status code",
}

# One reply is read after each item: text gets CRLF added, bytes go as they are (BDAT chunks).
DIALOGUE = [
    "EHLO client.example.org",
    "HELO",
    "RCPT TO:<a@mx.example.test>",
    "DATA",
    "MAIL FROM:<a@example.org> FOO=bar",
    "MAIL FROM:<a@example.org> BODY=8BITMIME",
    "MAIL FROM:<b@example.org>",
    "RCPT TO:<x@elsewhere.example>",
    "RCPT TO:<u%elsewhere.example@mx.example.test>",
    "RCPT TO:<elsewhere.example!u@mx.example.test>",
    "RCPT TO:<user>",
    "RCPT TO:<u@mx.example.test> NOTIFY=BOGUS",
    "RCPT TO:<u@mx.example.test> ORCPT=rfc822;u@mx.example.test NOTIFY=SUCCESS,FAILURE",
    "RCPT TO:<u@relay.example>",
    "VRFY u@mx.example.test",
    "NOOP",
    "DATA",
    "Subject: compared\r\n\r\n..dot\r\nbody\r\n.",
    "RSET",
    "MAIL FROM:<>",
    "RCPT TO:<u@mx.example.test>",
    b"BDAT 5\r\nhello",
    b"BDAT 8 LAST\r\n world\r\n",
    "DATA",
    "BOGUS command",
    "STARTTLS",
    "ETRN",
    # Last: Postfix keeps a refused SIZE for later MAIL commands of the session.
    "MAIL FROM:<a@example.org> SIZE=99999999",
    "QUIT",
]


def converse(port):
    text = "\n".join("\n".join(r) for r in converse_items(port, DIALOGUE))
    return re.sub(r"queued as [0-9A-Za-z]+", "queued as QID", text).split("\n")



def test_replies_match_postfix(make_postfix, config_dir, run_twistd):  # noqa: F811
    pf = make_postfix("discard", hostname="mx.example.test", main_extra=dict(SETTINGS))
    theirs = converse(pf.port)

    port = start_smtpd(config_dir, run_twistd, SETTINGS)
    ours = converse(port)
    assert len(ours) == len(theirs)
    differ = [(o, t) for o, t in zip(ours, theirs) if o != t and (o, t) not in KNOWN]
    assert differ == [], "(pfx, Postfix)"

    config_dir.wait_for_log("disconnect from unknown[127.0.0.1] helo=")  # the dialogue's, not a probe's
    assert smtpd_lines(config_dir.log_text(), "pfx") == smtpd_lines(open(pf.maillog).read(), "postfix")


# The lines of the port probes (wait_for_port's, and the peer module's QUIT), which may
# interleave with the dialogue's.
_PROBE = re.compile(r"^(connect from |lost connection after CONNECT |"
                    r"disconnect from \S+ (commands=0|quit=1 commands=1)$)")


def smtpd_lines(maillog, name):
    """The smtpd lines of the dialogue, queue ids replaced."""
    lines = [line.split("]: ", 1)[1] for line in maillog.splitlines() if f" {name}/smtpd[" in line]
    lines = [re.sub(r"^[0-9A-Za-z]{10,}:", "QID:", line) for line in lines if not _PROBE.match(line)]
    return lines
