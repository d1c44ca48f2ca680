"""Proof (issues 2 and 7): the example third-party agent (docs/examples/pfx_example_agent,
installed beside pfx) gets mail routed to it by a master.cf row and transport_maps, from
an SMTP client through smtpd, cleanup and qmgr to the file the agent writes."""

import re

import pytest

from tests.support.proofs import start_pfx, submit, wait_for

pytestmark = pytest.mark.e2e
pytest.importorskip("pfx_example_agent")

EXAMPLE_ROW = "example   unix  -       n       n       -       -       example\n"
BODY = (b"Subject: to the example agent\r\nMessage-ID: <ex-1@client.example.org>\r\n\r\n"
        b"first line\r\n.leading dot\r\nFrom the middle\r\nlast line\r\n")


@pytest.mark.parametrize("table", ["inline", "texthash"])
def test_example_agent_gets_mail_by_master_row_and_transport_maps(config_dir, run_twistd,
                                                                  tmp_path, table):
    out = tmp_path / "example-out"
    if table == "inline":
        # Postfix's spelling: "inline:{ example.test = example: }" is rejected by Postfix's
        # postmap too (missing '=' after attribute name): blanks separate entries
        maps = "inline:{ example.test=example: }"
    else:
        (tmp_path / "transport").write_text("example.test example:\n")
        maps = f"texthash:{tmp_path}/transport"
    _, port = start_pfx(config_dir, run_twistd,
                        main_extra=f"transport_maps = {maps}\n"
                                   f"example_directory = {out}\n"
                                   "relay_domains = example.test\n"
                                   "default_transport = error:5.7.1 not here\n",
                        master_extra=EXAMPLE_ROW)
    qid = submit(port, "alice@client.example.org",
                 ["bob@example.test", "carol@example.test"], BODY)
    written = out / qid
    wait_for(written.exists, what=f"{written}")
    data = written.read_bytes()
    head, _, body = data.partition(b"\n\n")
    lines = head.split(b"\n")
    assert lines[:3] == [b"X-Envelope-From: <alice@client.example.org>",
                         b"X-Envelope-To: <bob@example.test>",
                         b"X-Envelope-To: <carol@example.test>"]
    # the queued message: cleanup's Received header, then the client's headers as sent
    assert lines[3].startswith(b"Received: from client.example.org (localhost [127.0.0.1])")
    assert b"Subject: to the example agent" in lines
    assert b"Message-ID: <ex-1@client.example.org>" in lines
    assert body == b"first line\n.leading dot\nFrom the middle\nlast line\n"
    config_dir.wait_for_log(f"{qid}: removed")
    log = config_dir.log_text()
    for rcpt in ("bob@example.test", "carol@example.test"):
        assert re.search(rf"pfx/example\[\d+\]: {qid}: to=<{rcpt}>, relay=example, .*"
                         rf"dsn=2\.0\.0, status=sent \(written to {re.escape(str(written))}\)",
                         log), log
