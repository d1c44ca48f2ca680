"""Process and socket helpers shared by the peers (stdlib only, no pytest, no Twisted)."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

LOOPBACK = "127.0.0.1"


class PeerUnavailable(Exception):
    """A peer's program is not installed or cannot run here; tests turn this into a skip."""


class PeerFailed(Exception):
    """A peer was installed but did not start (its log is in the message)."""


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (racy by nature: bind soon, retry on EADDRINUSE)."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def short_tempdir(prefix: str) -> str:
    """``/tmp/<prefix>XXXXXX``, mode 0755: unix socket paths under it stay far below 108 bytes,
    and unprivileged daemons (nobody, postfix) can traverse it."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(path, 0o755)
    return path


def require_program(path: str, what: str) -> str:
    if not os.access(path, os.X_OK):
        raise PeerUnavailable(f"{what} is not installed ({path} missing); "
                              f"run tests/install-peers.sh as root")
    return path


def require_root(what: str):
    if os.geteuid() != 0:
        raise PeerUnavailable(f"{what} needs root here (it switches to unprivileged users)")


def read_banner(addr, timeout=1.0, goodbye=b"") -> bytes:
    """Connect to (host, port) or a unix socket path and return the first line sent; then
    send ``goodbye`` (e.g. ``b"QUIT\\r\\n"``, so the peer logs no "lost connection")."""
    family = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(addr)
        data = b""
        while b"\n" not in data and len(data) < 4096:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        if goodbye and b"\n" in data:
            try:
                s.sendall(goodbye)
                s.recv(4096)
            except OSError:
                pass
        return data.split(b"\n", 1)[0]


def wait_banner(addr, expect: bytes = b"", timeout=10.0, proc=None, goodbye=b"") -> bytes:
    """Poll until ``addr`` sends a first line containing ``expect``; fail early if ``proc`` died."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise PeerFailed(f"process exited with {proc.returncode} before {addr} answered")
        try:
            line = read_banner(addr, goodbye=goodbye)
            if expect in line:
                return line
            last = line
        except OSError as e:
            last = e
        time.sleep(0.02)
    raise PeerFailed(f"{addr} gave no banner with {expect!r} within {timeout}s (last: {last!r})")


def start_group(argv, **kw) -> subprocess.Popen:
    """Popen in a new session (its own process group), so :func:`kill_group` gets every child."""
    return subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL, **kw)


def kill_group(proc: subprocess.Popen, timeout=10.0):
    """SIGKILL the process group led by ``proc`` and reap ``proc``; idempotent."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:  # pragma: no cover - a SIGKILLed process always dies
        pass
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def remove_tree(path):
    if path and os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Poll ``predicate()`` until truthy (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


def alive(pid):
    """True if ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def process_tree(root_pid):
    """``root_pid`` and all its live descendants, read from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root_pid]
    while todo and len(tree) < 100000:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return [p for p in tree if alive(p)]
