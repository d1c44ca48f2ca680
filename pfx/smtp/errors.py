"""Exceptions of the SMTP machines: the peer broke the protocol, or our caller did."""

from pfx.errors import Panic, PfxError


class RemoteProtocolError(PfxError):
    """The peer did something the machine cannot continue after.

    ``reply`` is what to send before closing, or None when nothing may be sent
    (for example plaintext pipelined after STARTTLS: answering it would leak
    the injected command's result into the TLS session).
    """

    def __init__(self, message, reply=None):
        super().__init__(message)
        self.reply = reply


class LocalProtocolError(Panic):
    """Our own caller misused the machine (a reply with no event to answer, ...)."""
