"""What the privileged helper child runs (see pfx.delivery.helper for the model).

Imported by the fork server (pfx.delivery.forkserver), whose forks call main() on their
job socket, or run on its own for each job when no server can start. Either way it is
``python -I -S`` with only the pfx source directory on sys.path, so this module and
everything it imports must be stdlib or stdlib-only pfx modules (no attrs, no twisted,
nothing from site-packages); on the fallback path each import is paid per delivery.
tests/unit/agents/test_local_helper_proto.py checks the import set. For the same reason
the job comes as marshal data (from root pfx, the one party the child trusts) and the
answer goes out as JSON written by hand: json and base64 pull in re and enum, a third
of what the child would import.
"""

import binascii
import marshal
import os
import stat
import struct
import sys

from pfx.delivery import maildir, mbox
from pfx.delivery.copy import copy_body
from pfx.delivery.lock import LockPolicy


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
    prefix = binascii.a2b_base64(job.get("prefix", ""))

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
        return {"data": binascii.b2a_base64(data, newline=False).decode(), "owner": owner}
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


JOB_HEADER = struct.Struct("!I")  # the length of the marshal data that follows


def read_job(stdin):
    size = JOB_HEADER.unpack(stdin.read(JOB_HEADER.size))[0]
    job = marshal.loads(stdin.read(size))
    if not isinstance(job, dict):
        raise ValueError("helper job is not a dict")
    return job


def _json(value):
    """The JSON text of an answer: a dict of str keys and str, int or bool values; strings
    escaped to ASCII with \\uXXXX as json.dumps does (lone surrogates included)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_json(k)}: {_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + "".join(c if " " <= c <= "~" and c not in '"\\' else _escape(c)
                             for c in value) + '"'
    raise TypeError(f"cannot answer with {type(value).__name__}")


def _escape(char):
    code = ord(char)
    if code > 0xFFFF:  # a UTF-16 surrogate pair, as JSON wants
        code -= 0x10000
        return f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}"
    return f"\\u{code:04x}"


def main(stdin=None, out=1):
    """Read one job and its message from ``stdin`` (a binary file), answer on fd ``out``."""
    stdin = stdin or sys.stdin.buffer
    try:
        answer = serve(read_job(stdin), stdin)
    except OSError as e:
        answer = {"errno": e.errno or 5, "strerror": e.strerror or str(e)}
    except Exception as e:  # a bug: report it as a temporary failure, never a traceback
        answer = {"errno": 5, "strerror": f"{type(e).__name__}: {e}"}
    data = _json(answer).encode()
    while data:
        data = data[os.write(out, data):]


if __name__ == "__main__":
    main()
