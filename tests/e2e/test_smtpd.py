"""smtpd as a process: ``twistd -n pfx -c DIR`` with an smtpd row and a test IMailSubmitter,
driven by Python's smtplib, swaks (plain, pipelining, STARTTLS) and smtp-source."""

import json
import smtplib
import socket
import socketserver
import subprocess
import threading
import time

import pytest

from tests.conftest import ConfigDir, free_port, pfx_command, pfx_env, twistd_command, wait_for_port

pytestmark = pytest.mark.e2e


def free_port6():
    """A free port on ::1, or None when this host has no IPv6 loopback."""
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            return s.getsockname()[1]
    except OSError:
        return None


class PolicyHandler(socketserver.StreamRequestHandler):
    """A tiny policy server: rejects recipient nope@..., says DUNNO to everything else."""

    def handle(self):
        while True:
            attrs = {}
            for line in self.rfile:
                line = line.decode().rstrip("\n")
                if not line:
                    break
                name, _, value = line.partition("=")
                attrs[name] = value
            if not attrs:
                return
            action = "REJECT policy says no" if attrs.get("recipient", "").startswith("nope@") else "DUNNO"
            self.wfile.write(f"action={action}\n\n".encode())


@pytest.fixture(scope="module")
def policy_port():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), PolicyHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def mx(tmp_path_factory, policy_port):
    """One pfx with smtpd on a free port, STARTTLS with a fresh self-signed certificate."""
    path = tmp_path_factory.mktemp("smtpd")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(path / "key.pem"), "-out", str(path / "cert.pem"), "-days", "1",
                    "-subj", "/CN=mx.example.test"], check=True, capture_output=True)
    port, limited, capped, wrapped = free_port(), free_port(), free_port(), free_port()
    v6 = free_port6()
    cfg = ConfigDir(path)
    cfg.write(main_extra=(
        "mynetworks = 192.0.2.0/24\nmessage_size_limit = 20000000\n"  # so that 127.0.0.1 is an outsider: relaying is refused
        "mydestination = mx.example.test, localhost\n"
        "recipient_delimiter = +\n"
        "local_recipient_maps = inline:{ bob=1, r=1, sink=1, nope=1 }\n"
        "smtpd_recipient_restrictions = check_recipient_access inline:{ { blocked@mx.example.test = REJECT go away } },"
        f" check_policy_service inet:127.0.0.1:{policy_port}\n"
        f"test_submit_directory = {path}/received\n"
        "smtpd_tls_security_level = may\nsmtpd_tls_loglevel = 1\nsmtpd_tls_received_header = yes\n"
        f"smtpd_tls_cert_file = {path}/cert.pem\nsmtpd_tls_key_file = {path}/key.pem\n"),
        master=("dirsubmit unix - - n - - dirsubmit\n"
                f"127.0.0.1:{port} inet n - n - - smtpd\n"
                f"127.0.0.1:{limited} inet n - n - - smtpd\n  -o smtpd_client_connection_count_limit=1\n"
                f"127.0.0.1:{capped} inet n - n - 1 smtpd\n"
                f"127.0.0.1:{wrapped} inet n - n - - smtpd\n  -o smtpd_tls_wrappermode=yes\n"
                + (f"[::1]:{v6} inet n - n - - smtpd\n" if v6 else "")))
    proc = subprocess.Popen(twistd_command(path), env=pfx_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, proc=proc)
        cfg.port, cfg.limited, cfg.capped, cfg.wrapped, cfg.v6 = port, limited, capped, wrapped, v6
        cfg.received = path / "received"
        yield cfg
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()


def stored(mx, qid):
    body = (mx.received / f"{qid}.msg").read_bytes()
    env = json.loads((mx.received / f"{qid}.env").read_text())
    return body, env


def test_smtplib_message_is_queued_with_received_header(mx):
    with smtplib.SMTP("127.0.0.1", mx.port, local_hostname="client.example.org") as s:
        code, text = s.ehlo()
        assert code == 250 and b"PIPELINING" in text and b"STARTTLS" in text
        s.mail("alice@example.org")
        s.rcpt("bob@mx.example.test")
        code, text = s.data(b"Subject: hello\r\n\r\nline one\r\n.leading dot\r\n")
    assert code == 250
    assert text.startswith(b"2.0.0 Ok: queued as ")
    qid = text.decode().rsplit(" ", 1)[1]
    body, env = stored(mx, qid)
    assert body.startswith(f"Received: from client.example.org (localhost [127.0.0.1])\n"
                           f"\tby mx.example.test (pfx) with ESMTP id {qid}\n"
                           f"\tfor <bob@mx.example.test>; ".encode())
    assert body.endswith(b"Subject: hello\r\n\r\nline one\r\n.leading dot\r\n")
    assert env["sender"] == "alice@example.org"
    assert [r["address"] for r in env["recipients"]] == ["bob@mx.example.test"]
    mx.wait_for_log(f"{qid}: client=localhost[127.0.0.1]")
    mx.wait_for_log("disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5")


def test_ipv6_listener(mx):
    if not mx.v6:
        pytest.skip("no IPv6 loopback")
    with smtplib.SMTP("::1", mx.v6, local_hostname="client.example.org") as s:
        s.ehlo()
        s.mail("alice@example.org")
        s.rcpt("bob@mx.example.test")
        code, text = s.data(b"Subject: six\r\n\r\nx\r\n")
    assert code == 250
    body, env = stored(mx, text.decode().rsplit(" ", 1)[1])
    assert env["client"]["addr"] == "::1"
    assert b" [IPv6:::1])\n" in body.split(b"\n\tby", 1)[0] + b"\n"


def test_smtplib_relay_refused_and_logged(mx):
    with smtplib.SMTP("127.0.0.1", mx.port, local_hostname="client.example.org") as s:
        s.ehlo()
        s.mail("alice@example.org")
        assert s.rcpt("x@elsewhere.example") == (454, b"4.7.1 <x@elsewhere.example>: Relay access denied")
        assert s.rcpt("x%elsewhere.example@mx.example.test")[0] == 454
        assert s.rcpt("nobody@mx.example.test") == (
            550, b"5.1.1 <nobody@mx.example.test>: Recipient address rejected: User unknown in local recipient table")
        assert s.rcpt("blocked@mx.example.test") == (
            554, b"5.7.1 <blocked@mx.example.test>: Recipient address rejected: go away")
        assert s.rcpt("nope@mx.example.test") == (
            554, b"5.7.1 <nope@mx.example.test>: Recipient address rejected: policy says no")
        assert s.rcpt("bob+tempfail@mx.example.test")[0] == 250
        code, text = s.data(b"Subject: x\r\n\r\nx\r\n")
        assert (code, text) == (451, b"4.3.0 Error: queue file write error")
    mx.wait_for_log("NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 454 4.7.1 <x@elsewhere.example>: "
                    "Relay access denied; from=<alice@example.org> to=<x@elsewhere.example> proto=ESMTP "
                    "helo=<client.example.org>")


def swaks(mx, *args):
    return subprocess.run(["swaks", "--server", f"127.0.0.1:{mx.port}", "--helo", "swaks.example.org",
                           "--from", "s@example.org", "--to", "r@mx.example.test", "--timeout", "10", *args],
                          capture_output=True, text=True, timeout=30)


def test_swaks_pipelining(mx):
    out = swaks(mx, "--pipeline").stdout
    assert " -> MAIL FROM:<s@example.org>\n -> RCPT TO:<r@mx.example.test>\n -> DATA\n" in out
    assert "<-  250 2.1.0 Ok\n<-  250 2.1.5 Ok\n<-  354 End data with <CR><LF>.<CR><LF>" in out
    assert "<-  250 2.0.0 Ok: queued as " in out


def test_swaks_starttls(mx):
    result = swaks(mx, "--tls")
    out = result.stdout
    assert "<-  220 2.0.0 Ready to start TLS" in out, out + result.stderr
    assert "=== TLS started with cipher" in out
    qid = out.split("Ok: queued as ")[1].split()[0]
    body, env = stored(mx, qid)
    assert body.startswith(b"Received: from swaks.example.org (localhost [127.0.0.1])\n\t(using TLSv1.")
    assert b" bits))\n\t(No client certificate requested)\n\tby mx.example.test (pfx) with ESMTPS id " in body
    mx.wait_for_log("Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.")
    assert env["client"]["protocol"] == "ESMTPS"
    mx.wait_for_log("disconnect from localhost[127.0.0.1] ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7")


def test_swaks_ten_megabyte_attachment(mx, tmp_path):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * (10 * 1024 * 1024 // 256))
    out = swaks(mx, "--attach", f"@{blob}", "--pipeline").stdout
    qid = out.split("Ok: queued as ")[1].split()[0]
    body, _ = stored(mx, qid)
    assert len(body) > 13_000_000  # base64 of 10 MiB, line by line


def test_swaks_wrappermode(mx):
    result = subprocess.run(["swaks", "--server", f"127.0.0.1:{mx.wrapped}", "--tlsc", "--helo", "w.example.org",
                             "--from", "s@example.org", "--to", "r@mx.example.test", "--timeout", "10"],
                            capture_output=True, text=True, timeout=30)
    out = result.stdout
    assert "=== TLS started with cipher" in out, out + result.stderr
    assert "250-STARTTLS" not in out
    qid = out.split("Ok: queued as ")[1].split()[0]
    body, env = stored(mx, qid)
    assert b"\tby mx.example.test (pfx) with ESMTPS id " in body


def test_smtp_source_load(mx):
    before = len(list(mx.received.glob("*.msg")))
    subprocess.run(["smtp-source", "-s", "5", "-m", "50", "-l", "2000", "-f", "load@example.org",
                    "-t", "sink@mx.example.test", f"127.0.0.1:{mx.port}"], check=True, timeout=60)
    assert len(list(mx.received.glob("*.msg"))) == before + 50


def banner(sock, timeout=5.0):
    sock.settimeout(timeout)
    try:
        return sock.recv(1024)
    except socket.timeout:
        return b""


def test_connection_count_limit_per_client(mx):
    with socket.create_connection(("127.0.0.1", mx.limited)) as first:
        assert banner(first).startswith(b"220 ")
        with socket.create_connection(("127.0.0.1", mx.limited)) as second:
            assert banner(second) == b"421 4.7.0 mx.example.test Error: too many connections from 127.0.0.1\r\n"


def test_maxproc_holds_new_connections_until_one_ends(mx):
    first = socket.create_connection(("127.0.0.1", mx.capped))
    assert banner(first).startswith(b"220 ")
    with socket.create_connection(("127.0.0.1", mx.capped)) as second:
        assert banner(second, 0.5) == b""  # waiting in the listen queue, not refused
        first.sendall(b"QUIT\r\n")
        assert banner(first) == b"221 2.0.0 Bye\r\n"
        first.close()
        assert banner(second).startswith(b"220 ")


def test_bad_certificate_path_stops_start_up(tmp_path):
    cfg = ConfigDir(tmp_path)
    cfg.write(main_extra=f"smtpd_tls_security_level = may\nsmtpd_tls_cert_file = {tmp_path}/missing.pem\n",
              master=f"127.0.0.1:{free_port()} inet n - n - - smtpd\n")
    proc = subprocess.run(twistd_command(tmp_path), env=pfx_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "smtpd_tls_cert_file" in proc.stdout + proc.stderr + cfg.log_text()


def test_with_the_real_cleanup(config_dir, run_twistd):
    """smtpd in front of pfx's own cleanup: the queue file holds our envelope and Received header,
    and a client that drops the connection mid-DATA leaves no file behind."""
    port = free_port()
    config_dir.write(main_extra="mydestination = mx.example.test\nlocal_recipient_maps =\n",
                     master="cleanup unix n - n - 0 cleanup\n"
                            f"127.0.0.1:{port} inet n - n - - smtpd\n")
    proc = run_twistd(config_dir.path)
    wait_for_port(port, proc=proc)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.org") as s:
        s.ehlo()
        s.mail("alice@example.org", ["RET=HDRS"])
        s.rcpt("bob@mx.example.test", ["NOTIFY=FAILURE"])
        code, text = s.data(b"Subject: real\r\n\r\nbody\r\n")
    assert code == 250
    qid = text.decode().rsplit(" ", 1)[1]
    incoming = config_dir.path / "var" / "spool" / "incoming"
    assert [p.name for p in incoming.iterdir()] == [qid]
    shown = subprocess.run([*pfx_command("postcat", "-c", str(config_dir.path), "-q", qid)], env=pfx_env(),
                           capture_output=True, text=True, timeout=30).stdout
    assert "sender: alice@example.org" in shown and "recipient: bob@mx.example.test" in shown
    assert f"Received: from client.example.org (localhost [127.0.0.1])\n\tby mx.example.test (pfx) with ESMTP " \
           f"id {qid}\n\tfor <bob@mx.example.test>; " in shown
    config_dir.wait_for_log(f"pfx/cleanup[")

    with socket.create_connection(("127.0.0.1", port)) as raw:
        banner(raw)
        raw.sendall(b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@mx.example.test>\r\nDATA\r\n")
        reply = b""
        while b"354 " not in reply:
            reply += raw.recv(1024)
        raw.sendall(b"Subject: cut short\r\n\r\nhalf a bo")
    config_dir.wait_for_log("lost connection after DATA from localhost[127.0.0.1]")
    deadline = time.monotonic() + 5  # cleanup removes the file off the reactor thread
    while len(list(incoming.iterdir())) > 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p.name for p in incoming.iterdir()] == [qid]


def test_port_in_use_stops_start_up(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = ConfigDir(tmp_path)
        cfg.write(master=f"127.0.0.1:{port} inet n - n - - smtpd\n")
        proc = subprocess.run(twistd_command(tmp_path), env=pfx_env(), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert f"pfx/smtpd: fatal: bind 127.0.0.1 port {port}: " in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
