"""The privileged helper: a forked child per job that writes a mailbox or reads a file as a user.

When pfx runs as root, local(8) and virtual(8) must write as the recipient, and the
reactor process must never switch ids. For each such delivery the agent (in a thread
from runtime.run_blocking) calls ``run()``. A child, running as root, gets the job
(marshal data after its length) and then the raw message; it opens a mail-spool mailbox
as root if asked (creating it owned by the user, refusing one the user does not own),
drops to the user's uid and gid with no supplementary groups, and does everything else
as that user. It answers with one JSON line, parsed here by json (never marshal: the
answer comes from a process running as the user). The child imports only the stdlib
and stdlib-only pfx modules (no attrs, no twisted; -S leaves site-packages off its path).

The children come from a fork server (pfx.delivery.forkserver): one ``python -I -S``
process per pfx process, started as root on first use, that has imported helper_child
once. For each job ``run()`` makes a unix socketpair, passes one end to the server over
the control channel (a SOCK_SEQPACKET socketpair, SCM_RIGHTS) and gets the pid back;
the server forks, the child closes the control channel before anything else and talks
only over its own socket, and the server closes its copy. Message and answer go over
that per-job socket, never through the server, so one job cannot read another's data
and answers cannot cross. Control exchanges are serialized by a lock (a fork and its
pid, ~1 ms); deliveries themselves run concurrently. A timeout kills the child through
a pidfd opened while the child still waits for its job (so never a reused pid); the
server reaps it. A server found dead, or failing a job packet, is replaced and the job
retried on a fresh socketpair; if none can start, each job runs in a process of its
own as before (``_run_process``). EOF on the control channel (shutdown() or pfx's exit)
makes the server wait for its children and exit.

Security: the server trusts only its control channel and never sees message data; the
child trusts only its job (from pfx) and treats the message as data. Ids are dropped in
the fork before any mailbox is touched, and everything after that is done with the
user's own rights, so a symlink or hard link planted by the user reaches nothing the
user could not write already. The user can signal or stop its own child (real uid), not
the root server; that shows here as a failed or timed-out job, a temporary failure.

Cost (2026-12-07, loaded 2-CPU box): ~1.7 ms of CPU per job for the fork, id switch
and exit (a "read" job), ~3 ms for a 5 KB Maildir delivery, against ~16 ms for a
``python -I -S`` process per job measured the same way (``-c pass`` alone is ~7 ms).
Not done: a long-lived helper per (uid, gid) with an idle timeout would save the fork
too, but needs framing (the message ends at EOF today) and a root-side open passed as
a descriptor for spool mailboxes; with the fork at ~1.7 ms that is little to gain.
"""

import atexit
import json
import marshal
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from pfx.delivery.copy import CHUNK
from pfx.delivery.forkserver import PID
from pfx.delivery.helper_child import JOB_HEADER, read_small_file, serve  # noqa: F401

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# -I: no environment, no user site, no script directory on sys.path; -S: no site-packages
# either (the child imports only the stdlib and helper_child's stdlib-only pfx modules)
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from pfx.delivery.helper_child import main; main()")
_SERVER_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
                "from pfx.delivery.forkserver import main; main()")
_CONTROL_TIMEOUT = 30  # for a fork and its pid: more means the server is stuck
_MAX_ANSWER = 4 << 20  # a "read" answer is at most ~1.4 MB of base64


class _Server:
    """The fork server child and our end of its control channel (one per pfx process)."""

    def __init__(self):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _SERVER_BOOT, _PKG_DIR,
                 str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                env={"PATH": "/usr/bin:/bin"}, close_fds=True, cwd="/")
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.ctl, self.owner = ours, os.getpid()
        self.ctl.settimeout(_CONTROL_TIMEOUT)

    def fork(self, job_sock):
        """Hand ``job_sock`` to a new child -> its pid (OSError if the server failed)."""
        socket.send_fds(self.ctl, [b"J"], [job_sock.fileno()])
        answer = self.ctl.recv(16)
        if len(answer) != PID.size:
            raise ConnectionError(32, "fork server went away")
        pid = PID.unpack(answer)[0]
        if pid <= 0:
            raise OSError(-pid, f"fork server could not fork: {os.strerror(-pid)}")
        return pid

    def close(self, timeout=None):
        """EOF to the server, which exits once its children have; kill it after ``timeout``."""
        self.ctl.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_server = None
_server_lock = threading.Lock()  # one job packet and its pid answer at a time


def _start():
    """A child forked by the fork server (started or restarted as needed) and our end of
    its job socket -> (sock, pid, pidfd), or None if no server can run."""
    global _server
    with _server_lock:
        for _attempt in range(2):
            if _server is None or _server.owner != os.getpid() or \
                    _server.proc.poll() is not None:
                if _server is not None and _server.owner == os.getpid():
                    _server.close(0)
                try:
                    _server = _Server()
                except OSError:
                    _server = None
                    return None
            # a fresh pair per attempt: a server that died after forking may have left a
            # child holding the other end
            ours, theirs = socket.socketpair()
            try:
                pid = _server.fork(theirs)
            except (ConnectionError, TimeoutError):
                ours.close()
                _server.close(0)  # a dead or stuck server: never reuse its channel
                _server = None
                continue
            except BaseException:
                ours.close()
                raise
            finally:
                theirs.close()
            try:
                # nothing is written to the child yet, so it is waiting and the pid still
                # its own; the pidfd keeps a timeout's kill off a later reuse of the pid
                return ours, pid, os.pidfd_open(pid)
            except BaseException:
                ours.close()
                raise
        return None


def shutdown(timeout=10):
    """Stop the fork server (it waits for running children). Tests and exit call this."""
    global _server
    with _server_lock:
        if _server is not None and _server.owner == os.getpid():
            _server.close(timeout)
        _server = None


atexit.register(shutdown, 5)


def run(job, content=None, timeout=3600):
    """Blocking: run one ``job`` (a dict, see serve()) in a helper child, streaming
    ``content`` (a binary file or None) after it. Returns the answer dict; an answer
    with ``errno`` becomes an OSError."""
    # through JSON first: plain dict/list/str/number values, as the protocol was
    data = marshal.dumps(json.loads(json.dumps(job)))
    data = JOB_HEADER.pack(len(data)) + data
    started = _start() if hasattr(os, "pidfd_open") else None
    if started is None:
        return _run_process(data, content, timeout)
    sock, pid, pidfd = started
    try:
        answer = _exchange(sock, data, content, time.monotonic() + timeout)
    except BaseException as e:
        # killed before its socket closes: a message cut short must not look complete
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)  # the server reaps it
        except ProcessLookupError:
            pass  # it has just exited
        if isinstance(e, TimeoutError):
            raise OSError(110, "privileged helper timed out") from None
        raise
    finally:
        os.close(pidfd)
        sock.close()
    return _answer(answer, f"pid {pid}")


def _exchange(sock, data, content, deadline):
    """Send the job and message on ``sock``, read the answer to EOF, all by ``deadline``."""
    def left():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        return remaining
    try:
        sock.settimeout(left())
        sock.sendall(data)
        if content is not None:
            while chunk := content.read(CHUNK):
                sock.settimeout(left())
                sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the child stopped reading: its answer says why
    sock.settimeout(left())
    answer, size = [], 0
    while chunk := _recv(sock):
        answer.append(chunk)
        size += len(chunk)
        if size > _MAX_ANSWER:
            return b""  # not an answer the child sends: a failure
        sock.settimeout(left())
    return b"".join(answer)


def _recv(sock):
    try:
        return sock.recv(65536)
    except ConnectionResetError:
        # a child that quit without reading all the message: its answer came before this
        return b""


def _answer(answer, who):
    try:
        result = json.loads(answer)
    except ValueError:
        raise OSError(5, f"privileged helper failed ({who})") from None
    if not isinstance(result, dict):
        raise OSError(5, f"privileged helper failed ({who})")
    if "errno" in result:
        raise OSError(result["errno"], result["strerror"])
    return result


def _run_process(data, content, timeout):
    """The fallback: one ``python -I -S`` helper process for this job alone."""
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _BOOT, _PKG_DIR],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin"}, close_fds=True, cwd="/")
    try:
        proc.stdin.write(data)
        if content is not None:
            while chunk := content.read(CHUNK):
                proc.stdin.write(chunk)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the child stopped reading: its answer says why
    proc.stdin = None  # closed above; communicate() must not flush it again
    try:
        answer, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise OSError(110, "privileged helper timed out") from None
    return _answer(answer, f"status {proc.returncode}")
