"""Appending one message to a UNIX mbox file, locked, and truncated back on failure.

The file is opened without following symlinks and must be a regular file (mbox_open.c).
Locks are taken in Postfix's order, dot lock first; a dot lock that cannot be created
for lack of permission is skipped when another kind is configured, as Postfix does for a
spool directory the user cannot write. Any error after the first byte truncates the
file to its old length, so a reader never sees half a message.
"""

import errno
import os
import stat
import time

from pfx.delivery.lock import LockPolicy, dotlock, inprocess_lock, lock_fd, unlock_fd


class FdWriter:
    """Buffered writes to a descriptor that fail with EFBIG past ``limit`` bytes
    (mailbox_size_limit); after an error the buffer is dropped, never written late."""

    def __init__(self, fd, start=0, limit=0, bufsize=64 * 1024):
        self._fd, self._size, self._limit = fd, start, limit
        self._buf, self._bufsize = bytearray(), bufsize

    def write(self, data):
        self._size += len(data)
        if self._limit and self._size > self._limit:
            raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))
        self._buf += data
        if len(self._buf) >= self._bufsize:
            self.flush()
        return len(data)

    def flush(self):
        view = memoryview(self._buf)
        try:
            while view:
                view = view[os.write(self._fd, view):]
        finally:
            view.release()
            self._buf.clear()


def append(path, write_message, policy=LockPolicy(), size_limit=0, mode=0o600,
           sleep=time.sleep, opener=None):
    """Lock ``path``, call ``write_message(file)`` at its end, fsync, unlock.

    ``opener(path, flags, mode) -> fd`` lets a privileged caller open as another user.
    Raises OSError (LockBusy for a lock that could not be had).
    """
    guard = inprocess_lock(path)
    with guard:
        dot = None
        if "dotlock" in policy.kinds:
            try:
                dot = dotlock(path, policy, sleep)
            except PermissionError:
                if len(policy.kinds) == 1:
                    raise
        try:
            _append_locked(path, write_message, policy, size_limit, mode, sleep, opener)
        finally:
            if dot is not None:
                try:
                    os.unlink(dot)
                except FileNotFoundError:
                    pass


def _append_locked(path, write_message, policy, size_limit, mode, sleep, opener):
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NOCTTY
    fd = (opener or os.open)(path, flags, mode)
    kinds = [k for k in policy.kinds if k in ("fcntl", "flock")]
    locked = []
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
            raise OSError(errno.EPERM, "file is not a regular file or has hard links")
        for kind in kinds:
            lock_fd(fd, kind, policy, sleep)
            locked.append(kind)
        start = os.fstat(fd).st_size  # read after locking: another writer may have grown it
        try:
            out = FdWriter(fd, start, size_limit)
            write_message(out)
            out.flush()
            os.fsync(fd)
        except BaseException:
            os.ftruncate(fd, start)
            raise
    finally:
        for kind in reversed(locked):
            unlock_fd(fd, kind)
        os.close(fd)
