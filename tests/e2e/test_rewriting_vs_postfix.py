"""Address rewriting in cleanup against a private Postfix 3.7 and against pfx: the same
main.cf (canonical, recipient_canonical, masquerading, virtual aliases), the same SMTP
message, held in the hold queue by an access HOLD; then the envelope addresses and the
rewritten headers postcat shows must be the same.

Known difference (whitespace only, compared without it): Postfix re-externalizes a
rewritten address header from its tokens (tok822_externalize: ``<a@b>(comment)``, no
space before a comment) and refolds it at 78 columns (cleanup_fold_header); pfx keeps
the header's own spacing and folding and replaces only the addresses.

Skipped when Postfix cannot be started (not root, not installed).
"""

import glob
import os
import re
import smtplib
import subprocess
import sys
import time

import pytest

from tests.support.dialogue import start_smtpd
from tests.support.peers.fixtures import make_postfix  # noqa: F401

pytestmark = pytest.mark.e2e

SETTINGS = {
    "mynetworks": "127.0.0.0/8", "mydestination": "mx.example.test, example.com", "local_recipient_maps": "",
    "smtpd_peername_lookup": "no", "myorigin": "example.com", "mydomain": "example.com",
    "canonical_maps": "inline:{ joe@host.example.com=Joe.Public@example.com, @old.example=@new.example }",
    "recipient_canonical_maps": "inline:{ ann@example.com=annie@example.com }",
    "masquerade_domains": "example.com", "masquerade_exceptions": "root",
    "virtual_alias_maps": "inline:{ { list@example.com = a@x.example, b@x.example }, "
                          "list2@example.com=list@example.com }",
    "smtpd_client_restrictions": "check_client_access inline:{ 127.0.0.1=HOLD }",
    "local_header_rewrite_clients": "static:all",
}
RCPTS = ["ann@example.com", "list2@example.com", "someone@sub.example.com", "a@x.example"]
MESSAGE = ("From: \"Joe Q.\" <joe@host.example.com> (the man)\r\n"
           "To: ann, bob@sub.example.com,\r\n\tfriends: c@old.example, \"d x\"@old.example;, root@host.example.com\r\n"
           "Cc: undisclosed-recipients:;\r\nReply-To: <@route.example:joe@host.example.com>\r\n"
           "Sender: joe\r\nSubject: rewrite\r\n\r\nbody\r\n")


def send(port):
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as client:
        client.ehlo("c.example")
        client.mail("joe@host.example.com")
        for rcpt in RCPTS:
            client.rcpt(rcpt)
        return client.data(MESSAGE.encode())[0]


def held(spool, postcat):
    deadline = time.monotonic() + 10
    while not (files := glob.glob(os.path.join(spool, "hold", "*"))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(files) == 1
    out = subprocess.run([*postcat, files[0]], capture_output=True, text=True, check=True).stdout.splitlines()
    # (original recipient, recipient); Postfix writes an original_recipient record even
    # when it equals the recipient, pfx only when it differs
    envelope, orig = [], None
    for line in out:
        if line.startswith("sender:"):
            envelope.append(line)
        elif line.startswith("original_recipient:"):
            orig = line.split(": ", 1)[1]
        elif line.startswith("recipient:"):
            rcpt = line.split(": ", 1)[1]
            envelope.append((orig or rcpt, rcpt))
            orig = None
    start = next(i for i, line in enumerate(out) if line.startswith("*** MESSAGE CONTENTS"))
    headers = []  # logical headers, without the ones that name the MTA, queue id or time
    for line in out[start + 1:]:
        if not line:
            break
        if line.startswith(("\t", " ")):
            headers[-1] += "\n" + line
        else:
            headers.append(line)
    return envelope, [h for h in headers if h.split(":")[0] not in ("Received", "Message-Id", "Date")]


def test_rewritten_envelope_and_headers_match_postfix(make_postfix, config_dir, run_twistd):  # noqa: F811
    pf = make_postfix("discard", hostname="mx.example.test", main_extra=dict(SETTINGS))
    assert send(pf.port) == 250
    theirs = held(pf.spool, ["/usr/sbin/postcat", "-c", str(pf.etc)])

    port = start_smtpd(config_dir, run_twistd, SETTINGS)
    assert send(port) == 250
    ours = held(str(config_dir.path / "var" / "spool"),
                [sys.executable, "-m", "pfx.cli.main", "-c", str(config_dir.path), "postcat"])
    assert ours[0] == theirs[0]  # envelope
    assert [re.sub(r"\s+", "", h) for h in ours[1]] == [re.sub(r"\s+", "", h) for h in theirs[1]]
    same = [h for h in theirs[1] if not h.startswith(("From:", "To:"))]  # the known difference
    assert [h for h in ours[1] if not h.startswith(("From:", "To:"))] == same
