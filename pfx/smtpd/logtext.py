"""The text of smtpd's log lines where Postfix's shape takes some work (pure).

``log_tail`` is the ``from=<s> to=<r> proto=ESMTP helo=<h>`` end of reject lines;
``machine_reject_line`` gives the line Postfix logs for a protocol error the sans-IO
machine refused by itself (most of them are not logged at all).
"""

import re

from pfx.dsn import Reply
from pfx.smtp import replies as R
from pfx.smtpd import addr

_MAIL_FROM = re.compile(r"FROM:\s*<([^>]*)>", re.I)
_NOTIFY = re.compile(r"\bNOTIFY=(\S*)", re.I)
_NOTIFY_WORDS = ("NEVER", "SUCCESS", "FAILURE", "DELAY")


def reply_text(reply: Reply) -> str:
    """A reply as one log-line fragment: ``554 5.7.1 text``."""
    return str(reply).replace("\n", " ")


def log_tail(sender, recipient, esmtp, helo) -> str:
    """``from=<s> to=<r> proto=ESMTP helo=<h>``, leaving out what is not known (None)."""
    parts = [f"from=<{sender}>"] if sender is not None else []
    if recipient is not None:
        parts.append(f"to=<{recipient}>")
    parts.append(f"proto={'ESMTP' if esmtp else 'SMTP'}")
    if helo is not None:
        parts.append(f"helo=<{helo}>")
    return " ".join(parts)


def machine_reject_line(event, namaddr, where, esmtp, helo):
    """(severity, text) for a Reject event Postfix would log, or None."""
    reply, command = event.reply, event.command
    if reply == R.FORBIDDEN_COMMAND:
        return "warning", f"non-SMTP command from {namaddr}: {R.printable(command)}"
    if reply.code == 421 and "too many errors" in reply.text:
        return "info", f"too many errors after {where} from {namaddr}"
    if reply == R.PIPELINING_SYNC:
        return "info", f"improper command pipelining after {where} from {namaddr}: {R.printable(command)}"
    if reply in (R.SIZE_EXCEEDS_LIMIT, R.SIZE_EXCEEDS_FS):
        # Postfix logs this one as a policy reject (smtpd_check_size), with the sender.
        m = _MAIL_FROM.search(command)
        sender = addr.internal(R.printable(m.group(1), 1000)) if m else None
        return "info", (f"NOQUEUE: reject: MAIL from {namaddr}: {reply_text(reply)}; "
                        f"{log_tail(sender, None, esmtp, helo)}")
    if reply == R.BAD_NOTIFY:
        m = _NOTIFY.search(command)
        if m:
            bad = next((w for w in m.group(1).split(",") if w.upper() not in _NOTIFY_WORDS), m.group(1))
            return "warning", f'unknown DSN NOTIFY command value "{R.printable(bad)}" in "{R.printable(m.group(1))}"'
    return None
