"""The privileged helper's fork server: one server, a forked child per job, nothing shared."""

import base64
import fcntl
import io
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from pfx.delivery import helper
from pfx.delivery.forkserver import PID

ROOT = os.geteuid() == 0
NOBODY, DAEMON = (65534, 65534), (1, 1)  # Debian's nobody/nogroup and daemon
ME = NOBODY if ROOT else (os.getuid(), os.getgid())


@pytest.fixture
def top():
    helper.shutdown()
    path = tempfile.mkdtemp(prefix="pfx-fork-")
    os.chmod(path, 0o755)
    os.chown(path, *ME)
    yield path
    helper.shutdown()
    shutil.rmtree(path)


def maildir(path, content, ids=ME, **kw):
    job = {"op": "maildir", "path": path, "uid": ids[0], "gid": ids[1], "size_limit": 0,
           "now": 1.5, "prefix": ""}
    return helper.run(job, io.BytesIO(content), **kw)["path"]


def locked_mbox(path, timeout):
    return helper.run({"op": "mbox", "path": path, "uid": ME[0], "gid": ME[1],
                       "size_limit": 0, "lock": [["fcntl"], 10000, 0.05, 500],
                       "prefix": "", "quote_from": True, "blank": True},
                      io.BytesIO(b"Subject: s\n\nbody\n"), timeout=timeout)


def server_pid():
    return helper._server.proc.pid


def children(ppid):
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return found


def sockets(pid):
    links = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    return {link for link in links if link.startswith("socket:")}


def wait_for(predicate, seconds=10):
    end = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.02)


def test_many_jobs_in_sequence_share_one_server(top):
    paths = [maildir(f"{top}/M{i % 5}", b"Subject: %d\n\n" % i) for i in range(30)]
    pid = server_pid()
    paths += [maildir(f"{top}/M{i % 5}", b"Subject: %d\n\n" % i) for i in range(30, 60)]
    assert server_pid() == pid
    assert [open(p, "rb").read() for p in paths] == [b"Subject: %d\n\n" % i for i in range(60)]
    assert all(os.stat(p).st_uid == ME[0] for p in paths)


def test_concurrent_jobs_each_get_their_own_data_and_answer(top):
    maildir(f"{top}/warm", b"x")
    pid = server_pid()
    # sizes past the socket buffers, so jobs really overlap mid-message
    bodies = [(b"job %03d " % i) * (i * 4000 + 1) + b"\n" for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda i: maildir(f"{top}/M{i}", bodies[i]), range(40)))
    assert server_pid() == pid
    for i, path in enumerate(paths):
        assert path.startswith(f"{top}/M{i}/new/")
        assert open(path, "rb").read() == bodies[i]
        assert os.listdir(f"{top}/M{i}/new") == [os.path.basename(path)]


@pytest.mark.skipif(not ROOT, reason="needs root")
def test_each_job_drops_to_its_own_user(top):
    os.chmod(top, 0o777)
    secret = os.path.join(top, "secret")
    with open(secret, "wb") as f:
        f.write(b"nobody's\n")
    os.chown(secret, *NOBODY)
    os.chmod(secret, 0o600)
    first = maildir(f"{top}/nobody", b"a\n", NOBODY)
    second = maildir(f"{top}/daemon", b"b\n", DAEMON)
    assert (os.stat(first).st_uid, os.stat(first).st_gid) == NOBODY
    assert (os.stat(second).st_uid, os.stat(second).st_gid) == DAEMON
    read = {"op": "read", "path": secret}
    assert base64.b64decode(helper.run({**read, "uid": 65534, "gid": 65534})["data"]) \
        == b"nobody's\n"
    with pytest.raises(PermissionError):  # nothing of the previous job's ids is kept
        helper.run({**read, "uid": 1, "gid": 1})


def test_a_child_past_its_timeout_is_killed_and_reported(top):
    path = os.path.join(top, "mbox")
    with open(path, "ab") as held:
        os.chown(path, *ME)
        fcntl.lockf(held, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(OSError) as e:
            locked_mbox(path, timeout=1)
        assert e.value.errno == 110 and 0.9 < time.monotonic() - started < 5
    server = server_pid()
    wait_for(lambda: children(server) == [])  # killed, and reaped by the server
    assert os.path.getsize(path) == 0
    assert maildir(f"{top}/after", b"ok\n")  # the server goes on
    assert server_pid() == server


def test_a_message_that_cannot_be_read_to_its_end_is_not_delivered(top):
    class Broken(io.BytesIO):
        def read(self, size=-1):
            if self.tell():
                raise OSError(5, "queue file unreadable")
            return super().read(size)
    job = {"op": "maildir", "path": f"{top}/M", "uid": ME[0], "gid": ME[1],
           "size_limit": 0, "prefix": ""}
    with pytest.raises(OSError, match="queue file unreadable"):
        helper.run(job, Broken(b"Subject: s\n\n" + b"x" * 200000))
    wait_for(lambda: children(server_pid()) == [])
    assert not os.path.exists(f"{top}/M/new") or os.listdir(f"{top}/M/new") == []


def test_a_child_failing_before_reading_a_big_message_has_its_answer_heard(top):
    os.makedirs(f"{top}/ro")
    os.chmod(f"{top}/ro", 0o555)
    with pytest.raises(PermissionError):  # not ECONNRESET from its unread data
        maildir(f"{top}/ro/M", b"x" * (4 << 20))


def test_a_running_child_holds_only_its_own_job_socket(top):
    path = os.path.join(top, "mbox")
    with open(path, "ab") as held:
        os.chown(path, *ME)
        fcntl.lockf(held, fcntl.LOCK_EX)
        errors = []

        def hang():
            try:
                locked_mbox(path, timeout=30)
            except OSError as e:
                errors.append(e)
        threads = [threading.Thread(target=hang) for _ in range(2)]
        for t in threads:
            t.start()
        wait_for(lambda: helper._server is not None and len(children(server_pid())) == 2)
        server = server_pid()
        kids = children(server)
        held_sockets = [sockets(kid) for kid in kids]
        # one socket each, not the server's control channel, not each other's
        assert [len(s) for s in held_sockets] == [1, 1]
        assert not held_sockets[0] & held_sockets[1]
        assert not (held_sockets[0] | held_sockets[1]) & sockets(server)
        for kid in kids:
            status = dict(line.split(":", 1) for line in open(f"/proc/{kid}/status"))
            assert status["Uid"].split()[:2] == [str(ME[0])] * 2
            if ROOT:
                assert status["Groups"].split() == []
        fcntl.lockf(held, fcntl.LOCK_UN)
        for t in threads:
            t.join(30)
    assert errors == []
    assert open(path, "rb").read().count(b"\nbody\n") == 2


def test_a_killed_server_is_restarted_by_the_next_job(top):
    maildir(f"{top}/M", b"one\n")
    first = server_pid()
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: helper._server.proc.poll() is not None)
    assert open(maildir(f"{top}/M", b"two\n"), "rb").read() == b"two\n"
    second = server_pid()
    assert second != first
    # dead but not yet seen dead: the job packet fails, and the job goes to a new server
    os.kill(second, signal.SIGKILL)
    wait_for(lambda: open(f"/proc/{second}/stat").read().rsplit(")", 1)[1].split()[0] == "Z")
    helper._server.proc.poll = lambda: None
    assert open(maildir(f"{top}/M", b"three\n"), "rb").read() == b"three\n"
    assert server_pid() not in (first, second) and not os.path.exists(f"/proc/{second}")
    assert sorted(open(f"{top}/M/new/{n}", "rb").read()
                  for n in os.listdir(f"{top}/M/new")) == [b"one\n", b"three\n", b"two\n"]


def test_a_job_in_flight_outlives_a_killed_server(top):
    path = os.path.join(top, "mbox")
    with open(path, "ab") as held:
        os.chown(path, *ME)
        fcntl.lockf(held, fcntl.LOCK_EX)
        outcome = []
        hung = threading.Thread(target=lambda: outcome.append(locked_mbox(path, 30)))
        hung.start()
        wait_for(lambda: helper._server is not None and len(children(server_pid())) == 1)
        first = server_pid()
        os.kill(first, signal.SIGKILL)
        assert open(maildir(f"{top}/M", b"next\n"), "rb").read() == b"next\n"
        assert server_pid() != first
        fcntl.lockf(held, fcntl.LOCK_UN)
        hung.join(30)
    assert outcome == [{"ok": True}]  # its own socket still reaches pfx
    assert open(path, "rb").read().endswith(b"\nbody\n\n")


def test_a_malformed_control_packet_is_refused(top):
    maildir(f"{top}/M", b"a\n")
    server, ctl = server_pid(), helper._server.ctl
    wait_for(lambda: children(server) == [])  # the first job's child reaped
    a, b = socket.socketpair()
    for packet, fds in ((b"J", []), (b"X", [a.fileno()]), (b"J", [a.fileno(), b.fileno()])):
        socket.send_fds(ctl, [packet], fds)
        assert PID.unpack(ctl.recv(16))[0] == -22
    a.close()
    b.close()
    assert children(server) == []  # nothing forked
    assert open(maildir(f"{top}/M", b"b\n"), "rb").read() == b"b\n"
    assert server_pid() == server


def test_shutdown_leaves_nothing_running(top):
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: maildir(f"{top}/M{i}", b"x\n"), range(20)))
    server = helper._server.proc
    helper.shutdown()
    assert server.returncode is not None and helper._server is None
    assert children(server.pid) == []
    assert not os.path.exists(f"/proc/{server.pid}")  # reaped: no zombie
    maildir(f"{top}/M0", b"y\n")  # and the next job starts a new one
    assert helper._server.proc.pid != server.pid


def test_without_a_server_the_old_way_still_works(top, monkeypatch):
    monkeypatch.setattr(helper, "_Server", lambda: (_ for _ in ()).throw(OSError(2, "x")))
    assert open(maildir(f"{top}/M", b"z\n"), "rb").read() == b"z\n"
    assert helper._server is None
