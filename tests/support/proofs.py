"""Helpers for the end-to-end proofs (tests/e2e/test_proof_*.py): a whole pfx behind smtpd.

``FULL_MASTER`` is every built-in row the proofs route through; ``start_pfx`` writes the
configuration, starts ``twistd -n pfx -c DIR`` and waits for its SMTP port; ``submit``
submits one message with smtplib and returns its queue id; ``wait_for`` polls.
"""

import os
import re
import shutil
import smtplib
import tempfile
import time

from tests.conftest import free_port, wait_for_port

FULL_MASTER = """\
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
smtp      unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       lmtp
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
discard   unix  -       -       n       -       -       discard
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       retry
"""


def start_pfx(config_dir, run_twistd, main_extra="", master_extra=""):
    """Write main.cf/master.cf (FULL_MASTER + smtpd + ``master_extra``), start twistd,
    wait for SMTP. Returns (proc, port)."""
    port = free_port()
    config_dir.write(main_extra=main_extra,
                     master=FULL_MASTER + f"127.0.0.1:{port} inet n - n - - smtpd\n"
                     + master_extra)
    proc = run_twistd(config_dir.path)
    try:
        wait_for_port(port, proc=proc)
    except AssertionError:
        out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else ""
        raise AssertionError(f"pfx did not start:\n{out}\n{config_dir.log_text()}")
    return proc, port


def submit(port, sender, recipients, message: bytes, helo="client.example.org"):
    """One SMTP transaction with the DATA reply kept -> queue id."""
    with smtplib.SMTP("127.0.0.1", port, local_hostname=helo, timeout=30) as s:
        s.ehlo()
        code, text = s.mail(sender)
        assert code == 250, (code, text)
        for r in recipients:
            code, text = s.rcpt(r)
            assert code in (250, 251), (r, code, text)
        code, text = s.data(message)
        assert code == 250, (code, text)
    m = re.search(r"queued as (\w+)", text.decode())
    assert m, text
    return m.group(1)


def wait_for(predicate, timeout=15.0, what="condition", interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_count(config_dir, needle, count, timeout=20.0):
    """Until ``needle`` occurs ``count`` times in the maillog (regex when compiled)."""
    def n():
        text = config_dir.log_text()
        found = (len(needle.findall(text)) if hasattr(needle, "findall")
                 else text.count(needle))
        return found >= count
    try:
        wait_for(n, timeout, repr(needle))
    except AssertionError:
        raise AssertionError(f"{needle!r} not {count} times in maillog:\n"
                             f"{config_dir.log_text()[-5000:]}") from None


class SharedDir:
    """A directory under /tmp that other users (nobody) can reach: pytest's tmp_path is
    0700 root's, which the recipient's ids in the privileged helper cannot traverse."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="pfxproof-", dir="/tmp")
        os.chmod(self.path, 0o755)

    def sub(self, name, mode=0o755, owner=None):
        path = os.path.join(self.path, name)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)
        if owner is not None:
            os.chown(path, *owner)
        return path

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)
