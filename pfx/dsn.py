"""Enhanced status codes (RFC 3463) and SMTP replies as frozen values.

A Dsn's class digit and a Reply's code must agree, so that a "sent" status with a
4.x.x code, or a 250 reply carrying 5.1.1, cannot be built.
"""

import errno as _errno
import re

import attrs

_DSN_RE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")


def _check_dsn(instance, attribute, value):
    if not isinstance(value, str) or not _DSN_RE.match(value):
        raise ValueError(f"bad enhanced status code: {value!r}")


@attrs.frozen(order=True)
class Dsn:
    """An enhanced status code such as 4.3.0."""

    code: str = attrs.field(validator=_check_dsn)

    @property
    def klass(self) -> str:
        return self.code[0]

    def soften(self) -> "Dsn":
        """5.x.y becomes 4.x.y (soft_bounce)."""
        return Dsn("4" + self.code[1:]) if self.klass == "5" else self

    def __str__(self):
        return self.code


def _check_reply(instance, attribute, value):
    if not (200 <= value <= 599):
        raise ValueError(f"bad SMTP reply code: {value!r}")


@attrs.frozen
class Reply:
    """One SMTP reply: code, optional enhanced status code, text (lines split on \\n)."""

    code: int = attrs.field(validator=_check_reply)
    dsn: Dsn | None = None
    text: str = ""

    def __attrs_post_init__(self):
        if self.dsn is not None and str(self.code)[0] != self.dsn.klass:
            raise ValueError(f"reply {self.code} cannot carry status {self.dsn}")
        if "\r" in self.text:
            raise ValueError("reply text must not contain CR")

    def lines(self) -> list[str]:
        """The reply as wire lines without CRLF: ``250-...`` continuation, ``250 ...`` last."""
        parts = self.text.split("\n") if self.text else [""]
        out = []
        for i, part in enumerate(parts):
            sep = " " if i == len(parts) - 1 else "-"
            body = f"{self.dsn} {part}" if self.dsn is not None else part
            out.append(f"{self.code}{sep}{body}")
        return out

    def __str__(self):
        return "\n".join(self.lines())


# errno -> DSN, Postfix's mbox_dsn(): out of space is temporary, permission problems
# are configuration errors (also temporary: an admin can fix them), the rest 4.2.0.
_ERRNO_DSN = {
    _errno.ENOSPC: "4.3.1",
    _errno.EDQUOT: "4.2.2",
    _errno.EFBIG: "5.2.2",
    _errno.EACCES: "4.3.0",
    _errno.EPERM: "4.3.0",
    _errno.ENOENT: "4.3.0",
}


def errno_to_dsn(err: int, default: str = "4.2.0") -> Dsn:
    """The enhanced status code for a failed mailbox or queue write."""
    return Dsn(_ERRNO_DSN.get(err, default))
