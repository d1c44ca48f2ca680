"""The Received: header smtpd prepends, exactly as Postfix writes it (smtpd.c), and mail_date() (pure)."""

import time

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def mail_date(when: float) -> str:
    """Postfix's mail_date(): ``Wed,  5 Nov 2026 09:56:24 +0000 (UTC)`` (day space-padded)."""
    tm = time.localtime(when)
    off = tm.tm_gmtoff // 60
    sign = "-" if off < 0 else "+"
    return (f"{_DAYS[tm.tm_wday]}, {tm.tm_mday:2d} {_MONTHS[tm.tm_mon - 1]} {tm.tm_year} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} {sign}{abs(off) // 60:02d}{abs(off) % 60:02d} "
            f"({tm.tm_zone})")


def received_header(*, helo, name, addr, myhostname, mail_name, protocol, queue_id, recipient, when,
                    tls_info=None, auth_user="") -> str:
    """``Received: from HELO (NAME [ADDR])\\n\\tby HOST (pfx) with ESMTP id QID\\n\\tfor <rcpt>; DATE\\n``.

    ``recipient`` is the one recipient's address as the client wrote it, or None when
    there are several (then the date follows the id); ``tls_info`` adds Postfix's
    smtpd_tls_received_header lines. LF line ends: cleanup stores lines, not bytes.
    """
    shown = f"IPv6:{addr}" if ":" in addr else addr
    head = f"Received: from {helo or name} ({name} [{shown}])\n"
    if tls_info:
        head += f"\t(using {tls_info})\n\t(No client certificate requested)\n"
    if auth_user:  # smtpd_sasl_authenticated_header
        head += f"\t(Authenticated sender: {auth_user})\n"
    head += f"\tby {myhostname} ({mail_name}) with {protocol} id {queue_id}"
    if recipient is not None:
        return f"{head}\n\tfor <{recipient}>; {mail_date(when)}\n"
    return f"{head};\n\t{mail_date(when)}\n"
