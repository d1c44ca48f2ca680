"""Delivery to a /file/name from an alias, :include: or .forward (local(8) EXTERNAL FILE DELIVERY).

Security: the path comes from an alias, :include: or .forward file (its owner chose
it), never from the address. Executable files are refused; symlinks are not followed.
Written as the pfx process's own user, or under root by the privileged helper as the
.forward owner or default_privs.
"""

import os
import stat

from pfx.delivery.command import Outcome
from pfx.dsn import Dsn

from pfx.agents.local.mailbox import append_mbox, write_maildir


def deliver_file(ctx, path, open_content):
    """Blocking: mbox-append to ``path`` or Maildir delivery when it ends in / -> Outcome."""
    if path == "/dev/null":  # the usual "discard" alias: nothing to write or lock
        return Outcome("sent", Dsn("2.0.0"), f"delivered to file: {path}")
    if path.endswith("/"):
        problem = write_maildir(ctx, path, open_content, f"maildir {path}")
        return problem or Outcome("sent", Dsn("2.0.0"), "delivered to maildir")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        return Outcome("deferred", Dsn("4.3.0"), f"cannot access destination file {path}: "
                       f"{e.strerror}")
    if st is not None:
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISCHR(st.st_mode):
            return Outcome("bounced", Dsn("5.2.0"), f"cannot append message to file {path}: "
                           f"not a regular file")
        if st.st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH):
            return Outcome("bounced", Dsn("5.7.1"), f"executable destination file {path}")
    problem = append_mbox(ctx, path, open_content, f"file {path}")
    return problem or Outcome("sent", Dsn("2.0.0"), f"delivered to file: {path}")
