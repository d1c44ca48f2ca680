"""Issue 7 audit: an alias that expands to several members is logged as local(8) logs it,
one line per final delivery with orig_to=<the alias>; a bounced member gets its own
line and its own entry in the non-delivery notice; pflogsumm counts each delivery.

Run as root (local delivery to nobody, daemon and root through the privileged helper).
"""

import mailbox
import os
import re
import shutil
import subprocess

import pytest

from tests.e2e.test_proof_local import BODY, HOST, local_main, message, postalias
from tests.support.proofs import SharedDir, start_pfx, submit, wait_for

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(os.geteuid() != 0, reason="local delivery to other "
                                 "users (nobody, daemon) needs root")]

SENDER = f"root@{HOST}"
STAFF = f"staff@{HOST}"


@pytest.fixture
def shared():
    d = SharedDir()
    yield d
    d.cleanup()


def test_alias_members_are_logged_bounced_and_counted(config_dir, run_twistd, shared):
    spool = shared.sub("mail", 0o1777)
    aliases = config_dir.path / "aliases"
    aliases.write_text("staff: nobody, daemon, ghost\n")
    postalias(config_dir, aliases)
    _, port = start_pfx(config_dir, run_twistd, local_main(
        spool, f"myorigin = {HOST}\nalias_maps = hash:{aliases}\n"))
    qid = submit(port, SENDER, [STAFF], message("staff", BODY, "st-1"))
    config_dir.wait_for_log(f"{qid}: removed")
    box = os.path.join(spool, "root")  # the notice to the sender
    wait_for(lambda: os.path.exists(box) and len(mailbox.mbox(box)) == 1, what="the bounce")
    log = config_dir.log_text()
    lines = [ln.split(": ", 1)[1] for ln in log.splitlines()
             if re.search(rf"pfx/local\[\d+\]: {qid}: to=", ln)]
    delays = r"delay=[\d.]+, delays=[\d.]+/[\d.]+/0/[\d.]+"
    want = [rf"{qid}: to=<nobody@{HOST}>, orig_to=<{STAFF}>, relay=local, {delays}, "
            r"dsn=2\.0\.0, status=sent \(delivered to mailbox\)",
            rf"{qid}: to=<daemon@{HOST}>, orig_to=<{STAFF}>, relay=local, {delays}, "
            r"dsn=2\.0\.0, status=sent \(delivered to mailbox\)",
            rf"{qid}: to=<ghost@{HOST}>, orig_to=<{STAFF}>, relay=local, {delays}, "
            r"dsn=5\.1\.1, status=bounced \(unknown user: \"ghost\"\)"]
    assert len(lines) == 3 and all(re.fullmatch(w, ln) for w, ln in zip(want, lines)), log
    for user in ("nobody", "daemon"):
        assert len(mailbox.mbox(os.path.join(spool, user))) == 1

    [notice] = list(mailbox.mbox(box))
    text = notice.as_string()
    assert f"<ghost@{HOST}> (expanded from <{STAFF}>): unknown user:" in text, text
    assert f"Final-Recipient: rfc822; ghost@{HOST}" in text
    assert f"Original-Recipient: rfc822; {STAFF}" in text
    assert "nobody@" not in text.split("Subject: staff")[0]  # only the bounced member

    if shutil.which("pflogsumm") is None:
        return
    out = subprocess.run(["pflogsumm", "--syslog-name=pfx", str(config_dir.maillog)],
                         capture_output=True, text=True, check=True).stdout
    counts = dict((m.group(2), int(m.group(1)))
                  for m in re.finditer(r"^\s+(\d+)\s+(delivered|deferred|bounced)\b", out,
                                       re.M))
    # nobody, daemon, and the notice to root; ghost bounced
    assert (counts["delivered"], counts["bounced"]) == (3, 1), out


def test_a_deferred_member_keeps_the_alias_queued(config_dir, run_twistd, shared):
    spool = shared.sub("mail", 0o1777)
    aliases = config_dir.path / "aliases"
    aliases.write_text(f"later: nobody, :include:{shared.path}/missing.list\n")
    postalias(config_dir, aliases)
    _, port = start_pfx(config_dir, run_twistd, local_main(
        spool, f"myorigin = {HOST}\nalias_maps = hash:{aliases}\n"))
    qid = submit(port, SENDER, [f"later@{HOST}"], message("later", BODY, "lt-1"))
    config_dir.wait_for_log(f"{qid}: to=<later@{HOST}>")
    log = config_dir.log_text()
    assert re.search(rf"{qid}: to=<nobody@{HOST}>, orig_to=<later@{HOST}>, relay=local, "
                     r".*dsn=2\.0\.0, status=sent \(delivered to mailbox\)", log), log
    assert re.search(rf"{qid}: to=<later@{HOST}>, relay=local, .*dsn=4\.3\.0, "
                     r"status=deferred \(cannot open include file ", log), log
    deferred = config_dir.path / "var" / "spool" / "deferred"
    wait_for(lambda: any(qid in names for _, _, names in os.walk(deferred)),
             what="the deferred file")
    assert f"{qid}: removed" not in config_dir.log_text()
