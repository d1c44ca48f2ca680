"""One SMTP or LMTP session with one server: greeting, EHLO/LHLO, STARTTLS, AUTH, MAIL, RCPT, DATA.

Returns one Outcome per recipient it was given, with Postfix's texts: ``host
mx.example.com[192.0.2.1] said: 451 4.3.0 ... (in reply to RCPT TO command)``,
``lost connection with X while sending MAIL FROM``, ``conversation with X timed out
while ...``. A failure that concerns the whole session raises SessionFailed; the
agent then decides whether the next server gets the recipients.

Security: every server reply is untrusted and reaches us already bounded by the
ClientConnection; we quote it in statuses (the bounce's Diagnostic-Code), never
act on its text. STARTTLS: ``may`` continues in plaintext only when the server does
not offer STARTTLS or refuses it with a reply; after a failed handshake the
connection is closed, never reused in plaintext. SASL credentials never appear in
any text here.
"""

import attrs
from twisted.internet import defer

from pfx.address.quote import quote_821_local, quote_822_local
from pfx.agents.smtp import mime, sasl, tls_policy
from pfx.agents.smtp.protocol import ProtocolViolation, SessionTimeout, TlsFailed
from pfx.smtp.client import ServerClosed
from pfx.smtp.errors import RemoteProtocolError
from pfx.smtp.events import MailParams, RcptParams

CHUNK = 65536
_IN_REPLY = {"CONNECT": "initial greeting", "EHLO": "EHLO command", "HELO": "HELO command",
             "LHLO": "LHLO command", "STARTTLS": "STARTTLS command", "AUTH": "AUTH command",
             "MAIL": "MAIL FROM command", "RCPT": "RCPT TO command", "DATA": "DATA command",
             "END": "end of DATA command", "RSET": "RSET command", "QUIT": "QUIT command"}
_WHILE = {"CONNECT": "receiving the initial server greeting",
          "EHLO": "performing the EHLO handshake", "HELO": "performing the HELO handshake",
          "LHLO": "performing the LHLO handshake", "STARTTLS": "sending STARTTLS",
          "AUTH": "authenticating", "MAIL": "sending MAIL FROM", "RCPT": "sending RCPT TO",
          "DATA": "sending DATA command", "BODY": "sending message body",
          "END": "sending end of data -- message may be sent more than once",
          "QUIT": "sending QUIT", "RSET": "sending RSET"}
_HANDSHAKE = ("CONNECT", "EHLO", "HELO", "LHLO")
_STAGE = {"CONNECT": "helo", "EHLO": "helo", "HELO": "helo", "LHLO": "helo",
          "STARTTLS": "starttls", "AUTH": "helo", "MAIL": "mail", "RCPT": "rcpt",
          "DATA": "data_init", "END": "data_done", "QUIT": "quit", "RSET": "rset"}


@attrs.frozen
class Outcome:
    """What happened to one recipient in one session."""

    action: str  # sent | deferred | bounced
    dsn: str
    text: str
    remote: str | None = None  # the server's reply, one line

    @property
    def soft(self) -> bool:
        return self.action == "deferred"


class SessionFailed(Exception):
    """The session ended before per-recipient results: one Outcome for all recipients.

    ``handshake_done``: the session got past the greeting and EHLO (it counts against
    smtp_mx_session_limit); ``tls_failed``: a ``may`` handshake failed, so a new
    plaintext connection may be tried.
    """

    def __init__(self, outcome, handshake_done=False, tls_failed=False):
        # Session.partial keeps the final per-recipient results that came before the
        # failure (a 5xx RCPT, an LMTP 250 after DATA); only the rest get ``outcome``
        super().__init__(outcome.text)
        self.outcome = outcome
        self.handshake_done = handshake_done
        self.tls_failed = tls_failed


def reply_line(reply) -> str:
    """A reply as Postfix quotes it: the wire lines joined by spaces."""
    return " ".join(reply.lines())


def reply_dsn(reply) -> str:
    return str(reply.dsn) if reply.dsn is not None else f"{str(reply.code)[0]}.0.0"


class Session:
    """Runs one dialogue over a connected SmtpClientProtocol."""

    def __init__(self, proto, target, config, request, recipients, policy, runtime,
                 tls_creator=None):
        self.proto, self.conn = proto, proto.conn
        self.target, self.config, self.request = target, config, request
        self.recipients = recipients  # the Recipients still to deliver, in request order
        self.policy = policy
        self.runtime = runtime
        self.tls_creator = tls_creator  # policy -> IOpenSSLClientConnectionCreator
        self.handshake_done = False
        self.reusable = False  # the transaction ended cleanly: the connection may be cached
        self.partial: list[Outcome | None] = [None] * len(recipients)
        self.started = False  # MAIL FROM was sent
        self.setup_done = None  # when it was: the end of connection set-up (delays c/d)
        self._esmtp = True  # the greeting allows EHLO (see _open)

    # -- helpers --------------------------------------------------------------------------

    def _outcome(self, reply, command) -> Outcome:
        line = reply_line(reply)
        if 200 <= reply.code < 300:
            return Outcome("sent", reply_dsn(reply), line, line)
        action = "deferred" if reply.code < 500 else "bounced"
        if command in _HANDSHAKE:  # smtp_helo(): the greeting, EHLO, HELO or LHLO refused
            text = f"host {self.target.name} refused to talk to me: {line}"
        else:
            text = f"host {self.target.name} said: {line} (in reply to {_IN_REPLY[command]})"
        return Outcome(action, reply_dsn(reply), text, line)

    def _fail(self, dsn, text, **kw):
        action = "deferred" if dsn.startswith("4") else "bounced"
        raise SessionFailed(Outcome(action, dsn, text), self.handshake_done, **kw)

    async def _reply(self, command):
        """The next reply, expected to answer ``command``; lost/timeout -> SessionFailed."""
        timeout = self.config.timeouts[_STAGE[command]]
        try:
            event = await self.proto.reply(timeout)
        except SessionTimeout:
            self._fail("4.4.2", f"conversation with {self.target.name} timed out "
                                f"while {_WHILE[command]}")
        except ProtocolViolation as e:
            self._fail("4.5.0", f"protocol error with {self.target.name} "
                                f"while {_WHILE[command]}: {e}")
        if isinstance(event, ServerClosed):
            self._fail("4.4.2", f"lost connection with {self.target.name} while {_WHILE[command]}")
        if event.reply.code == 421 and command != "QUIT":  # the server is leaving: stop here
            raise SessionFailed(self._outcome(event.reply, command), self.handshake_done)
        return event.reply

    async def _command(self, data, command):
        self.proto.send(data)
        return await self._reply(command)

    # -- the dialogue ---------------------------------------------------------------------

    async def run(self, reused=False) -> list[Outcome]:
        """The dialogue up to the end of the transaction; the caller QUITs or caches.
        ``reused``: a cached connection, checked with RSET instead of greeting and EHLO."""
        if reused:
            self.handshake_done = True
            reply = await self._command(self.conn.rset(), "RSET")
            if reply.code // 100 != 2:
                raise SessionFailed(self._outcome(reply, "RSET"), True)
        else:
            await self._open()
        early = await self._check_extensions()
        outcomes = [early] * len(self.recipients) if early else await self._transaction()
        self.reusable = not self.proto.lost and self.conn.waiting == 0
        return outcomes

    async def _open(self):
        greeting = await self._reply("CONNECT")
        if greeting.code // 100 != 2:
            out = self._outcome(greeting, "CONNECT")
            if greeting.code >= 500 and self.config.skip_5xx_greeting:
                out = attrs.evolve(out, action="deferred", dsn="4" + out.dsn[1:])
            raise SessionFailed(out)
        # smtp_helo(): without smtp_always_send_ehlo, EHLO only to a greeting saying ESMTP
        words = reply_line(greeting).split()[1:]
        self._esmtp = self.config.always_send_ehlo or "ESMTP" in (w.upper() for w in words)
        await self._hello()
        await self._starttls()
        self.handshake_done = True
        await self._authenticate()

    async def _hello(self):
        name = self.config.helo_name
        if self.config.lmtp:
            reply = await self._command(self.conn.ehlo(name), "LHLO")
            verb = "LHLO"
        elif self.config.never_send_ehlo or not self._esmtp:
            reply, verb = await self._command(self.conn.helo(name), "HELO"), "HELO"
        else:
            reply, verb = await self._command(self.conn.ehlo(name), "EHLO"), "EHLO"
            if reply.code // 100 != 2:  # any refusal but 421 (see _reply): try HELO
                reply, verb = await self._command(self.conn.helo(name), "HELO"), "HELO"
        if reply.code // 100 != 2:
            raise SessionFailed(self._outcome(reply, verb))

    async def _starttls(self):
        policy = self.policy
        if policy.level == "invalid":
            self._fail("4.7.5", f"TLS policy lookup for {self.target.nexthop}: {policy.problem}")
        if self.proto.tls_active or not policy.attempt:
            return
        if "STARTTLS" not in self.conn.extensions:
            if policy.required:
                self._fail("4.7.4", f"TLS is required, but was not offered by host "
                                    f"{self.target.name}")
            return
        reply = await self._command(self.conn.starttls(), "STARTTLS")
        if reply.code != 220:
            if policy.required:
                self._fail("4.7.5", f"TLS is required, but host {self.target.name} refused to "
                                    f"start TLS: {reply_line(reply)}")
            return  # may: the server said no, so plaintext on this connection is fine
        try:
            await self.proto.start_tls(self.tls_creator(policy), self.config.timeouts["starttls"])
        except RemoteProtocolError:
            self.proto.abort()
            self._fail("4.5.0", f"protocol error with {self.target.name}: unexpected plaintext "
                                f"after the 220 reply to STARTTLS")
        except TlsFailed as e:
            self.proto.abort()
            # smtp_start_tls()'s texts; the detail goes to the log, as Postfix's tls_client
            # logs it on its own line
            if policy.verify and "verif" in str(e).lower():
                self._warn(f"server certificate verification failed for "
                           f"{self.target.relay}: {e}")
                self._fail("4.7.5", "Server certificate not verified")
            self._warn(f"TLS handshake failed with {self.target.relay}: {e}")
            self._fail("4.7.5", "Cannot start TLS: handshake failure",
                       tls_failed=policy.level == "may")
        self._check_certificate()
        await self._hello()

    def _check_certificate(self):
        policy = self.policy
        if not (policy.verify or policy.level == "fingerprint"):
            return
        cert = self.proto.peer_certificate()
        if cert is None:
            ok = False
        elif policy.level == "fingerprint":
            ok = tls_policy.fingerprint_ok(policy, cert)
        else:
            ok = tls_policy.cert_matches(policy.match, tls_policy.cert_names(cert))
        if not ok:
            self.proto.abort()
            what = "fingerprint" if policy.level == "fingerprint" else "name"
            self._warn(f"server certificate {what} mismatch for {self.target.relay}")
            self._fail("4.7.5", "Server certificate not verified")

    def _warn(self, text):
        if self.runtime.log is not None:
            self.runtime.log.warning(text)

    async def _authenticate(self):
        cfg = self.config
        if not cfg.sasl_enable or "AUTH" not in self.conn.extensions:
            return
        keys = [self.target.host, self.target.nexthop]  # Postfix's order: host, then next hop
        creds = await sasl.lookup(self.runtime.tables, cfg.sasl_password_maps, keys)
        if creds is None:
            return  # Postfix: no credentials for this server, so just don't AUTH
        options = cfg.sasl_tls_options if self.proto.tls_active else cfg.sasl_options
        mech = sasl.choose(self.conn.extensions["AUTH"], cfg.sasl_mechanism_filter, options)
        if mech is None:
            self._fail("4.7.0", f"SASL authentication failed; cannot authenticate to server "
                                f"{self.target.name}: no mechanism available")
        if mech == "PLAIN":
            reply = await self._command(self.conn.auth("PLAIN", sasl.plain_initial(creds)), "AUTH")
        else:
            reply = await self._command(self.conn.auth("LOGIN"), "AUTH")
            step = 0
            while reply.code == 334 and step < 2:
                reply = await self._command(
                    self.conn.auth_response(sasl.login_answer(step, creds)), "AUTH")
                step += 1
        if reply.code != 235:
            dsn = reply_dsn(reply) if reply.code >= 400 else "4.7.0"
            if cfg.sasl_soft_bounce:  # smtp_sasl_auth_soft_bounce: try later or elsewhere
                dsn = "4" + dsn[1:]
            self._fail(dsn,
                       f"SASL authentication failed; server {self.target.name} said: "
                       f"{reply_line(reply)}")

    async def _check_extensions(self) -> Outcome | None:
        ext, req = self.conn.extensions, self.request
        if req.smtputf8 and "SMTPUTF8" not in ext and await self._needs_smtputf8():
            return Outcome("bounced", "5.6.7", f"SMTPUTF8 is required, but was not offered "
                                               f"by host {self.target.name}")
        limit = ext.get("SIZE", "").strip()
        if limit.isdigit() and int(limit) > 0 and req.size > int(limit):
            return Outcome("bounced", "5.3.4", f"message size {req.size} exceeds size limit "
                                               f"{int(limit)} of server {self.target.name}")
        return None

    async def _needs_smtputf8(self) -> bool:
        """Postfix's DELIVERY_REQUIRES_SMTPUTF8: SMTPUTF8 was requested *and* an envelope
        address or a header is not ASCII; otherwise the message goes without it."""
        req = self.request
        if not all(a.isascii() for a in [req.sender, *(r.address for r in self.recipients)]):
            return True
        run = self.runtime.run_blocking or (lambda f, *a: defer.maybeDeferred(f, *a))
        return await run(_utf8_headers, req.open_content)

    async def _transaction(self) -> list[Outcome]:
        conn, req = self.conn, self.request
        pipelining = "PIPELINING" in conn.extensions
        body_type = req.body_type if req.body_type in ("7BIT", "8BITMIME") else None
        # smtp_proto.c announces no SIZE when the body will be downgraded (its size changes)
        size = None if self._downgrading() else req.size or None
        params = MailParams(size=size, body=body_type, smtputf8=req.smtputf8,
                            ret=req.ret, envid=req.envid)
        out: list[Outcome | None] = self.partial  # what is known if the session breaks
        accepted: list[int] = []
        # queue files keep addresses unquoted; the envelope gets them quoted (quote_821_local)
        mail_data = conn.mail(_quote(req.sender), params)
        self.started = True
        self.setup_done = self.runtime.clock.seconds()
        rcpt_data = [self._rcpt(r) if pipelining else None for r in self.recipients]
        if pipelining:
            self.proto.send(mail_data + b"".join(rcpt_data) + conn.data())
            mail_reply = await self._reply("MAIL")
        else:
            mail_reply = await self._command(mail_data, "MAIL")
            if mail_reply.code // 100 != 2:
                return [self._outcome(mail_reply, "MAIL")] * len(self.recipients)
        for i, r in enumerate(self.recipients):
            if pipelining:
                reply = await self._reply("RCPT")
            else:
                reply = await self._command(self._rcpt(r), "RCPT")
            if reply.code // 100 == 2:
                accepted.append(i)
            else:
                out[i] = self._outcome(reply, "RCPT")
        if mail_reply.code // 100 != 2:  # pipelined: RCPT and DATA replies are read, moot
            if (await self._reply("DATA")).code == 354:  # a confused server: end it cleanly
                self.proto.send(conn.end_body())
                await self._reply("END")
            return [self._outcome(mail_reply, "MAIL")] * len(self.recipients)
        if pipelining:
            data_reply = await self._reply("DATA")
        elif accepted:
            data_reply = await self._command(conn.data(), "DATA")
        else:
            return out
        if data_reply.code != 354:
            fail = self._outcome(data_reply, "DATA")
            return [o if o is not None else fail for o in out]
        if not accepted:  # pipelined DATA got 354 with no recipient: end it, ignore the reply
            self.proto.send(conn.end_body())
            await self._reply("END")
            return out
        await self._send_body()
        if conn.lmtp:
            for i in accepted:
                out[i] = self._outcome(await self._reply("END"), "END")
        else:
            result = self._outcome(await self._reply("END"), "END")
            for i in accepted:
                out[i] = result
        return out

    def _rcpt(self, recipient) -> bytes:
        return self.conn.rcpt(_quote(recipient.address), _rcpt_params(recipient))

    def _downgrading(self) -> bool:
        return (self.request.body_type == "8BITMIME" and "8BITMIME" not in self.conn.extensions
                and self.config.mime_conversion)

    async def _send_body(self):
        conn, req = self.conn, self.request
        run = self.runtime.run_blocking or (lambda f, *a: defer.maybeDeferred(f, *a))
        f = await run(req.open_content)
        try:
            convert = self._downgrading()
            fold = mime.LineFolder(self.config.line_length_limit)
            if convert:
                data = await run(f.read)
                await self._write(conn.send_body(fold.feed(await run(mime.downgrade, data))))
            else:
                while True:
                    chunk = await run(f.read, CHUNK)
                    if not chunk:
                        break
                    await self._write(conn.send_body(fold.feed(chunk)))
        finally:
            await run(f.close)
        await self._write(conn.end_body(), last=True)

    async def _write(self, data, last=False):
        try:
            await self.proto.write_body(data, self.config.timeouts["data_xfer"])
        except SessionTimeout:
            self._fail("4.4.2", f"conversation with {self.target.name} timed out "
                                f"while {_WHILE['BODY']}")
        if self.proto.lost and not last:  # after the last bytes, replies may still be queued
            self._fail("4.4.2", f"lost connection with {self.target.name} while {_WHILE['BODY']}")

    async def quit(self):
        """QUIT and close; the reply does not matter any more."""
        if self.proto.lost:
            return
        try:
            await self._command(self.conn.quit(), "QUIT")
        except (SessionFailed, Exception):
            pass
        self.proto.close()


def _utf8_headers(open_content) -> bool:
    """Blocking: whether the header section has a byte outside ASCII."""
    with open_content() as f:
        while True:
            line = f.readline(CHUNK)
            if line in (b"", b"\n", b"\r\n"):
                return False
            if not line.isascii():
                return True


def _quote(address: str) -> str:
    """smtp_quote_821_address(): the null sender stays <>."""
    return quote_821_local(address) if address else ""


def _rcpt_params(recipient) -> RcptParams:
    """NOTIFY, and ORCPT: the client's own, else ``rfc822;`` and the original recipient
    (smtp_proto.c sends one whenever it knows the original address). A non-ASCII original
    would need RFC 6533's utf-8 type; it is left out rather than sent mislabelled."""
    orcpt_type = orcpt = None
    if recipient.orcpt:
        orcpt_type, _, orcpt = recipient.orcpt.partition(";")
    elif recipient.orig and recipient.orig.isascii():
        orcpt_type, orcpt = "rfc822", quote_822_local(recipient.orig)
    return RcptParams(notify=frozenset(recipient.notify) or None, orcpt_type=orcpt_type,
                      orcpt=orcpt)
