"""The privileged helper: a short-lived child that writes a mailbox or reads a file as a user.

When pfx runs as root, local(8) and virtual(8) must write as the recipient, and the
reactor process must never switch ids. For each such delivery the agent (in a thread
from runtime.run_blocking) calls ``run()``, which starts ``python -I`` on this module
as root, sends one JSON line describing the job, then the raw message; the child opens
a mail-spool mailbox as root if asked (creating it owned by the user, refusing one the
user does not own), drops to the user's uid and gid with no supplementary groups, and
does everything else as that user. It answers with one JSON line.

Security: the child trusts only its JSON line (from pfx) and treats the message as
data. Everything after the id switch is done with the user's own rights, so a symlink
or hard link planted by the user reaches nothing the user could not write already.
"""

import base64
import json
import os
import stat
import subprocess
import sys

from pfx.delivery import maildir, mbox
from pfx.delivery.copy import CHUNK, copy_body
from pfx.delivery.lock import LockPolicy

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from pfx.delivery.helper import main; main()")


def run(job, content=None, timeout=3600):
    """Blocking: run one ``job`` (a dict, see serve()) in a helper child, streaming
    ``content`` (a binary file or None) after it. Returns the answer dict; an answer
    with ``errno`` becomes an OSError."""
    proc = subprocess.Popen([sys.executable, "-I", "-c", _BOOT, _PKG_DIR],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin"}, close_fds=True, cwd="/")
    try:
        proc.stdin.write(json.dumps(job).encode() + b"\n")
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
    try:
        result = json.loads(answer)
    except ValueError:
        raise OSError(5, f"privileged helper failed (status {proc.returncode})") from None
    if "errno" in result:
        raise OSError(result["errno"], result["strerror"])
    return result


def read_small_file(path, limit=1024 * 1024):
    """A regular file, not through a symlink, at most ``limit`` bytes -> (bytes, owner)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IsADirectoryError(21, f"{path}: not a regular file")
        return f.read(limit), st.st_uid


def _drop(uid, gid):
    if os.getuid() == 0:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    if uid != os.getuid():
        raise PermissionError(1, "cannot switch to the recipient's user id")


def _writer(job, stdin):
    prefix = base64.b64decode(job.get("prefix", ""))

    def write(out):
        out.write(prefix)
        copy_body(stdin, out, quote_from=job.get("quote_from", False),
                  blank=job.get("blank", False))
    return write


def serve(job, stdin):
    """Do one job. ``op``: "mbox" (path, spool, lock, size_limit, prefix, quote_from,
    blank), "maildir" (path, size_limit, prefix, now) or "read" (path: a .forward or
    :include: file, answered as base64 ``data`` and its ``owner``); all carry
    ``uid`` and ``gid``."""
    uid, gid, path = job["uid"], job["gid"], job["path"]
    fd = None
    if job["op"] == "mbox" and job.get("spool"):
        # the spool directory is root's: open (or create) as root, then hand to the user
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        st = os.fstat(fd)
        if st.st_size == 0 and st.st_uid == 0:
            os.fchown(fd, uid, gid)
        elif st.st_uid != uid:
            os.close(fd)
            raise PermissionError(1, f"mailbox {path} is not owned by uid {uid}")
    _drop(uid, gid)
    if job["op"] == "read":
        data, owner = read_small_file(path)
        return {"data": base64.b64encode(data).decode(), "owner": owner}
    if job["op"] == "mbox":
        lock = LockPolicy(tuple(job["lock"][0]), *job["lock"][1:])
        opener = (lambda *a: fd) if fd is not None else None
        if fd is None:
            os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
        mbox.append(path, _writer(job, stdin), lock, job["size_limit"], opener=opener)
        return {"ok": True}
    if job["op"] == "maildir":
        return {"path": maildir.deliver(path, _writer(job, stdin), job["size_limit"],
                                        job.get("now"))}
    raise ValueError(f"unknown helper op {job['op']!r}")


def main():
    stdin = sys.stdin.buffer
    try:
        answer = serve(json.loads(stdin.readline()), stdin)
    except OSError as e:
        answer = {"errno": e.errno or 5, "strerror": e.strerror or str(e)}
    except Exception as e:  # a bug: report it as a temporary failure, never a traceback
        answer = {"errno": 5, "strerror": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
