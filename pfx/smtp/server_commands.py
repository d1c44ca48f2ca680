"""The SMTP server's per-command rules: syntax, order (via states.py) and the event each command becomes.

A mixin of ServerConnection, kept apart so that each file stays readable; it reads
and sets the connection's transaction state and nothing else.
"""

from pfx.smtp import replies as R
from pfx.smtp import states
from pfx.smtp.commands import CommandError, looks_like_header, parse_bdat, parse_mail, parse_rcpt, split_verb
from pfx.smtp.events import Auth, AuthResponse, Bdat, Data, DataRejected, Ehlo, Etrn, Helo, MailFrom, Noop, Quit, \
    RcptTo, Reject, Rset, StartTLS, Vrfy


class CommandHandlers:
    """One method per SMTP verb: (verb, argument text, whole line) -> an event (often a Reject)."""

    def _command(self, text: str):
        verb, arg = split_verb(text)
        if not verb:
            return Reject(R.BAD_SYNTAX, command=text)
        handler = _HANDLERS.get(verb)
        if handler is None:
            if verb in self.config.smtpd_forbidden_commands or looks_like_header(text):
                return Reject(R.FORBIDDEN_COMMAND, command=text, close=True, counts=False)
            return Reject(R.NOT_RECOGNIZED, command=text)
        self.where = verb
        c = self.config
        if (c.smtpd_forbid_unauth_pipelining and self._buf and verb != "BDAT"
                and (not (self.esmtp and c.offers("pipelining")) or verb in states.LAST_IN_GROUP)):
            return Reject(R.PIPELINING_SYNC, command=text, close=True)
        if c.tls_required and not self.tls_active and verb not in states.PRE_TLS:
            if verb == "BDAT":  # its chunk must still be read past, never run as commands
                return self._bdat_command(verb, arg, text, R.MUST_STARTTLS)
            return Reject(R.MUST_STARTTLS, command=text)
        return handler(self, verb, arg, text)

    def _refused(self, verb):
        return states.refusal(self.phase, verb, self.config.smtpd_helo_required)

    def _helo(self, verb, arg, text):
        if not arg:
            return Reject(R.SYNTAX_HELO if verb == "HELO" else R.SYNTAX_EHLO, command=text)
        self._reset_transaction()  # RFC 5321 4.1.4: as if RSET
        return Helo(arg) if verb == "HELO" else Ehlo(arg)

    def _mail(self, verb, arg, text):
        if (refused := self._refused(verb)) is not None:
            return Reject(refused, command=text)
        c = self.config
        try:
            address, params = parse_mail(arg, size_limit=c.message_size_limit, dsn=c.offers("dsn"),
                                         smtputf8=c.smtputf8_enable and c.offers("smtputf8"),
                                         auth=True)  # Postfix takes AUTH= even without SASL
        except CommandError as e:
            return Reject(e.reply, command=text)
        return MailFrom(address, params)

    def _rcpt(self, verb, arg, text):
        if (refused := self._refused(verb)) is not None:
            return Reject(refused, command=text)
        try:
            address, params = parse_rcpt(arg, dsn=self.config.offers("dsn"))
        except CommandError as e:
            return Reject(e.reply, command=text)
        limit = self.config.smtpd_recipient_limit
        if limit and self.rcpt_count >= limit:
            # Postfix counts these as errors only beyond the overshoot limit.
            self._rcpt_overshoot += 1
            counts = self._rcpt_overshoot > self.config.smtpd_recipient_overshoot_limit
            return Reject(R.TOO_MANY_RECIPIENTS, command=text, counts=counts)
        return RcptTo(address, params)

    def _data_command(self, verb, arg, text):
        if (refused := self._refused(verb)) is not None:
            return Reject(refused, command=text)
        if arg:
            return Reject(R.SYNTAX_DATA, command=text)
        return Data()

    def _bdat_command(self, verb, arg, text, gate=None):
        size, last, ok = parse_bdat(arg)
        if size is None:  # we cannot know where the chunk ends: give up on the stream
            if not self.config.offers("chunking"):
                return Reject(R.NOT_IMPLEMENTED, command=text)
            return Reject(R.SYNTAX_BDAT_FATAL, command=text, close=True)
        verdict = None
        if gate is not None or not self.config.offers("chunking"):
            verdict = Reject(gate or R.NOT_IMPLEMENTED, command=text)
        elif not ok:
            verdict = Reject(R.SYNTAX_BDAT, command=text)
        elif (refused := self._refused(verb)) is not None:
            verdict = Reject(refused, command=text)
        elif size == 0 and not last:
            return Reject(R.NULL_BDAT, command=text)
        elif self._bdat_error:
            verdict = Reject(R.discarded(size), command=text)
            self._reset_after = last
        else:
            limit = self.config.message_size_limit
            self.in_bdat = True
            if limit and self.bdat_total + size > limit:
                verdict = DataRejected(R.CHUNK_TOO_BIG)
        self._mode = "bdat"
        self._chunk_left = self._chunk_size = size
        self._chunk_last = last
        self._chunk_verdict = verdict
        self._drop_skipped()
        if verdict is not None:
            return self._bdat()
        return Bdat(size, last)

    def _rset(self, verb, arg, text):
        if arg:
            return Reject(R.SYNTAX_RSET, command=text)
        self._reset_transaction()
        return Rset()

    def _noop(self, verb, arg, text):
        return Noop()

    def _vrfy(self, verb, arg, text):
        if self.config.disable_vrfy_command or not self.config.offers("vrfy"):
            return Reject(R.VRFY_DISABLED, command=text)
        if not arg:
            return Reject(R.SYNTAX_VRFY, command=text)
        return Vrfy(arg)

    def _etrn(self, verb, arg, text):
        if not self.config.offers("etrn"):
            return Reject(R.NOT_IMPLEMENTED, command=text)
        if (refused := self._refused(verb)) is not None:
            return Reject(refused, command=text)
        if not arg or len(arg.split()) != 1:
            return Reject(R.SYNTAX_ETRN, command=text)
        return Etrn(arg)

    def _quit(self, verb, arg, text):
        return Quit()

    def _starttls(self, verb, arg, text):
        if arg:
            return Reject(R.SYNTAX_STARTTLS, command=text)
        if self.tls_active:
            return Reject(R.TLS_ACTIVE, command=text)
        if not self.config.tls_available or not self.config.offers("starttls"):
            return Reject(R.NOT_IMPLEMENTED, command=text)
        return StartTLS()

    def _auth(self, verb, arg, text):
        if not self.config.sasl_enabled or not self.config.offers("auth"):
            return Reject(R.AUTH_NOT_ENABLED, command=text)
        if (refused := self._refused(verb)) is not None:
            return Reject(refused, command=text)
        words = arg.split()
        if not 1 <= len(words) <= 2:
            return Reject(R.SYNTAX_AUTH, command=text)
        if self.authenticated:
            return Reject(R.ALREADY_AUTHENTICATED, command=text)
        return Auth(words[0].upper(), words[1] if len(words) == 2 else None)

    def _auth_line(self, text: str):
        return AuthResponse(text.strip(" \t"))


_HANDLERS = {
    "HELO": CommandHandlers._helo,
    "EHLO": CommandHandlers._helo,
    "MAIL": CommandHandlers._mail,
    "RCPT": CommandHandlers._rcpt,
    "DATA": CommandHandlers._data_command,
    "BDAT": CommandHandlers._bdat_command,
    "RSET": CommandHandlers._rset,
    "NOOP": CommandHandlers._noop,
    "VRFY": CommandHandlers._vrfy,
    "ETRN": CommandHandlers._etrn,
    "QUIT": CommandHandlers._quit,
    "STARTTLS": CommandHandlers._starttls,
    "AUTH": CommandHandlers._auth,
}
