"""smtpd's access(5) HOLD, BCC and PREPEND reach cleanup through twistd: the message is
held with the added recipient and the prepended header, and smtpd logs as Postfix."""

import re
import smtplib
import subprocess

import pytest

from tests.conftest import free_port, pfx_command, pfx_env, wait_for_port

pytestmark = pytest.mark.e2e


def test_hold_bcc_prepend_from_check_recipient_access(config_dir, run_twistd):
    port = free_port()
    config_dir.write(main_extra=(
        "mydestination = mx.example.test\nlocal_recipient_maps =\n"
        "smtpd_recipient_restrictions = check_recipient_access inline:{ "
        "{ bob@mx.example.test = HOLD }, { carol@mx.example.test = BCC copy@mx.example.test } }, "
        "check_recipient_access inline:{ { bob@mx.example.test = PREPEND X-Access: seen } }\n"),
        master="cleanup unix n - n - 0 cleanup\n"
               f"127.0.0.1:{port} inet n - n - - smtpd\n")
    proc = run_twistd(config_dir.path)
    wait_for_port(port, proc=proc)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org") as s:
        s.ehlo()
        s.mail("alice@example.org")
        assert s.rcpt("bob@mx.example.test")[0] == 250
        assert s.rcpt("carol@mx.example.test")[0] == 250
        code, text = s.data(b"Subject: held\r\n\r\nbody\r\n")
    assert code == 250
    qid = text.decode().rsplit(" ", 1)[1]
    config_dir.wait_for_log(f"{qid}: message-id=")
    log = config_dir.log_text()
    assert re.search(r"pfx/smtpd\[\d+\]: NOQUEUE: hold: RCPT from localhost\[127\.0\.0\.1\]: "
                     r"<bob@mx\.example\.test>: Recipient address triggers HOLD action; "
                     r"from=<alice@example\.org> to=<bob@mx\.example\.test> proto=ESMTP "
                     r"helo=<client\.example\.org>", log)
    shown = subprocess.run([*pfx_command("postcat", "-c", str(config_dir.path), "-q", qid)],
                           env=pfx_env(), capture_output=True, text=True, timeout=30)
    out = shown.stdout
    assert "X-Access: seen" in out
    assert "copy@mx.example.test" in out
    queue = subprocess.run([*pfx_command("postqueue", "-c", str(config_dir.path), "-p")],
                           env=pfx_env(), capture_output=True, text=True, timeout=30).stdout
    assert f"{qid}!" in queue  # mailq marks held mail with "!"
