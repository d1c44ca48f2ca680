"""The local delivery agent (local(8)): aliases, .forward, mailbox, |command, /file, forwarding.

For each recipient, in Postfix's order: loop check against the message's Delivered-To
headers; alias_maps (lists, :include:, |command, /file, nested aliases, owner-NAME as
the sender); the user's .forward (forward_path); then mailbox_command or the mailbox
(home_mailbox, else mail_spool_directory, Maildir when the name ends in ``/``); an
unknown user goes to luser_relay or bounces ``5.1.1 unknown user``. Addresses outside
mydestination found during expansion are resubmitted through cleanup
(runtime.require(IMailSubmitter)) as one new message per envelope sender, with a
Delivered-To header, and reported ``forwarded as QID``. One status per request
recipient: any deferred leaf defers it, else any bounced leaf bounces it; when the
expansion reached several final deliveries, or another address, the status carries one
member status per delivery (``to=<member>, orig_to=<alias>``), as local(8) logs them.

mailbox_transport(_maps) and fallback_transport(_maps) hand the recipient to the agent
of that master.cf service (runtime.agent_for), as Postfix's deliver_pass does, and
report that agent's status (``lmtp:unix:/path`` to Dovecot, for example).

Security: the message, the envelope addresses and .forward contents are untrusted.
Addresses never reach a shell or a path unfiltered; commands and files are allowed only
from the sources allow_mail_to_commands / allow_mail_to_files name. Started
unprivileged, everything is written as the pfx process's own user. Started as root, the
reactor process never switches ids: mailboxes, files and .forward/:include: reads go
through the privileged helper child (pfx.delivery.helper), commands get their ids
between fork and exec; the recipient's ids for the mailbox and .forward, default_privs
for alias and :include: targets and for root's .forward, never root otherwise.

Parameters: see pfx.agents.local.params.PARAMETERS, plus mydestination, myorigin,
recipient_delimiter, queue_directory, export_environment.
"""

import os
import pwd

import attrs
from twisted.internet import defer
from zope.interface import implementer

from pfx.address.quote import quote_822_local
from pfx.delivery.command import Outcome
from pfx.delivery.copy import CHUNK, delivered_to, envelope_headers
from pfx.dsn import Dsn
from pfx.envelope import DeliveryResult, Envelope, Recipient, RecipientStatus
from pfx.errors import TableRetry
from pfx.interfaces import IDeliveryAgent, IMailSubmitter
from pfx.runtime.inflight import InFlight
from pfx.tables.aliases import split_rhs
from pfx.tables.match import alias_keys, split_address, split_extension
from pfx.util.expand import expand

from pfx.agents.local import alias as aliasmod
from pfx.agents.local.command import deliver_command
from pfx.agents.local.dotforward import forward_files, read_forward
from pfx.agents.local.file import deliver_file
from pfx.agents.local.mailbox import deliver_mailbox
from pfx.agents.local.params import LocalConfig, apply_filter

MAX_LEVEL = 100  # Postfix's recursion limit in deliver_recipient()
CONFIG_ERROR = "mail system configuration error"


@attrs.frozen
class Ctx:
    """One delivery attempt's attributes (Postfix's DELIVER_ATTR), evolved on recursion."""

    cfg: LocalConfig
    request: object
    sender: str
    delivered: str            # frozen at the request recipient (frozen_delivered_to)
    orig_rcpt: str
    recipient: str = ""
    local: str = ""
    domain: str = ""
    user: str = ""
    extension: str = ""
    delim: str = ""
    home: str = ""
    shell: str = ""
    uid: int | None = None
    gid: int | None = None
    ids: tuple | None = None  # (uid, gid) the current target runs as; None: as pfx itself
    privileged: bool = False
    default_ids: tuple | None = None
    now: float = 0.0
    level: int = 0
    origin: str = "alias"     # where the current element came from: alias, include, forward
    no_alias: str = ""        # a name whose alias is being expanded (self reference)
    no_forward: str = ""


class Seen(set):
    """been_here.c's duplicate filter: once ``limit`` entries are held (duplicate_filter_limit,
    0 = no limit) nothing more is remembered, so a duplicate may be delivered twice; the
    expansion is never refused for its size. Recursion stays bounded by MAX_LEVEL."""

    def __init__(self, limit=0):
        super().__init__()
        self.limit = limit

    def add(self, item):
        if not self.limit or len(self) < self.limit:
            super().add(item)


@attrs.define
class Expansion:
    """What one request recipient expanded to so far."""

    loops: set
    seen: set = attrs.Factory(Seen)
    forwards: dict = attrs.Factory(dict)   # sender -> [address, ...]
    outcomes: list = attrs.Factory(list)   # [(address, Outcome, relay)], final deliveries

    def add(self, address, outcome, relay="local"):
        self.outcomes.append((address, outcome, relay))


@implementer(IDeliveryAgent)
class LocalAgent:
    def __init__(self, cfg, runtime, passwd=pwd.getpwnam, geteuid=os.geteuid):
        self.cfg, self.rt = cfg, runtime
        self._passwd, self._geteuid = passwd, geteuid
        tables = runtime.tables

        def maps(text):
            return tables.open_list(text) if tables is not None and text.strip() else None
        self.aliases = maps(cfg.alias_maps)
        self.command_maps = maps(cfg.mailbox_command_maps)
        self.transport_maps = maps(cfg.mailbox_transport_maps)
        self.fallback_maps = maps(cfg.fallback_transport_maps)
        self._in_flight = InFlight()

    def deliver(self, request):
        return self._in_flight.track(self._deliver(request))

    def stop(self):
        return self._in_flight.idle()

    @defer.inlineCallbacks
    def _deliver(self, request):
        default_ids = None
        if self._geteuid() == 0:
            pw = self._user(self.cfg.default_privs)
            if pw is None or pw.pw_uid == 0 or pw.pw_gid == 0:
                if self.rt.log is not None:
                    self.rt.log.warning(f"bad default_privs user: {self.cfg.default_privs}")
                return DeliveryResult(RecipientStatus(r, "deferred", Dsn("4.3.5"),
                                                      CONFIG_ERROR, "local")
                                      for r in request.recipients)
            default_ids = (pw.pw_uid, pw.pw_gid)
        loops = yield self.rt.run_blocking(_loop_info, request.open_content)
        statuses = []
        for rcpt in request.recipients:
            statuses.append((yield self._one(request, rcpt, loops, default_ids)))
        return DeliveryResult(statuses)

    @defer.inlineCallbacks
    def _one(self, request, rcpt, loops, default_ids=None):
        exp = Expansion(loops, Seen(self.cfg.duplicate_limit))
        ctx = Ctx(self.cfg, request, request.sender, rcpt.address, rcpt.orig or rcpt.address,
                  now=self.rt.clock.seconds(), privileged=default_ids is not None,
                  ids=default_ids, default_ids=default_ids)
        try:
            yield self._recipient(ctx, exp, rcpt.address)
        except TableRetry as e:
            exp.add(ctx.delivered, Outcome("deferred", Dsn("4.3.0"),
                                           f"table lookup problem: {e}"))
        yield self._flush_forwards(ctx, exp, request, rcpt)
        return _aggregate(rcpt, exp.outcomes)

    # -- the recipient: aliases, .forward, mailbox ----------------------------------

    @defer.inlineCallbacks
    def _recipient(self, ctx, exp, address):
        local, domain = split_address(address)
        if ctx.level == 0 and quote_822_local(ctx.delivered).lower() in exp.loops:
            return exp.add(address, _loop(address))
        if ctx.level > MAX_LEVEL:
            return exp.add(address, _loop(address))
        if ctx.level > 0 and domain and domain.lower() not in self.cfg.mydestination:
            return self._forward(ctx, exp, address)
        name = local.lower()
        base, ext = split_extension(name, self.cfg.recipient_delimiter)
        ctx = attrs.evolve(ctx, recipient=address, local=name,
                           domain=domain or self.cfg.myorigin, user=base,
                           extension=ext[1:], delim=ext[:1])
        if self.aliases is not None and name != ctx.no_alias \
                and ("alias", name) not in exp.seen:
            found = yield self._lookup_alias(name)
            if found is not None:
                yield self._expand_alias(ctx, exp, *found)
                return
        pw = self._user(base)
        if pw is None:
            yield self._unknown(ctx, exp)
            return
        ctx = attrs.evolve(ctx, home=pw.pw_dir, shell=pw.pw_shell, uid=pw.pw_uid,
                           gid=pw.pw_gid)
        user_ids = (pw.pw_uid, pw.pw_gid) if ctx.privileged else None
        if ("forward", base) not in exp.seen and base != ctx.no_forward:
            try:
                found = yield self.rt.run_blocking(read_forward, forward_files(ctx),
                                                   pw.pw_uid, user_ids)
            except OSError as e:
                exp.add(address, Outcome("deferred", Dsn("4.3.0"),
                                         f"cannot read .forward file of user {base}: "
                                         f"{e.strerror or e}"))
                return
            if found is not None and found[1]:
                exp.seen.add(("forward", base))
                # root's .forward targets run as default_privs, never as root
                ids = ctx.default_ids if pw.pw_uid == 0 else user_ids
                child = attrs.evolve(ctx, origin="forward", level=ctx.level + 1, ids=ids)
                for element in found[1]:
                    yield self._element(child, exp, element, base)
                return
        yield self._mailbox(attrs.evolve(ctx, ids=user_ids), exp)

    def _user(self, name):
        try:
            return self._passwd(name)
        except (KeyError, OSError):
            return None

    @defer.inlineCallbacks
    def _lookup_alias(self, name):
        for key, _ in alias_keys(name, self.cfg.recipient_delimiter):
            value = yield defer.maybeDeferred(self.aliases.lookup, key)
            if value is not None:
                return key, value
        return None

    @defer.inlineCallbacks
    def _expand_alias(self, ctx, exp, name, value):
        exp.seen.add(("alias", name))
        sender = ctx.sender
        if self.cfg.owner_request_special and not name.startswith("owner-"):
            owner = yield defer.maybeDeferred(self.aliases.lookup, aliasmod.owner_name(name))
            if owner is not None:
                first = (split_rhs(owner) or [""])[0]
                sender = (first if self.cfg.expand_owner_alias and "@" in first
                          else f"{aliasmod.owner_name(name)}@{self.cfg.myorigin}")
        child = attrs.evolve(ctx, sender=sender, origin="alias", level=ctx.level + 1,
                             ids=ctx.default_ids)
        for element in split_rhs(value):
            yield self._element(child, exp, element, name)

    @defer.inlineCallbacks
    def _element(self, ctx, exp, element, self_name):
        """One alias, :include: or .forward element."""
        kind, value = aliasmod.classify(element)
        if kind == "command":
            yield self._command(ctx, exp, value)
        elif kind == "file":
            yield self._file(ctx, exp, value)
        elif kind == "include":
            yield self._include(ctx, exp, value, self_name)
        else:
            local, domain = split_address(value)
            if domain is None or domain.lower() in self.cfg.mydestination:
                if element.strip().startswith("\\"):
                    # "\user": that user's mailbox, no alias and no .forward
                    ctx = attrs.evolve(ctx, no_alias=local.lower(), no_forward=local.lower())
                elif local.lower() == self_name:
                    ctx = attrs.evolve(ctx, no_alias=self_name)  # an alias naming itself
                yield self._recipient(ctx, exp, value if domain else
                                      f"{value}@{self.cfg.myorigin}")
            else:
                self._forward(ctx, exp, value)

    @defer.inlineCallbacks
    def _include(self, ctx, exp, path, self_name):
        if ("include", path) in exp.seen:
            return
        exp.seen.add(("include", path))
        try:
            elements, _ = yield self.rt.run_blocking(aliasmod.read_list_file, path, ctx.ids)
        except OSError as e:
            exp.add(ctx.recipient, Outcome("deferred", Dsn("4.3.0"),
                                           f"cannot open include file {path}: "
                                           f"{e.strerror or e}"))
            return
        child = attrs.evolve(ctx, origin="include", level=ctx.level + 1)
        for element in elements:
            yield self._element(child, exp, element, self_name)

    # -- final deliveries -----------------------------------------------------------

    @defer.inlineCallbacks
    def _mailbox(self, ctx, exp):
        if ("mailbox", ctx.user) in exp.seen:
            return
        exp.seen.add(("mailbox", ctx.user))
        # DA-1's order: mailbox_transport_maps, mailbox_transport, mailbox_command_maps,
        # mailbox_command, then the mailbox itself
        transport = yield self._per_user(self.transport_maps, ctx.user)
        command = yield self._per_user(self.command_maps, ctx.user)
        relay = "local"
        if transport or self.cfg.mailbox_transport:
            outcome, relay = yield self._pass(ctx, transport or self.cfg.mailbox_transport)
        elif command or self.cfg.mailbox_command:
            outcome = yield self.rt.run_blocking(deliver_command, ctx,
                                                 command or self.cfg.mailbox_command,
                                                 ctx.request.open_content)
        else:
            outcome = yield self.rt.run_blocking(deliver_mailbox, ctx, ctx.user, ctx.home,
                                                 ctx.request.open_content)
        exp.add(ctx.recipient, outcome, relay)

    @defer.inlineCallbacks
    def _command(self, ctx, exp, command):
        if ctx.origin not in self.cfg.allow_commands:
            exp.add(ctx.recipient, Outcome("bounced", Dsn("5.7.1"),
                                           "mail to command is restricted"))
            return
        if ("command", command) in exp.seen:
            return
        exp.seen.add(("command", command))
        exp.add(ctx.recipient, (yield self.rt.run_blocking(
            deliver_command, ctx, command, ctx.request.open_content)))

    @defer.inlineCallbacks
    def _file(self, ctx, exp, path):
        if ctx.origin not in self.cfg.allow_files:
            exp.add(ctx.recipient, Outcome("bounced", Dsn("5.7.1"), "mail to file is restricted"))
            return
        if ("file", path) in exp.seen:
            return
        exp.seen.add(("file", path))
        exp.add(ctx.recipient, (yield self.rt.run_blocking(
            deliver_file, ctx, path, ctx.request.open_content)))

    @defer.inlineCallbacks
    def _pass(self, ctx, destination):
        """Hand this recipient to the agent of master.cf service ``transport[:nexthop]``
        -> (Outcome, the relay that agent reported)."""
        transport, _, nexthop = destination.partition(":")
        find = getattr(self.rt, "agent_for", None)
        agent = find(transport) if find is not None else None
        if agent is None:
            return Outcome("deferred", Dsn("4.3.0"), f"mail transport unavailable: no "
                           f"master.cf service {transport}"), "local"
        rcpt = Recipient(ctx.recipient, orig=ctx.orig_rcpt or None)
        request = attrs.evolve(ctx.request, transport=transport,
                               nexthop=nexthop or ctx.domain, recipients=(rcpt,))
        try:
            result = yield defer.maybeDeferred(agent.deliver, request)
            [status] = result.statuses
        except Exception as e:  # the other agent failed: defer, as qmgr would
            return Outcome("deferred", Dsn("4.3.0"), f"{transport}: delivery failed: {e}"), "local"
        return Outcome(status.action, status.dsn, status.text), status.relay

    @defer.inlineCallbacks
    def _per_user(self, table, user):
        """A per-user table lookup (the *_maps variants); a soft error defers."""
        if table is None:
            return None
        value = yield defer.maybeDeferred(table.lookup, user)
        return value.strip() if value else None

    @defer.inlineCallbacks
    def _unknown(self, ctx, exp):
        fallback = yield self._per_user(self.fallback_maps, ctx.user)
        if fallback or self.cfg.fallback_transport:
            outcome, relay = yield self._pass(ctx, fallback or self.cfg.fallback_transport)
            exp.add(ctx.recipient, outcome, relay)
        elif self.cfg.luser_relay and ctx.level <= 1 and ("luser", ctx.user) not in exp.seen:
            exp.seen.add(("luser", ctx.user))
            relay = self._luser_relay(ctx)
            yield self._element(attrs.evolve(ctx, level=ctx.level + 1), exp, relay, "")
        elif ctx.user == "postmaster":
            if self.rt.log is not None:  # local(8): never bounce mail for postmaster
                self.rt.log.warning("required alias not found: postmaster")
            exp.add(ctx.recipient, Outcome("sent", Dsn("2.0.0"), "discarded"))
        else:
            exp.add(ctx.recipient, Outcome("bounced", Dsn("5.1.1"),
                                           f'unknown user: "{ctx.user}"'))

    def _luser_relay(self, ctx):
        keep = self.cfg.forward_filter
        values = {"user": ctx.user, "local": ctx.local, "domain": ctx.domain,
                  "recipient": ctx.recipient, "extension": ctx.extension,
                  "recipient_delimiter": ctx.delim, "home": "", "shell": ""}
        params = self.cfg.params or (lambda name: "")

        def lookup(name):
            if name in values:
                return apply_filter(values[name], keep)
            return params(name)
        return expand(self.cfg.luser_relay, lookup).strip()

    # -- forwarding -----------------------------------------------------------------

    def _forward(self, ctx, exp, address):
        group = exp.forwards.setdefault(ctx.sender, [])
        if address.lower() not in (a.lower() for a in group):
            group.append(address)

    @defer.inlineCallbacks
    def _flush_forwards(self, ctx, exp, request, rcpt):
        for sender, addresses in exp.forwards.items():
            outcome = yield self._resubmit(ctx, request, rcpt, sender, addresses)
            exp.add(rcpt.address, outcome)  # "forwarded as QID": the request recipient

    @defer.inlineCallbacks
    def _resubmit(self, ctx, request, rcpt, sender, addresses):
        try:
            submitter = self.rt.require(IMailSubmitter) if self.rt.require else None
        except LookupError:
            submitter = None
        if submitter is None:
            return Outcome("deferred", Dsn("4.3.0"),
                           "mail forwarding is unavailable: no cleanup service")
        envelope = Envelope(
            sender=sender, client=request.client, envid=request.envid, ret=request.ret,
            body_type=request.body_type, smtputf8=request.smtputf8, arrival=request.arrival,
            recipients=[Recipient(a, orig=rcpt.orig or rcpt.address, orcpt=rcpt.orcpt,
                                  notify=rcpt.notify) for a in addresses])
        writer = submitter.open_message(envelope)
        try:
            if "forward" in self.cfg.delivered_header:
                writer.write(envelope_headers(delivered=ctx.delivered))
            src = yield self.rt.run_blocking(request.open_content)
            try:
                while True:
                    chunk = yield self.rt.run_blocking(src.read, CHUNK)
                    if not chunk:
                        break
                    writer.write(chunk)
            finally:
                src.close()
            queue_id = yield writer.commit()
        except Exception as e:
            writer.abort()
            reply = getattr(e, "reply", None)
            if reply is not None and reply.dsn is not None and str(reply.code)[0] == "5":
                return Outcome("bounced", reply.dsn, f"unable to forward: {reply.text}")
            return Outcome("deferred", Dsn("4.3.0"), f"unable to forward: {e}")
        return Outcome("sent", Dsn("2.0.0"), f"forwarded as {queue_id}")


def _loop_info(open_content):
    with open_content() as src:
        return delivered_to(src)


def _loop(address):
    return Outcome("bounced", Dsn("5.4.6"), f"mail forwarding loop for {address}")


def _aggregate(rcpt, outcomes):
    """One status for the request recipient: any deferred delivery defers it, else any
    bounced one bounces it; with members (one per final delivery) whenever the
    expansion reached more than one delivery or another address, for qmgr to log."""
    members = ()
    if len(outcomes) > 1 or any(a.lower() != rcpt.address.lower() for a, _, _ in outcomes):
        orig = rcpt.orig or rcpt.address
        members = tuple(RecipientStatus(Recipient(a, orig=orig), o.action, o.dsn, o.text, relay)
                        for a, o, relay in outcomes)
    for action in ("deferred", "bounced"):
        for _, o, relay in outcomes:
            if o.action == action:
                return RecipientStatus(rcpt, action, o.dsn, o.text, relay, members=members)
    texts = list(dict.fromkeys(o.text for _, o, _ in outcomes)) or ["delivered"]
    relay = outcomes[0][2] if len(outcomes) == 1 else "local"
    return RecipientStatus(rcpt, "sent", Dsn("2.0.0"), "; ".join(texts), relay,
                           members=members)
