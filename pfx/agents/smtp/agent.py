"""The smtp/lmtp delivery agent: next hop -> servers -> sessions, one RecipientStatus per recipient.

A recipient that gets a temporary failure (connect error, 4xx greeting, lost
connection, 4xx reply) stays pending and goes to the next server, until the servers
or smtp_mx_session_limit run out (sessions that did not complete the greeting, EHLO
and TLS handshake do not count); a 2xx or 5xx is final at once. With ``may``, a
failed TLS handshake is retried once in plaintext on a new connection.

Security: the agent reads the queued message (through the request) and talks to
servers chosen by DNS and configuration; it writes nothing locally. Statuses quote
server replies; they never contain SASL credentials.

Parameters: the smtp_* or lmtp_* family (see params.py), relayhost, inet_protocols,
myhostname, smtputf8_enable, disable_mime_output_conversion, queue_directory.
"""

import random

from twisted.internet import defer
from twisted.python.failure import Failure
from zope.interface import implementer

from pfx.agents.smtp import connect, tls_policy
from pfx.agents.smtp.cache import ConnectionCache
from pfx.agents.smtp.destinations import DnsProblem, Resolution
from pfx.agents.smtp.session import Outcome, Session, SessionFailed
from pfx.dsn import Dsn
from pfx.envelope import DeliveryResult, RecipientStatus
from pfx.errors import Panic, TableRetry
from pfx.interfaces import IDeliveryAgent


@implementer(IDeliveryAgent)
class SmtpAgent:
    """Serves one master.cf row of ``smtp`` or ``lmtp``."""

    def __init__(self, config, runtime, queue_directory="", connector=None, tls_creator=None,
                 rng=None):
        self.config = config
        self.runtime = runtime
        self.queue_directory = queue_directory
        self.connector = connector or connect.open_connection
        self.tls_creator = tls_creator or connect.client_tls
        self.rng = rng or random.Random()
        self._active = set()
        self.cache = ConnectionCache(runtime.clock, config.cache_time_limit,
                                     config.reuse_time_limit, config.reuse_count_limit, _goodbye)

    def deliver(self, request):
        d = defer.ensureDeferred(self._deliver(request))
        self._active.add(d)

        def done(result):
            self._active.discard(d)
            return result
        return d.addBoth(done)

    def stop(self):
        pending = list(self._active)

        def idle(_):
            self.cache.close_all()
        return defer.DeferredList(pending, consumeErrors=True).addCallback(idle)

    async def _deliver(self, request):
        rcpts = request.recipients
        if not rcpts:
            return DeliveryResult(())
        final: dict[int, RecipientStatus] = {}
        soft: dict[int, RecipientStatus] = {}
        domain = rcpts[0].address.rpartition("@")[2]
        resolution = Resolution(self.config, self.runtime.resolver, self.rng, self.queue_directory)
        fallback = self.config.fallback_relay
        try:
            targets = await resolution.targets(request.nexthop, domain)
        except DnsProblem as p:
            outcome = Outcome(_action(p.dsn), p.dsn, p.text)
            # a destination that "can't be found" goes to smtp_fallback_relay; a null MX
            # or a loop to ourselves is the domain's own answer
            if not fallback or p.dsn in ("5.1.0", "5.4.6"):
                return DeliveryResult(_status(r, outcome, "none") for r in rcpts)
            targets = []
            soft = {i: _status(r, _softened(outcome), "none") for i, r in enumerate(rcpts)}
        await self._try(targets, request, final, soft)
        if soft and fallback and request.nexthop != fallback and not resolution.we_are_mx:
            try:
                await self._try(await resolution.targets(fallback, domain), request, final, soft)
            except DnsProblem:
                pass  # the primary destination's reasons stay
        statuses = [final.get(i) or soft.get(i) or _status(
            r, Outcome("deferred", "4.4.0", "no server was tried"), "none")
            for i, r in enumerate(rcpts)]
        return DeliveryResult(statuses)

    async def _try(self, targets, request, final, soft):
        """Servers in order until every recipient is final or smtp_mx_session_limit is hit."""
        rcpts = request.recipients
        sessions = 0
        for target in targets:
            pending = [i for i in range(len(rcpts)) if i not in final]
            if not pending:
                break
            outcomes, relay, counted, uses, setup = await self._attempt(
                target, request, [rcpts[i] for i in pending])
            for i, o in zip(pending, outcomes):
                status = _status(rcpts[i], o, relay, uses, setup)
                (soft if o.soft else final)[i] = status
                if not o.soft:
                    soft.pop(i, None)
            sessions += counted
            if self.config.mx_session_limit and sessions >= self.config.mx_session_limit:
                break

    async def _attempt(self, target, request, recipients):
        """(outcomes, relay, counts as a session, conn_use, set-up end) for one server;
        conn_use is the how-manyth delivery this connection carried (0 when none was
        made), the set-up end when MAIL FROM went out (None if it never did)."""
        n = len(recipients)
        try:
            value = await tls_policy.lookup(self.runtime.tables, self.config.tls_policy_maps,
                                            target.nexthop)
        except TableRetry:
            return [Outcome("deferred", "4.3.0", "TLS policy lookup error")] * n, "none", False, \
                0, None
        policy = tls_policy.decide(self.config, target, value)
        cached = self.cache.take(target) if self._caching(target) else None
        if cached is not None:
            proto, born, uses = cached
            session = Session(proto, target, self.config, request, recipients, policy,
                              self.runtime, self.tls_creator)
            try:
                outcomes = await session.run(reused=True)
                await self._finish(session, target, born, uses + 1)
                return outcomes, target.relay, True, uses + 1, session.setup_done
            except Exception as e:
                proto.abort()
                if session.started:  # MAIL went out: report it like any broken session
                    outcome = e.outcome if isinstance(e, SessionFailed) else Outcome(
                        "deferred", "4.3.0", f"local error talking to {target.name}")
                    return _merge(session, outcome), target.relay, True, uses + 1, \
                        session.setup_done
            # before MAIL, the idle connection just went bad: connect afresh
        for retry_plain in (False, True):
            try:
                proto = await self.connector(self.runtime.reactor, target,
                                             self.config.timeouts["connect"], self.config.lmtp,
                                             REPLY_LINE_LIMIT)
            except Exception:
                text = f"connect to {target.relay}: {connect.connect_error_text(Failure())}"
                return [Outcome("deferred", "4.4.1", text)] * n, "none", False, 0, None
            session = Session(proto, target, self.config, request, recipients, policy,
                              self.runtime, self.tls_creator)
            born = self.runtime.clock.seconds()
            try:
                outcomes = await session.run()
                await self._finish(session, target, born, 1)
                return outcomes, target.relay, True, 1, session.setup_done
            except SessionFailed as e:
                await session.quit()
                if e.tls_failed and not retry_plain:
                    self._warn(f"{target.name}: TLS handshake failed; trying plaintext")
                    policy = tls_policy.TlsPolicy("none")
                    continue
                return _merge(session, e.outcome), target.relay, e.handshake_done, 1, \
                    session.setup_done
            except TableRetry:
                proto.abort()
                return [Outcome("deferred", "4.3.0", "smtp_sasl_password_maps lookup error")] * n, \
                    target.relay, False, 1, None
            except Exception:
                proto.abort()
                self._warn(f"{target.name}: unexpected error: {Failure().getErrorMessage()}")
                text = f"local error talking to {target.name}"
                return [Outcome("deferred", "4.3.0", text)] * n, \
                    target.relay, False, 1, session.setup_done
        raise Panic("smtp agent: the connection loop ended without a result")

    def _caching(self, target) -> bool:
        # on demand: Postfix caches when qmgr has a backlog; we keep every clean connection
        # for smtp_connection_cache_time_limit, which costs one idle socket for 2 s
        domain = tls_policy.nexthop_domain(target.nexthop)
        return self.config.cache_on_demand or domain in self.config.cache_destinations \
            or target.nexthop in self.config.cache_destinations

    async def _finish(self, session, target, born, uses):
        if session.reusable and self._caching(target) and \
                self.cache.put(target, session.proto, born, uses):
            return
        await session.quit()

    def _warn(self, text):
        if self.runtime.log is not None:
            self.runtime.log.warning(text)


REPLY_LINE_LIMIT = 2048  # bytes of one server reply line we keep (the rest is cut)


def _merge(session, outcome) -> list:
    """The session's final results so far (a 5xx RCPT, an LMTP 250); ``outcome`` for the rest."""
    return [o if o is not None and not o.soft else outcome for o in session.partial]


def _softened(outcome):
    """A permanent DNS answer, softened while a fallback relay is still to be tried."""
    return Outcome("deferred", "4" + outcome.dsn[1:], outcome.text) if not outcome.soft else outcome


def _goodbye(proto):
    """Close an idle cached connection politely, without waiting for the 221."""
    try:
        proto.send(proto.conn.quit())
    except Exception:
        pass
    proto.close()


def _action(dsn: str) -> str:
    return {"2": "sent", "4": "deferred"}.get(dsn[0], "bounced")


def _status(recipient, outcome, relay, conn_use=0, setup_done=None) -> RecipientStatus:
    return RecipientStatus(recipient, outcome.action, Dsn(outcome.dsn), outcome.text, relay,
                           outcome.remote, conn_use, setup_done)

