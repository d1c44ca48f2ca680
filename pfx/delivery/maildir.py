"""Delivering one message into a Maildir: write tmp/, fsync, link into new/, fsync new/.

Names are ``SECONDS.MusecPpidQn.host`` (Dovecot's and qmail's unique-name scheme; ``n``
counts deliveries in this process), with ``/`` and ``:`` in the host name escaped as
the Maildir specification asks. tmp/, new/ and cur/ are created mode 0700 if missing.
A failure removes the tmp/ file, so nothing half-written ever appears in new/.
"""

import itertools
import os
import time

from pfx.delivery.mbox import FdWriter

_counter = itertools.count(1)


def unique_name(now=None, pid=None, host=None):
    now = time.time() if now is None else now
    sec, usec = int(now), int((now - int(now)) * 1_000_000)
    host = (host or os.uname().nodename).replace("/", "\\057").replace(":", "\\072")
    return f"{sec}.M{usec}P{pid or os.getpid()}Q{next(_counter)}.{host}"


def make_dirs(maildir, mode=0o700):
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(maildir, sub), mode=mode, exist_ok=True)


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def deliver(maildir, write_message, size_limit=0, now=None):
    """Write one message with ``write_message(file)``; returns the path in new/."""
    make_dirs(maildir)
    name = unique_name(now)
    tmp = os.path.join(maildir, "tmp", name)
    new = os.path.join(maildir, "new", name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            out = FdWriter(fd, 0, size_limit)
            write_message(out)
            out.flush()
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, new)  # link, not rename: never replace an existing file
    except BaseException:
        _unlink(tmp)
        raise
    _unlink(tmp)
    fsync_dir(os.path.join(maildir, "new"))
    return new


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
