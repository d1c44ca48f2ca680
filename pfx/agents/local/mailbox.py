"""Final delivery into a user's mailbox: mbox in mail_spool_directory or $home, or Maildir.

Security: the message and the envelope addresses are untrusted; they are only copied
(``>From`` quoted in mbox) into the file, never interpreted. The path comes from the
administrator's settings and the recipient's passwd entry, never from the address.
Written as the pfx process's own user, or, when pfx runs as root, by the privileged
helper child (pfx.delivery.helper) as the recipient.
"""

import base64
import errno
import os

from pfx.delivery import helper, maildir, mbox
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


def append_mbox(ctx, path, open_content, what, spool=False):
    """Blocking mbox append -> Outcome, or None on success; ``what`` names the target in
    error texts. With ``ctx.ids`` the privileged helper writes as that user."""
    prefix = from_line(ctx.sender, ctx.now) + headers(ctx, "file")
    lock = ctx.cfg.lock
    try:
        if ctx.ids is None:
            mbox.append(path, message_writer(open_content, prefix, True, True),
                        lock, ctx.cfg.size_limit)
        else:
            with open_content() as src:
                helper.run({"op": "mbox", "path": path, "uid": ctx.ids[0], "gid": ctx.ids[1],
                            "spool": spool, "size_limit": ctx.cfg.size_limit,
                            "lock": [list(lock.kinds), lock.attempts, lock.delay, lock.stale],
                            "prefix": base64.b64encode(prefix).decode(),
                            "quote_from": True, "blank": True}, src)
    except OSError as e:
        return failure(e, f"cannot update {what}")
    return None


def write_maildir(ctx, path, open_content, what):
    """Blocking Maildir delivery -> Outcome or None on success."""
    prefix = headers(ctx, "file")
    try:
        if ctx.ids is None:
            maildir.deliver(path, message_writer(open_content, prefix, False, False),
                            ctx.cfg.size_limit, ctx.now)
        else:
            with open_content() as src:
                helper.run({"op": "maildir", "path": path, "uid": ctx.ids[0],
                            "gid": ctx.ids[1], "size_limit": ctx.cfg.size_limit,
                            "now": ctx.now, "prefix": base64.b64encode(prefix).decode()}, src)
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
    problem = append_mbox(ctx, path, open_content, what, spool=not ctx.cfg.home_mailbox)
    return problem or Outcome("sent", Dsn("2.0.0"), "delivered to mailbox")
