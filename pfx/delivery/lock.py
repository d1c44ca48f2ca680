"""Mailbox locks as Postfix and Dovecot take them: ``NAME.lock`` dot files, fcntl and flock.

Dovecot's ``mbox_write_locks = fcntl dotlock`` and Postfix's ``mailbox_delivery_lock =
fcntl, dotlock`` interoperate because both sides take the same kinds. A dot lock older
than stale_lock_time is removed (dot_lockfile.c). fcntl locks are per process, so
threads of one process are serialized by a per-path in-process lock as well.

Stdlib only: the privileged helper child (pfx.delivery.helper_child) imports this, and
every import there is paid on each delivery.
"""

import _thread  # threading.Lock itself, without threading's imports (functools, collections)
import errno
import fcntl
import os
import time

KINDS = ("fcntl", "flock", "dotlock")


class LockPolicy:
    """An immutable value: kinds, deliver_lock_attempts, deliver_lock_delay,
    stale_lock_time. Hand-written rather than attrs so the helper child stays light."""

    __slots__ = ("kinds", "attempts", "delay", "stale")

    def __init__(self, kinds=("fcntl", "dotlock"), attempts=20, delay=1.0, stale=500.0):
        for name, value in zip(self.__slots__, (tuple(kinds), attempts, delay, stale)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"LockPolicy is immutable: cannot set {name}")

    def __delattr__(self, name):
        raise AttributeError(f"LockPolicy is immutable: cannot delete {name}")

    def __reduce__(self):  # copy and pickle through __init__, not slot by slot
        return LockPolicy, self._key()

    def _key(self):
        return (self.kinds, self.attempts, self.delay, self.stale)

    def __eq__(self, other):
        return self._key() == other._key() if type(other) is LockPolicy else NotImplemented

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return "LockPolicy(kinds={!r}, attempts={!r}, delay={!r}, stale={!r})".format(*self._key())


class LockBusy(OSError):
    """The lock could not be had within the attempts (a temporary failure)."""


_inproc_guard = _thread.allocate_lock()
_inproc: dict = {}


def inprocess_lock(path):
    """One threading.Lock per path: fcntl cannot keep this process's threads apart."""
    with _inproc_guard:
        return _inproc.setdefault(os.path.abspath(path), _thread.allocate_lock())


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
    tmp = f"{lock}.{os.uname().nodename}.{os.getpid()}.{_thread.get_ident()}"

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
