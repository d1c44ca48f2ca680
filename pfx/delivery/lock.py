"""Mailbox locks as Postfix and Dovecot take them: ``NAME.lock`` dot files, fcntl and flock.

Dovecot's ``mbox_write_locks = fcntl dotlock`` and Postfix's ``mailbox_delivery_lock =
fcntl, dotlock`` interoperate because both sides take the same kinds. A dot lock older
than stale_lock_time is removed (dot_lockfile.c). fcntl locks are per process, so
threads of one process are serialized by a per-path in-process lock as well.
"""

import errno
import fcntl
import os
import socket
import threading
import time

import attrs

KINDS = ("fcntl", "flock", "dotlock")


@attrs.frozen
class LockPolicy:
    kinds: tuple = ("fcntl", "dotlock")
    attempts: int = 20          # deliver_lock_attempts
    delay: float = 1.0          # deliver_lock_delay
    stale: float = 500.0        # stale_lock_time


class LockBusy(OSError):
    """The lock could not be had within the attempts (a temporary failure)."""


_inproc_guard = threading.Lock()
_inproc: dict = {}


def inprocess_lock(path):
    """One threading.Lock per path: fcntl cannot keep this process's threads apart."""
    with _inproc_guard:
        return _inproc.setdefault(os.path.abspath(path), threading.Lock())


def _retry(take, policy, what, sleep):
    for attempt in range(max(1, policy.attempts)):
        if take():
            return
        if attempt + 1 < policy.attempts:
            sleep(policy.delay)
    raise LockBusy(errno.EAGAIN, f"unable to lock for exclusive access: {what}")


def lock_fd(fd, kind, policy, sleep=time.sleep):
    """Take an exclusive fcntl or flock lock on ``fd``, retrying per ``policy``."""
    def take():
        try:
            if kind == "fcntl":
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise
    _retry(take, policy, "Resource temporarily unavailable", sleep)


def unlock_fd(fd, kind):
    if kind == "fcntl":
        fcntl.lockf(fd, fcntl.LOCK_UN)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)


def dotlock(path, policy, sleep=time.sleep, now=time.time):
    """Create ``path.lock`` exclusively (link of a unique file, NFS-safe as Dovecot's);
    remove one older than ``policy.stale``. Returns the lock path. EACCES propagates."""
    lock = path + ".lock"
    tmp = f"{lock}.{socket.gethostname()}.{os.getpid()}.{threading.get_ident()}"

    def take():
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        try:
            os.link(tmp, lock)
            return True
        except FileExistsError:
            try:
                if now() - os.stat(lock).st_mtime > policy.stale:
                    os.unlink(lock)  # stale: its owner died
            except FileNotFoundError:
                pass
            return False
        finally:
            os.unlink(tmp)
    _retry(take, policy, f"{lock} exists", sleep)
    return lock
