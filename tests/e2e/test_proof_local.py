"""Proof (issue 7): on-host delivery end to end, SMTP in through smtpd, cleanup and qmgr to
local(8) and pipe(8) out, with ``twistd -n pfx`` as a process.

Run as root (as the suite is here), local(8) writes through its privileged helper as the
recipient; the recipients are users every Debian system has (nobody, daemon, root), with
mail_spool_directory and every target under a 0755 directory in /tmp (pytest's tmp_path
is 0700 root's and the recipients could not reach it). No system user is added.
"""

import fcntl
import mailbox
import os
import pwd
import re
import smtplib
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import pfx_command, pfx_env
from tests.support.proofs import SharedDir, start_pfx, submit, wait_for, wait_for_count

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(os.geteuid() != 0, reason="local delivery to other "
                                 "users (nobody, daemon) needs root")]

SENDER = "alice@client.example.org"
HOST = "mx.example.test"
NOBODY = pwd.getpwnam("nobody")
DAEMON = pwd.getpwnam("daemon")


@pytest.fixture
def shared():
    d = SharedDir()
    yield d
    d.cleanup()


def local_main(spool, extra=""):
    return (f"mydestination = {HOST}\n"
            f"mail_spool_directory = {spool}\n"
            "alias_maps =\n"
            "default_transport = error:5.7.1 no outbound mail in this test\n" + extra)


def message(subject, body: bytes, msgid):
    return (f"Subject: {subject}\r\nMessage-ID: <{msgid}@client.example.org>\r\n"
            f"From: Alice <{SENDER}>\r\n\r\n").encode() + body


BODY = (b"line one\r\n.a leading dot\r\nFrom here, a line mbox must quote\r\n"
        b"  indented \xc3\xa9 8bit\r\n\r\nlast line, no blank after\r\n")
BODY_LF = BODY.replace(b"\r\n", b"\n")


def split_delivered(data: bytes):
    """-> (header lines, body) of a delivered message with LF line ends."""
    head, _, body = data.partition(b"\n\n")
    return head.split(b"\n"), body


def local_headers(rcpt, orig=None, sender=SENDER):
    """The three lines local(8) prepends (mail_copy.c's order)."""
    return [f"Return-Path: <{sender}>".encode(), f"X-Original-To: {orig or rcpt}".encode(),
            f"Delivered-To: {rcpt}".encode()]


def check_queued_part(lines, qid, rcpt, subject):
    """After local(8)'s lines: cleanup's Received header, then the client's headers."""
    assert lines[0] == b"Received: from client.example.org (localhost [127.0.0.1])"
    assert lines[1] == f"\tby {HOST} (pfx) with ESMTP id {qid}".encode()
    assert lines[2].startswith(f"\tfor <{rcpt}>; ".encode()), lines[2]
    assert f"Subject: {subject}".encode() in lines
    assert f"From: Alice <{SENDER}>".encode() in lines


def test_smtp_to_maildir_byte_exact(config_dir, run_twistd, shared):
    spool = shared.sub("maildir", 0o1777)
    _, port = start_pfx(config_dir, run_twistd, local_main(spool + "/"))
    qid = submit(port, SENDER, [f"nobody@{HOST}"], message("maildir", BODY, "md-1"))
    config_dir.wait_for_log(f"{qid}: removed")
    new = os.path.join(spool, "nobody", "new")
    [name] = os.listdir(new)
    assert re.fullmatch(r"\d+\.M\d+P\d+Q\d+\.[\w.-]+", name), name
    assert os.listdir(os.path.join(spool, "nobody", "tmp")) == []
    path = os.path.join(new, name)
    assert os.stat(path).st_uid == NOBODY.pw_uid   # written as the recipient
    lines, body = split_delivered(open(path, "rb").read())
    assert lines[:3] == local_headers(f"nobody@{HOST}")
    check_queued_part(lines[3:], qid, f"nobody@{HOST}", "maildir")
    assert body == BODY_LF                          # byte-exact, no From_ quoting
    assert re.search(rf"pfx/local\[\d+\]: {qid}: to=<nobody@{HOST}>, relay=local, .*"
                     r"dsn=2\.0\.0, status=sent \(delivered to maildir\)", config_dir.log_text())


def test_smtp_to_mbox_byte_exact(config_dir, run_twistd, shared):
    spool = shared.sub("mail", 0o1777)
    _, port = start_pfx(config_dir, run_twistd, local_main(spool))
    qids = [submit(port, SENDER, [f"daemon@{HOST}"], message(f"mbox {i}", BODY, f"mb-{i}"))
            for i in range(2)]
    for qid in qids:
        config_dir.wait_for_log(f"{qid}: removed")
    path = os.path.join(spool, "daemon")
    assert os.stat(path).st_uid == DAEMON.pw_uid
    data = open(path, "rb").read()
    assert not os.path.exists(path + ".lock")
    quoted = BODY_LF.replace(b"\nFrom here", b"\n>From here")
    parts = data.split(b"\n\nFrom ")
    assert len(parts) == 2
    for i, part in enumerate(parts):
        text = part if i == 0 else b"From " + part
        first, _, rest = text.partition(b"\n")
        # From_ line: sender, two spaces, asctime()
        assert re.fullmatch(rb"From alice@client\.example\.org  \w{3} \w{3} [ \d]\d "
                            rb"\d\d:\d\d:\d\d \d{4}", first), first
        lines, body = split_delivered(rest)
        assert lines[:3] == local_headers(f"daemon@{HOST}")
        n = int(header(lines, "Subject")[0].split()[1])   # delivered in either order
        check_queued_part(lines[3:], qids[n], f"daemon@{HOST}", f"mbox {n}")
        # split() took the first message's final newline and mbox's blank line
        assert body == (quoted[:-1] if i == 0 else quoted + b"\n")
    # Python's mailbox module agrees there are two messages with these subjects
    assert sorted(m["Subject"] for m in mailbox.mbox(path)) == ["mbox 0", "mbox 1"]


def postalias(config_dir, aliases):
    done = subprocess.run(pfx_command("postalias", "-c", str(config_dir.path),
                                      f"hash:{aliases}"),
                          env=pfx_env(), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def mbox_messages(path):
    """Raw mbox split: [(From_ line, header lines, body)], body without the blank line
    mbox puts after every message."""
    data = open(path, "rb").read()
    assert data.startswith(b"From ") and data.endswith(b"\n\n"), data[-100:]
    out = []
    for part in data[:-1].split(b"\n\nFrom "):
        text = part if part.startswith(b"From ") else b"From " + part
        first, _, rest = text.partition(b"\n")
        lines, body = split_delivered(rest)
        out.append((first, lines, body + b"\n" if not body.endswith(b"\n") else body))
    return out


def header(lines, name):
    prefix = name.encode() + b": "
    return [ln[len(prefix):].decode() for ln in lines if ln.startswith(prefix)]


ALIASES = """\
# aliases(5), built with pfx postalias
team:     nobody, daemon
tofile:   {files}/tofile.mbox
tocmd:    "|{bin}/record.sh"
inc:      :include:{lists}/inc.list
nested:   team
loopa:    loopa@loop.test
"""

RECORD = """\
#!/bin/sh
# record the environment local(8) gives a command, and the message on stdin
umask 022
printf 'SENDER=%s\\nRECIPIENT=%s\\nORIGINAL_RECIPIENT=%s\\nUSER=%s\\nuid=%s\\n' \\
    "$SENDER" "$RECIPIENT" "$ORIGINAL_RECIPIENT" "$USER" "$(id -u)" > {out}/cmd.env
cat > {out}/cmd.msg
"""


def test_aliases_users_file_command_include(config_dir, run_twistd, shared):
    spool = shared.sub("mail", 0o1777)
    files, out = shared.sub("files", 0o1777), shared.sub("out", 0o1777)
    binary, lists = shared.sub("bin"), shared.sub("lists")
    with open(os.path.join(binary, "record.sh"), "w") as f:
        f.write(RECORD.format(out=out))
    os.chmod(os.path.join(binary, "record.sh"), 0o755)
    with open(os.path.join(lists, "inc.list"), "w") as f:
        f.write("# an :include: list\nroot\ndaemon\n")
    aliases = config_dir.path / "aliases"
    aliases.write_text(ALIASES.format(files=files, bin=binary, lists=lists))
    postalias(config_dir, aliases)
    _, port = start_pfx(config_dir, run_twistd, local_main(
        spool, f"alias_maps = hash:{aliases}\n"))
    rcpts = [f"{a}@{HOST}" for a in ("team", "tofile", "tocmd", "inc", "nested")]
    qid = submit(port, SENDER, rcpts, message("aliases", BODY, "al-1"))
    # local_recipient_maps (passwd + alias_maps) agrees with local(8): aliases were
    # accepted above, a name in neither is refused at RCPT
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo()
        s.mail(SENDER)
        code, text = s.rcpt(f"ghost@{HOST}")
    assert (code, text) == (550, f"5.1.1 <ghost@{HOST}>: Recipient address rejected: "
                                 "User unknown in local recipient table".encode())
    config_dir.wait_for_log(f"{qid}: removed")
    log = config_dir.log_text()
    for r in (f"tofile@{HOST}", f"tocmd@{HOST}"):
        assert re.search(rf"pfx/local\[\d+\]: {qid}: to=<{r}>, relay=local, .*dsn=2\.0\.0, "
                         r"status=sent", log), (r, log)
    # an expansion is logged per final delivery, orig_to= the alias (local(8)'s shape)
    for alias, users in (("team", ("nobody", "daemon")), ("inc", ("root", "daemon")),
                         ("nested", ("nobody", "daemon"))):
        for user in users:
            assert re.search(rf"pfx/local\[\d+\]: {qid}: to=<{user}@[^>]+>, "
                             rf"orig_to=<{alias}@{HOST}>, relay=local, .*dsn=2\.0\.0, "
                             r"status=sent \(delivered to mailbox\)", log), (alias, user, log)

    def mbox_of(user):
        return mbox_messages(os.path.join(spool, user))
    # team -> nobody, daemon; inc -> root, daemon; nested -> team: one copy per
    # (request recipient, mailbox), with Delivered-To the request recipient
    got = {u: sorted(header(lines, "Delivered-To")[0] for _, lines, _ in mbox_of(u))
           for u in ("nobody", "daemon", "root")}
    assert got == {"nobody": [f"nested@{HOST}", f"team@{HOST}"],
                   "daemon": [f"inc@{HOST}", f"nested@{HOST}", f"team@{HOST}"],
                   "root": [f"inc@{HOST}"]}
    for _, lines, body in mbox_of("daemon"):
        rcpt = header(lines, "Delivered-To")[0]
        assert lines[:3] == local_headers(rcpt)
        assert body == BODY_LF.replace(b"\nFrom ", b"\n>From ")

    # /file: an mbox written as default_privs (nobody), From_ line and quoting as mailbox
    tofile = os.path.join(files, "tofile.mbox")
    assert os.stat(tofile).st_uid == NOBODY.pw_uid
    data = open(tofile, "rb").read()
    assert data.startswith(b"From alice@client.example.org  ")
    lines, body = split_delivered(data.split(b"\n", 1)[1])
    assert lines[:3] == local_headers(f"tofile@{HOST}")
    assert body == BODY_LF.replace(b"\nFrom ", b"\n>From ") + b"\n"

    # |command: run as nobody with local(8)'s environment, From_ line then the message
    env = open(os.path.join(out, "cmd.env")).read()
    assert env == (f"SENDER={SENDER}\nRECIPIENT=tocmd@{HOST}\n"
                   f"ORIGINAL_RECIPIENT=tocmd@{HOST}\nUSER=tocmd\nuid={NOBODY.pw_uid}\n")
    data = open(os.path.join(out, "cmd.msg"), "rb").read()
    assert data.startswith(b"From alice@client.example.org  ")
    lines, body = split_delivered(data.split(b"\n", 1)[1])
    assert lines[:3] == local_headers(f"tocmd@{HOST}")
    assert body == BODY_LF


def test_dot_forward(config_dir, run_twistd, shared):
    spool = shared.sub("mail", 0o1777)
    fwd = shared.sub("forward")
    path = os.path.join(fwd, "daemon")
    with open(path, "w") as f:
        f.write("# daemon's .forward\nnobody, \\daemon\n")
    os.chown(path, DAEMON.pw_uid, DAEMON.pw_gid)
    _, port = start_pfx(config_dir, run_twistd, local_main(
        spool, f"alias_maps =\nforward_path = {fwd}/$user\n"))
    qid = submit(port, SENDER, [f"daemon@{HOST}"], message("forward", BODY, "fw-1"))
    config_dir.wait_for_log(f"{qid}: removed")
    for user in ("nobody", "daemon"):
        [(_, lines, body)] = mbox_messages(os.path.join(spool, user))
        assert lines[:3] == local_headers(f"daemon@{HOST}")
        assert header(lines, "Subject") == ["forward"]
        assert body == BODY_LF.replace(b"\nFrom ", b"\n>From ")
    assert re.search(rf"{qid}: to=<daemon@{HOST}>, relay=local, .*status=sent",
                     config_dir.log_text())


def test_forwarding_loop_bounces_to_the_sender(config_dir, run_twistd, shared):
    """loopa -> loopa@loop.test, a domain outside mydestination that transport_maps hands
    back to local(8): each pass is resubmitted through cleanup with a Delivered-To header
    until local(8) finds its own Delivered-To and bounces instead of spinning."""
    spool = shared.sub("mail", 0o1777)
    aliases = config_dir.path / "aliases"
    aliases.write_text(ALIASES.format(files="/x", bin="/x", lists="/x"))
    postalias(config_dir, aliases)
    (config_dir.path / "transport").write_text("loop.test local:\n")
    _, port = start_pfx(config_dir, run_twistd, local_main(
        spool, f"alias_maps = hash:{aliases}\n"
               f"transport_maps = texthash:{config_dir.path}/transport\n"))
    sender = f"nobody@{HOST}"
    submit(port, sender, [f"loopa@{HOST}"], message("loop", BODY, "lp-1"))
    config_dir.wait_for_log("mail forwarding loop for loopa@loop.test", timeout=20)
    # the notice from MAILER-DAEMON reaches the sender's own mailbox
    box = os.path.join(spool, "nobody")
    wait_for(lambda: os.path.exists(box) and len(mailbox.mbox(box)) == 1, what="the bounce")
    [notice] = list(mailbox.mbox(box))
    assert notice["Return-Path"] == "<>"
    assert notice["From"] == f"Mail Delivery System <MAILER-DAEMON@{HOST}>"
    text = notice.as_string()
    assert "mail forwarding loop for loopa@loop.test" in text
    assert "Subject: loop" in text     # the returned message
    log = config_dir.log_text()
    assert re.search(r"to=<loopa@loop\.test>, orig_to=<loopa@mx\.example\.test>, relay=local, "
                     r".*dsn=5\.4\.6, status=bounced \(mail forwarding loop for "
                     r"loopa@loop\.test\)", log), log
    assert log.count("status=bounced") == 1


def _dovecot_style_reader(path, stop, snapshots, errors):
    """Lock the mbox as Dovecot does (mbox_read_locks = fcntl dotlock: a read fcntl lock
    and path.lock), check that it holds whole messages only, unlock; until ``stop``."""
    lock = path + ".lock"
    tmp = f"{lock}.{socket.gethostname()}.reader"
    while not stop.is_set():
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            time.sleep(0.01)
            continue
        try:
            with open(tmp, "w"):
                pass
            try:
                os.link(tmp, lock)
            except FileExistsError:
                time.sleep(0.005)
                continue
            finally:
                os.unlink(tmp)
            try:
                try:
                    fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                except OSError:
                    time.sleep(0.005)
                    continue
                data = b""
                while chunk := os.read(fd, 1 << 20):
                    data += chunk
                time.sleep(0.002)  # hold it a little, as a reader does
                fcntl.lockf(fd, fcntl.LOCK_UN)
            finally:
                os.unlink(lock)
        finally:
            os.close(fd)
        snapshots.append(len(data))
        if data and not (data.startswith(b"From ") and data.endswith(b"-- END --\n\n")):
            errors.append(f"torn mbox at {len(data)} bytes: ...{data[-200:]!r}")
        # often enough to look into a delivery in progress, seldom enough not to starve
        # pfx, which tries a held dot lock once a second (deliver_lock_delay)
        time.sleep(0.02)


LINES = 4000


def test_parallel_deliveries_to_one_mbox_never_interleave(config_dir, run_twistd, shared):
    spool = shared.sub("mail", 0o1777)
    # Postfix's default lets 2 deliveries to one local recipient run at once; 8 make
    # the helpers (one process each) really contend for the mailbox locks
    _, port = start_pfx(config_dir, run_twistd, local_main(
        spool, "local_destination_concurrency_limit = 8\n"))
    box = os.path.join(spool, "nobody")
    # (checked: with mailbox_delivery_lock = flock, which this reader does not take, it
    # sees a half-written message every time)
    n = 24
    # ~320 KB a message: more than one 64 KB write each, so only the locks keep the
    # writers (and the reader) apart, not the atomicity of one O_APPEND write
    stop, snapshots, errors = threading.Event(), [], []
    reader = threading.Thread(target=_dovecot_style_reader, args=(box, stop, snapshots, errors))
    reader.start()
    try:
        def one(i):
            lines = b"".join(b"message %02d line %04d " % (i, j) + b"x" * 60 + b"\r\n"
                             for j in range(LINES))
            return submit(port, SENDER, [f"nobody@{HOST}"],
                          message(f"parallel {i:02d}", lines + b"-- END --\r\n", f"p{i}"))
        with ThreadPoolExecutor(max_workers=n) as pool:
            qids = list(pool.map(one, range(n)))
        wait_for_count(config_dir, re.compile(r"to=<nobody@mx\.example\.test>, relay=local, "
                                              r".*status=sent"), n, timeout=45)
    finally:
        stop.set()
        reader.join(10)
    assert not errors, errors[:3]
    assert len(snapshots) > 5            # the reader really got in between deliveries
    msgs = list(mailbox.mbox(box))
    assert sorted(m["Subject"] for m in msgs) == [f"parallel {i:02d}" for i in range(n)]
    for m in msgs:
        i = int(m["Subject"].split()[1])
        expected = b"".join(b"message %02d line %04d " % (i, j) + b"x" * 60 + b"\n"
                            for j in range(LINES)) + b"-- END --\n"
        assert m.get_payload().encode() == expected
    assert len(set(qids)) == n
    assert not os.path.exists(box + ".lock")


PIPE_SCRIPT = """\
#!/bin/sh
# argv one per line, then the message
umask 022
out={out}/pipe.$$
for a in "$@"; do printf '%s\\n' "$a"; done > $out.args
printf 'uid=%s\\n' "$(id -u)" >> $out.args
cat > $out.msg
"""


def test_pipe_transport_by_master_row(config_dir, run_twistd, shared):
    out, binary = shared.sub("pipeout", 0o1777), shared.sub("bin")
    script = os.path.join(binary, "pipe.sh")
    with open(script, "w") as f:
        f.write(PIPE_SCRIPT.format(out=out))
    os.chmod(script, 0o755)
    (config_dir.path / "transport").write_text("pipe.test mypipe:\n")
    row = ("mypipe    unix  -       n       n       -       -       pipe\n"
           f"  flags=FR user=nobody argv={script} -f ${{sender}} -d ${{recipient}}"
           " ${nexthop} ${user}\n")
    _, port = start_pfx(config_dir, run_twistd, local_main(
        shared.sub("mail", 0o1777),
        f"transport_maps = texthash:{config_dir.path}/transport\n"
        "relay_domains = pipe.test\nmypipe_destination_recipient_limit = 1\n"),
        master_extra=row)
    qid = submit(port, SENDER, ["Joe.User@pipe.test", "ann@pipe.test"],
                 message("pipe", BODY, "pp-1"))
    config_dir.wait_for_log(f"{qid}: removed")
    outs = sorted(os.listdir(out))
    assert len(outs) == 4, outs      # one run per recipient (recipient limit 1)
    runs = {}
    for name in outs:
        if name.endswith(".args"):
            args = open(os.path.join(out, name)).read().splitlines()
            runs[args[3]] = (args, open(os.path.join(out, name[:-5] + ".msg"), "rb").read())
    assert set(runs) == {"Joe.User@pipe.test", "ann@pipe.test"}
    for rcpt, (args, data) in runs.items():
        assert args == ["-f", SENDER, "-d", rcpt, "pipe.test", rcpt.split("@")[0],
                        f"uid={NOBODY.pw_uid}"]
        # F: From_ line; R: Return-Path; then the queued message, body byte-exact (no
        # > quoting without the > flag)
        first, _, rest = data.partition(b"\n")
        assert first.startswith(b"From alice@client.example.org  ")
        lines, body = split_delivered(rest)
        assert lines[0] == f"Return-Path: <{SENDER}>".encode()
        assert lines[1] == b"Received: from client.example.org (localhost [127.0.0.1])"
        assert body == BODY_LF
    log = config_dir.log_text()
    for rcpt in ("Joe.User@pipe.test", "ann@pipe.test"):
        assert re.search(rf"pfx/mypipe\[\d+\]: {qid}: to=<{rcpt}>, relay=mypipe, .*"
                         r"dsn=2\.0\.0, status=sent \(delivered via mypipe service\)", log), log
