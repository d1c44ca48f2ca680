"""Final delivery into a user's mailbox: mbox in mail_spool_directory or $home, or Maildir.

Security: the message and the envelope addresses are untrusted; they are only copied
(``>From`` quoted in mbox) into the file, never interpreted. The path comes from the
administrator's settings and the recipient's passwd entry, never from the address.
Written as the pfx process's own user (the privileged helper is not implemented: the
agent refuses to deliver as root).
"""

import errno
import os

from pfx.delivery import maildir, mbox
from pfx.delivery.copy import copy_body, envelope_headers, from_line
from pfx.dsn import Dsn, errno_to_dsn
from pfx.delivery.command import Outcome


def mailbox_path(cfg, user, home):
    """-> (path, is_maildir) per home_mailbox, else mail_spool_directory."""
    if cfg.home_mailbox:
        path = os.path.join(home, cfg.home_mailbox)
        return path, cfg.home_mailbox.endswith("/")
    spool = cfg.spool_directory
    return os.path.join(spool, user), spool.endswith("/")


def message_writer(open_content, prefix, quote_from, blank):
    """A ``write_message(out)`` that writes ``prefix`` then the content, streamed."""
    def write(out):
        out.write(prefix)
        with open_content() as src:
            copy_body(src, out, quote_from=quote_from, blank=blank)
    return write


def headers(ctx, delivered_kind):
    """Return-Path, X-Original-To and Delivered-To (if prepend_delivered_header has
    ``delivered_kind``) for a mailbox, file or command delivery."""
    delivered = ctx.delivered if delivered_kind in ctx.cfg.delivered_header else None
    return envelope_headers(ctx.sender, ctx.orig_rcpt, delivered)


def append_mbox(ctx, path, open_content, what):
    """Blocking mbox append -> Outcome; ``what`` names the target in error texts."""
    prefix = from_line(ctx.sender, ctx.now) + headers(ctx, "file")
    try:
        mbox.append(path, message_writer(open_content, prefix, True, True),
                    ctx.cfg.lock, ctx.cfg.size_limit)
    except OSError as e:
        return failure(e, f"cannot update {what}")
    return None


def write_maildir(ctx, path, open_content, what):
    """Blocking Maildir delivery -> Outcome or None on success."""
    prefix = headers(ctx, "file")
    try:
        maildir.deliver(path, message_writer(open_content, prefix, False, False),
                        ctx.cfg.size_limit, ctx.now)
    except OSError as e:
        return failure(e, f"cannot update {what}")
    return None


def failure(e, text):
    """An OSError -> deferred or bounced Outcome with mbox_dsn()'s codes."""
    dsn = errno_to_dsn(e.errno) if e.errno != errno.EFBIG else Dsn("5.2.2")
    reason = e.strerror or str(e)
    action = "bounced" if dsn.klass == "5" else "deferred"
    return Outcome(action, dsn, f"{text}. {reason}")


def deliver_mailbox(ctx, user, home, open_content):
    """Blocking: the user's mailbox -> Outcome."""
    path, is_maildir = mailbox_path(ctx.cfg, user, home)
    what = f"mailbox {path} for user {user}"
    if is_maildir:
        problem = write_maildir(ctx, path, open_content, f"maildir {path} for user {user}")
        return problem or Outcome("sent", Dsn("2.0.0"), "delivered to maildir")
    problem = append_mbox(ctx, path, open_content, what)
    return problem or Outcome("sent", Dsn("2.0.0"), "delivered to mailbox")
