"""smtpd -> cleanup as a process: header_checks REJECT reaches the client at end of DATA,
virtual aliases expand into the queue file."""

import re
import smtplib
import subprocess

import pytest

from tests.conftest import free_port, pfx_command, pfx_env, wait_for_port

pytestmark = pytest.mark.e2e


def test_header_checks_reject_and_virtual_alias(config_dir, run_twistd, tmp_path):
    (tmp_path / "header_checks").write_text("/^Subject: .*forbidden/ REJECT No thanks\n")
    port = free_port()
    config_dir.write(main_extra=(
        "mydestination = mx.example.test\nlocal_recipient_maps =\n"
        f"header_checks = regexp:{tmp_path}/header_checks\n"
        "virtual_alias_domains = virt.example.test\n"
        "virtual_alias_maps = inline:{ {list@virt.example.test = a@mx.example.test, "
        "b@mx.example.test} }\n"),
        master="cleanup unix n - n - 0 cleanup\n"
               f"127.0.0.1:{port} inet n - n - - smtpd\n")
    proc = run_twistd(config_dir.path)
    wait_for_port(port, proc=proc)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org") as s:
        s.ehlo()
        s.mail("alice@example.org")
        s.rcpt("bob@mx.example.test")
        code, text = s.data(b"Subject: something forbidden\r\n\r\nbody\r\n")
        assert (code, text) == (550, b"5.7.1 No thanks")
        s.rset()
        s.mail("alice@example.org")
        code, text = s.rcpt("nobody@virt.example.test")
        assert code == 550 and b"User unknown in virtual alias table" in text
        s.rcpt("list@virt.example.test")
        code, text = s.data(b"Subject: fine\r\n\r\nbody\r\n")
    assert code == 250
    qid = text.decode().rsplit(" ", 1)[1]
    config_dir.wait_for_log("5.7.1 No thanks")
    log = config_dir.log_text()
    assert re.search(r"pfx/cleanup\[\d+\]: \w+: reject: header Subject: something forbidden "
                     r"from localhost\[127\.0\.0\.1\]; from=<alice@example\.org> "
                     r"to=<bob@mx\.example\.test> proto=ESMTP helo=<client\.example\.org>: "
                     r"5\.7\.1 No thanks", log)
    shown = subprocess.run([*pfx_command("postcat", "-c", str(config_dir.path), "-q", qid)],
                           env=pfx_env(), capture_output=True, text=True, timeout=30).stdout
    assert "recipient: a@mx.example.test" in shown and "recipient: b@mx.example.test" in shown
