"""The exceptions pfx raises across module boundaries.

Severity decides who handles them (Postfix's msg_warn / msg_fatal / msg_panic and
dict.h's soft versus configuration errors): a ConfigError stops start-up with a message
that names the file, line and parameter; a TableRetry defers the mail that needed the
lookup; a QueueFileCorrupt sends one file to corrupt/; a Panic is a bug.
"""


class PfxError(Exception):
    """Base class of every pfx error."""


class ConfigError(PfxError):
    """A bad setting: names the file, line and parameter when they are known.

    str() gives the Postfix-shaped text, e.g.
    ``/etc/pfx/main.cf, line 12: parameter smtpd_timeout: bad time value: "10x"``.
    """

    def __init__(self, message, file=None, line=None, param=None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.param = param

    def __str__(self):
        where = []
        if self.file is not None:
            where.append(str(self.file) if self.line is None else f"{self.file}, line {self.line}")
        if self.param is not None:
            where.append(f"parameter {self.param}")
        return ": ".join(where + [self.message])


class TableRetry(PfxError):
    """A lookup failed for now (table unavailable, server down): defer, do not bounce."""


class TableConfigError(PfxError):
    """A table cannot be opened or parsed; the registry turns it into a surrogate."""


class QueueFileCorrupt(PfxError):
    """A queue file that cannot be trusted: qmgr moves it to corrupt/ and logs it."""


class SubmitRejected(PfxError):
    """cleanup refused a message or could not queue it; ``reply`` (a pfx.dsn.Reply,
    4xx or 5xx) is what to tell the submitter, e.g. ``452 4.3.1 Insufficient system
    storage``."""

    def __init__(self, reply):
        super().__init__(str(reply))
        self.reply = reply


class Panic(PfxError):
    """An impossible state (Postfix's msg_panic). Never raised for bad input."""
