"""access(5) actions that concern the whole message (smtpd_check.c's saved flags): what
the session keeps of them and hands on.

access.py records HOLD, DISCARD, REDIRECT, FILTER, BCC and PREPEND on the CheckState as
(name, value, log text); once a command's checks are done, keep() logs them as Postfix
does and keeps them, unless the command was refused (a rejected RCPT's actions are
forgotten, as Postfix restores its saved flags) or was VRFY. CONNECT and HELO/EHLO
actions last for the session; the others for one transaction. The Envelope's
``actions`` carry all but PREPEND to cleanup, which applies them as it applies its own
header_checks results; PREPEND's header the session writes after its Received header.
END-OF-MESSAGE actions come after the envelope was handed over: they go to cleanup
with the commit (as Postfix's smtpd sends its saved flags before the END record),
except PREPEND, which is too late then and is ignored with a warning.

Security: the values are the administrator's table results, not client input.
"""

_SESSION_COMMANDS = ("CONNECT", "HELO", "EHLO")


class MessageActions:
    def __init__(self):
        self.session = []  # from CONNECT/HELO/EHLO checks: every transaction's
        self.transaction = []
        self.late = []  # END-OF-MESSAGE's, for the commit

    def reset(self):
        """A new transaction (MAIL, RSET, HELO): its own actions are gone."""
        self.transaction = []
        self.late = []

    def keep(self, command, actions, log, queue_id, namaddr, tail):
        """The actions of an accepted ``command``'s checks: log them and keep them."""
        if not actions or command == "VRFY":
            return
        kept = self.session if command in _SESSION_COMMANDS else self.transaction
        if command == "END-OF-MESSAGE":
            kept = self.late
        for action in actions:
            name, _, text = action
            if kept is self.late and name == "prepend":
                log.warning(f"{queue_id}: access table action PREPEND is unavailable at "
                            f"END-OF-MESSAGE (the headers are written); ignored")
                continue
            if text is not None:
                log.info(f"{queue_id or 'NOQUEUE'}: {name}: {command} from {namaddr}: {text}; {tail}")
            if action not in kept and action not in self.session:
                kept.append(action)  # smtpd_delay_reject repeats the client checks per RCPT

    def _all(self):
        return [(name, value) for name, value, _ in self.session + self.transaction]

    def for_envelope(self) -> tuple:
        """The Envelope's ``actions``: (name, value) for cleanup."""
        return tuple(a for a in self._all() if a[0] != "prepend")

    def for_commit(self) -> tuple:
        """END-OF-MESSAGE's actions, (name, value), for the writer's commit()."""
        return tuple((name, value) for name, value, _ in self.late)

    def headers(self) -> list:
        """PREPEND's header lines, in the order the checks asked for them."""
        return [value for name, value in self._all() if name == "prepend"]
