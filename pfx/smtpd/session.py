"""One SMTP session's state: events from pfx.smtp become Replies (plain or Deferred), the
envelope is built and the body streamed to cleanup through IMailSubmitter.

Security: every event carries untrusted client input. Addresses reach the restrictions
and the envelope in internal form; client text is echoed only through printable().
Nothing here writes files: the message goes to the IMessageWriter that
IMailSubmitter.open_message() returns, and 250 is sent only when its commit() fires.
Parameters read (through SmtpdConfig): smtpd_banner, myhostname, mail_name,
message_size_limit, disable_vrfy_command, smtpd_discard_ehlo_keywords,
smtputf8_enable, smtpd_delay_reject, smtpd_tls_loglevel, smtpd_tls_received_header
and the smtpd_*_restrictions lists (what those read is in checks.py's families).
AUTH is delegated to pfx.smtpd.sasl.AuthDialogue (``sasl``; None without SASL): it
decides the EHLO mechanisms and the AUTH replies; this module logs and records the
login (client= line, Received ESMTPA, the envelope's Client).
"""

import time

import attrs
from twisted.internet import defer

from pfx.dsn import Dsn, Reply
from pfx.envelope import Client, Envelope, Recipient
from pfx.smtp import replies as R
from pfx.smtp.ehlo import ehlo_reply
from pfx.smtp.events import (Auth, AuthResponse, Bdat, ConnectionClosed, Data, DataChunk, DataRejected, Ehlo,
                             EndOfChunk, EndOfData, Etrn, Helo, MailFrom, Noop, Quit, RcptTo, Reject, Rset,
                             StartTLS, Vrfy)
from pfx.smtpd import access, dnschecks, policy, restrictions, sasl_login  # noqa: F401  (they register restrictions)
from pfx.smtpd import addr, sasl as sasl_mod
from pfx.smtpd.actions import MessageActions
from pfx.smtpd.checks import SERVER_CONFIG_ERROR, CheckState, ConfigProblem, evaluate_now, stages_for, then
from pfx.smtpd.footer import apply_footer
from pfx.smtpd.logtext import log_tail, machine_reject_line, reply_text
from pfx.smtpd.received import received_header

QUEUE_WRITE_ERROR = Reply(451, Dsn("4.3.0"), "Error: queue file write error")
INTERNAL_ERROR = Reply(451, Dsn("4.3.0"), "Error: internal error")
SMTPUTF8_REQUIRED = Reply(553, Dsn("5.6.7"), "Must declare SMTPUTF8 to send unicode address")
OVER_LIMIT = "{host} Error: too many connections from {addr}"


class Session:
    """Turns the machine's events into replies for one connection; see handle()."""

    def __init__(self, conn, config, client: Client, log, clock, submitter, tables=None,
                 over_limit=False, name_lookup=None, resolver=None, policy=None, sasl=None, limits=None):
        self.conn = conn
        self.config = config
        self.client = client
        self.log = log
        self.clock = clock
        self._submitter = submitter  # () -> IMailSubmitter; raises LookupError if none
        self.over_limit = over_limit
        self.limits = limits  # pfx.smtpd.anvil.EventLimits (message and recipient rates), or None
        self._name_lookup = name_lookup  # addr -> Deferred[name or "unknown"] (smtpd_peername_lookup)
        self.check = CheckState(config, client.name, client.addr, tables=tables, resolver=resolver, policy=policy)
        self.access_denied: Reply | None = None
        self.timed_out = False
        self._transactions = 0
        self.tls_info = None  # "TLSv1.3 with cipher X (256/256 bits)" once TLS is up
        self.writer = None
        self._where = None  # overrides conn.where after the body: END-OF-MESSAGE
        self.sasl = sasl  # pfx.smtpd.sasl.AuthDialogue, or None without smtpd_sasl_auth_enable
        self.actions = MessageActions()  # access(5) HOLD, DISCARD, ... PREPEND (actions.py)
        self._reset()

    # -- identity ---------------------------------------------------------------

    @property
    def namaddr(self) -> str:
        return f"{self.client.name}[{self.client.addr}]"

    @property
    def where(self) -> str:
        return self._where or self.conn.where

    def protocol_name(self) -> str:
        proto = "ESMTP" if self.check.esmtp else "SMTP"
        # RFC 3848, as Postfix writes it: ESMTP, ESMTPS, ESMTPA, ESMTPSA
        return proto + ("S" if self.conn.tls_active else "") + ("A" if self.sasl_username else "")

    @property
    def sasl_method(self) -> str:
        return self.sasl.method if self.sasl is not None and self.conn.authenticated else ""

    @property
    def sasl_username(self) -> str:
        return self.sasl.username if self.sasl is not None and self.conn.authenticated else ""

    # -- the transaction --------------------------------------------------------

    def _reset(self):
        if self.writer is not None:
            self.writer.abort()
        self.writer = None
        self.sender = None
        self.mail_params = None
        self.recipients = []
        self.actions.reset()
        self.first_rcpt_text = ""
        self.queue_id = None
        self._failed: Reply | None = None
        self.check.sender = self.check.recipient = None

    # -- entry points the protocol calls ---------------------------------------------

    def greeting(self):
        """-> Reply or Deferred[Reply]: the banner once the client's name is known (and,
        without smtpd_delay_reject, its restrictions checked), or 421 over the limit."""
        if self._name_lookup is None or self.over_limit:
            return self._greet()
        d = self._name_lookup(self.client.addr)
        d.addErrback(lambda failure: "unknown")
        return d.addCallback(self._named)

    def _named(self, name):
        self.client = attrs.evolve(self.client, name=name or "unknown")
        self.check.client_name = self.client.name
        return self._greet()

    def _greet(self):
        self.log.info(f"connect from {self.namaddr}")
        if self.over_limit:
            why = self.over_limit if isinstance(self.over_limit, str) else "Connection concurrency limit exceeded"
            self.log.warning(why.replace("{namaddr}", self.namaddr))
            return self.footer(Reply(421, Dsn("4.7.0"),
                                     OVER_LIMIT.format(host=self.config.myhostname, addr=self.client.addr)))
        banner = Reply(220, None, self.config.banner)
        if self.config.delay_reject:
            return banner
        return then(self._run_checks("CONNECT"), self._note_access_denied, banner)

    def _note_access_denied(self, reply, banner):
        self.access_denied = reply
        return banner

    def tls_started(self):
        """STARTTLS succeeded: forget HELO and the transaction, as the machine did."""
        self._reset()
        self.check.helo = None  # the protocol name stays, as in Postfix
        if self.sasl is not None:
            self.sasl.reset()

    def tls_established(self, info):
        """TLS is up: ``info`` is (protocol, cipher, bits) or None when unknown."""
        if info is not None:
            version, cipher, bits = info
            self.tls_info = f"{version} with cipher {cipher} ({bits}/{bits} bits)"
        if self.config.tls_loglevel >= 1:
            self.log.info(f"Anonymous TLS connection established from {self.namaddr}: {self.tls_info or 'unknown'}")

    def timeout_reply(self) -> Reply:
        self.timed_out = True
        self.log.info(f"timeout after {self.where} from {self.namaddr}")
        return self.footer(R.timeout(self.config.myhostname))

    def internal_error(self, failure) -> Reply:
        self.log.warning(f"{self.namaddr}: internal error: {failure.getErrorMessage()}")
        return INTERNAL_ERROR

    def lost(self):
        """The connection is gone: drop an unfinished message and log the summary."""
        if self.writer is not None:
            self.writer.abort()
            self.writer = None
        if self.sasl is not None:
            self.sasl.abort()  # an AUTH still waiting for its backend
        if not self.conn.closed and not self.timed_out:
            self.log.info(f"lost connection after {self.where} from {self.namaddr}")
        self.log.info(f"disconnect from {self.namaddr} {self.conn.disconnect_summary()}")

    def handle(self, event):
        """-> Reply, Deferred[Reply], or None for events that need no reply."""
        handler = _DISPATCH.get(type(event))
        if event.needs_reply and not isinstance(event, (EndOfData, EndOfChunk, DataRejected)):
            self._where = None  # a new command: conn.where names it again
        if handler is None:
            return INTERNAL_ERROR if event.needs_reply else None
        result = handler(self, event)
        if not event.needs_reply or not self.config.reject_footer:
            return result
        if isinstance(result, defer.Deferred):
            return result.addCallback(self.footer)
        return self.footer(result)

    def footer(self, reply):
        """smtpd_reject_footer after a 4xx/5xx reply."""
        if not self.config.reject_footer:
            return reply
        values = {"client_address": self.client.addr, "client_name": self.client.name,
                  "client_port": self.client.port, "server_name": self.config.myhostname,
                  "localtime": time.strftime("%b %e %H:%M:%S", time.localtime(self.clock.seconds()))}
        return apply_footer(reply, self.config.reject_footer, values)

    # -- commands ---------------------------------------------------------------

    def _helo(self, event):
        self._reset()
        self.check.helo = R.printable(event.hostname, 255)  # it reaches logs and the Received header
        self.check.esmtp = self.check.esmtp or isinstance(event, Ehlo)  # Postfix never downgrades to SMTP
        if isinstance(event, Ehlo) and self.sasl is not None:
            return self.sasl.offered(self.conn.tls_active).addCallback(self._ehlo_ok, event)
        return self._ehlo_ok([], event)

    def _ehlo_ok(self, mechanisms, event):
        if isinstance(event, Ehlo):
            c = self.config
            ok = ehlo_reply(c.myhostname, message_size_limit=c.server.message_size_limit,
                            vrfy=not c.server.disable_vrfy_command,
                            starttls=self.conn.config.tls_available and not self.conn.tls_active,
                            auth_mechanisms=mechanisms, broken_auth_clients=c.sasl.broken_clients,
                            smtputf8=c.server.smtputf8_enable, discard=c.server.smtpd_discard_ehlo_keywords)
        else:
            ok = Reply(250, None, self.config.myhostname)
        if self.config.delay_reject:
            return ok
        return self._checked("HELO" if isinstance(event, Helo) else "EHLO", ok)

    def _mail(self, event):
        if self.limits and (refusal := self.limits.mail(self.client.name, self.client.addr, self.log)):
            return refusal  # smtpd_client_message_rate_limit
        if self.access_denied is not None:
            return self._denied()
        address = event.address
        if not address.isascii() and not event.params.smtputf8:
            return SMTPUTF8_REQUIRED
        self._reset()
        self.sender = addr.internal(address) if address else ""
        self.mail_params = event.params
        self.check.sender = self.sender
        auth = getattr(event.params, "auth", None)
        self.check.sasl_sender = auth if auth and auth != "<>" else ""
        self._transactions += 1
        self.check.instance = f"{id(self) & 0xffffff:x}.{self._transactions}"
        if self.config.delay_reject:
            return R.MAIL_OK
        return then(self._checked("MAIL", R.MAIL_OK), self._forget_sender_if_refused)

    def _forget_sender_if_refused(self, reply):
        if reply.code >= 300:
            self.sender = self.check.sender = None
        return reply

    def _rcpt(self, event):
        if self.limits and (refusal := self.limits.rcpt(self.client.name, self.client.addr, self.log)):
            return refusal  # smtpd_client_recipient_rate_limit
        if self.access_denied is not None:
            return self._denied()
        address = event.address
        if not address.isascii() and not (self.mail_params and self.mail_params.smtputf8):
            return SMTPUTF8_REQUIRED
        internal = addr.internal(address)
        self.check.recipient = internal
        p = event.params
        orcpt = f"{p.orcpt_type};{p.orcpt}" if p.orcpt is not None else None
        rcpt = Recipient(internal, orcpt=orcpt, notify=p.notify or frozenset())

        def accept(reply):
            if reply.code < 300:
                self.recipients.append(rcpt)
                if len(self.recipients) == 1:
                    self.first_rcpt_text = R.printable(address, 1000)
            return reply
        return then(self._checked("RCPT", R.RCPT_OK), accept)

    def _denied(self):
        return Reply(503, Dsn("5.7.0"), f"Error: access denied for {self.namaddr}")

    def _data(self, event):
        if self.access_denied is not None:
            return self._denied()
        return then(self._checked("DATA", R.START_DATA), self._open_if_354)

    def _open_if_354(self, reply):
        if reply.code != 354:
            return reply
        return self._open() or reply

    def _open(self) -> Reply | None:
        """Open the queue file and write our Received header; a Reply on failure."""
        try:
            extra = {"content_filter": cf} if (cf := self.config.content_filter) else {}
            self.writer = self._submitter().open_message(self._envelope(), **extra)
        except Exception as e:
            self.log.warning(f"{self.namaddr}: cannot open a queue file: {e}")
            self.writer = None
            return QUEUE_WRITE_ERROR
        self.queue_id = str(self.writer.queue_id)
        auth = self.mail_params.auth if self.mail_params is not None else None
        sasl = sasl_mod.log_attributes(self.sasl_method, self.sasl_username, auth)
        self.log.info(f"{self.queue_id}: client={self.namaddr}{sasl}")
        prepend = "".join(f"{header}\n" for header in self.actions.headers())  # access(5) PREPEND
        self.writer.write((self.received_header() + prepend).encode("utf-8", "surrogateescape"))
        return None

    def _envelope(self) -> Envelope:
        params = self.mail_params
        client = Client(name=self.client.name, addr=self.client.addr, port=self.client.port,
                        helo=self.check.helo or "", protocol=self.protocol_name(),
                        sasl_method=self.sasl_method, sasl_username=self.sasl_username)
        return Envelope(sender=self.sender or "", recipients=self.recipients, client=client,
                        envid=params.envid if params else None, ret=params.ret if params else None,
                        body_type=(params.body or "") if params else "",
                        smtputf8=bool(params and params.smtputf8), arrival=self.clock.seconds(),
                        actions=self.actions.for_envelope())

    def received_header(self) -> str:
        c = self.config
        tls = self.tls_info if c.tls_received_header and self.conn.tls_active else None
        return received_header(helo=self.check.helo, name=self.client.name, addr=self.client.addr,
                               myhostname=c.myhostname, mail_name=c.mail_name, protocol=self.protocol_name(),
                               queue_id=self.queue_id, recipient=self.first_rcpt_text if len(self.recipients) == 1
                               else None, when=self.clock.seconds(), tls_info=tls,
                               auth_user=self.sasl_username if c.sasl.authenticated_header else "")

    def _chunk(self, event):
        """-> None, or the writer's Deferred when it wants us to wait (backpressure)."""
        if self.writer is None:
            return None
        try:
            taken = self.writer.write(event.data)
        except Exception as e:  # cleanup could not take it: read on, answer at the end
            return self._write_failed(e)
        if isinstance(taken, defer.Deferred):
            return taken.addErrback(lambda failure: self._write_failed(failure.value))
        return None

    def _write_failed(self, error):
        self.log.warning(f"{self.queue_id}: write error: {error}")
        if self.writer is not None:
            self.writer.abort()
            self.writer = None
        self._failed = QUEUE_WRITE_ERROR
        return None

    def _bdat(self, event):
        if self.writer is None and self._failed is None:
            self._failed = self._open()
        return None

    def _end_of_data(self, event):
        self._where = "END-OF-MESSAGE"
        if self._failed is not None:
            reply = self._failed
            self._reset()
            return reply
        return then(self._checked("END-OF-MESSAGE", None), self._commit, None)

    def _end_of_chunk(self, event):
        if self._failed is not None:
            reply, self._failed = self._failed, None
            self._reset()
            return reply
        if not event.last:
            return R.chunk_ok(event.total)
        self._where = "END-OF-MESSAGE"
        return then(self._checked("END-OF-MESSAGE", None), self._commit, event.total)

    def _commit(self, refusal, total):
        writer, self.writer = self.writer, None
        if refusal is not None:
            if writer is not None:
                writer.abort()
            self._reset()
            return refusal
        qid, late = self.queue_id, self.actions.for_commit()
        self._reset()
        d = defer.maybeDeferred(writer.commit, *((late,) if late else ()))

        def done(queue_id):
            return R.queued(str(queue_id or qid), total)

        def failed(failure):
            reply = getattr(failure.value, "reply", None)
            if isinstance(reply, Reply) and reply.code >= 400:
                self.log.info(f"{qid}: reject: END-OF-MESSAGE from {self.namaddr}: {reply_text(reply)}; "
                              f"{self._log_tail()}")
                return reply
            self.log.warning(f"{qid}: commit failed: {failure.getErrorMessage()}")
            return QUEUE_WRITE_ERROR
        return d.addCallbacks(done, failed)

    def _data_rejected(self, event):
        self._where = "END-OF-MESSAGE"
        self._reset()
        return event.reply

    def _rset(self, event):
        self._reset()
        return R.OK

    def _noop(self, event):
        return R.OK

    def _vrfy(self, event):
        """252 for an address the recipient restrictions accept (Postfix runs them for VRFY)."""
        text = event.argument.strip()
        address = text[1:-1] if text.startswith("<") and text.endswith(">") else text
        ok = Reply(252, Dsn("2.0.0"), R.printable(event.argument))
        if not address:
            return ok
        saved = self.check.recipient
        self.check.recipient = addr.internal(address)
        d = defer.maybeDeferred(self._checked, "VRFY", ok)

        def restore(reply):
            self.check.recipient = saved
            return reply
        return d.addBoth(restore)

    def _etrn(self, event):
        # No fast flush service yet: Postfix's answer for a domain it does not flush.
        return Reply(459, None, f"<{R.printable(event.argument)}>: service unavailable")  # no status code

    def _quit(self, event):
        return R.BYE

    def _starttls(self, event):
        return R.READY_TLS if self.conn.config.tls_available else R.TLS_UNAVAILABLE

    def _auth(self, event):
        if self.sasl is None:
            return R.AUTH_NOT_ENABLED
        if isinstance(event, AuthResponse):
            return self.sasl.respond(event)
        return self.sasl.begin(event, self.conn.tls_active)

    def _reject(self, event):
        line = machine_reject_line(event, self.namaddr, self.where, self.check.esmtp, self.check.helo)
        if line is not None:
            getattr(self.log, line[0])(line[1])
        return event.reply

    def _closed(self, event):
        return None

    # -- restrictions -------------------------------------------------------------

    def _checked(self, command: str, ok):
        """Run the lists ``command`` triggers -> ok or the refusal (logged), or a Deferred of it."""
        return then(self._run_checks(command), lambda refusal: ok if refusal is None else refusal)

    def _run_checks(self, command: str):
        stages = stages_for(command, self.config.delay_reject)
        self.check.command = command
        self.check.input_pending = self.conn.input_pending
        self.check.rcpt_count = len(self.recipients)
        self.check.sasl_authenticated = self.conn.authenticated
        self.check.sasl_username, self.check.sasl_method = self.sasl_username, self.sasl_method
        if not stages:
            return None

        def verdict(v):
            for kind, notes in (("warn", self.check.notes), ("info", self.check.infos)):
                for note in notes:
                    self.log.info(f"{self.queue_id or 'NOQUEUE'}: {kind}: {command} from {self.namaddr}: "
                                  f"{note}; {self._log_tail()}")
                del notes[:]
            for warning in self.check.warnings:
                self.log.warning(warning)
            del self.check.warnings[:]
            actions, self.check.actions[:] = list(self.check.actions), []
            if v.reply is None:
                self.actions.keep(command, actions, self.log, self.queue_id, self.namaddr, self._log_tail())
            for w in v.warnings:
                self._log_reject(command, w, "reject_warning")
            if v.reply is not None:
                self._log_reject(command, v.reply, "reject")
            return v.reply

        def problem(failure):
            failure.trap(ConfigProblem)
            self.log.warning(f"{failure.getErrorMessage()}")
            return SERVER_CONFIG_ERROR
        return evaluate_now(self.check, stages, verdict, problem)

    def _log_reject(self, command, reply, what):
        qid = self.queue_id or "NOQUEUE"
        self.log.info(f"{qid}: {what}: {command} from {self.namaddr}: {reply_text(reply)}; {self._log_tail()}")

    def _log_tail(self) -> str:
        return log_tail(self.check.sender, self.check.recipient, self.check.esmtp, self.check.helo)


_DISPATCH = {
    Helo: Session._helo, Ehlo: Session._helo, MailFrom: Session._mail, RcptTo: Session._rcpt,
    Data: Session._data, DataChunk: Session._chunk, EndOfData: Session._end_of_data,
    DataRejected: Session._data_rejected, Bdat: Session._bdat, EndOfChunk: Session._end_of_chunk,
    Rset: Session._rset, Noop: Session._noop, Vrfy: Session._vrfy, Etrn: Session._etrn,
    Quit: Session._quit, StartTLS: Session._starttls, Auth: Session._auth, AuthResponse: Session._auth,
    Reject: Session._reject, ConnectionClosed: Session._closed,
}
