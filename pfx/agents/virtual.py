"""The virtual delivery agent (virtual(8)): one mbox or Maildir per address, no aliases.

The recipient (``user+ext@domain``, then ``user@domain``, then ``@domain``) is looked
up in virtual_mailbox_maps; the result, below virtual_mailbox_base, is the mailbox (a
trailing ``/`` means Maildir). virtual_uid_maps and virtual_gid_maps must give ids of
at least virtual_minimum_uid, else the mail is deferred as a configuration error. mbox
delivery locks per virtual_mailbox_lock; each message is limited to
virtual_mailbox_limit bytes. Status texts: ``delivered to mailbox``, ``delivered to
maildir``, ``unknown user: "u@d"``.

Security: the message and the addresses are untrusted: an address only selects a table
entry, and a table result that climbs out of virtual_mailbox_base (``..``) is refused.
Files are written as pfx's own user; started as root, by the privileged helper child
(pfx.delivery.helper) as the looked-up uid and gid, never by the reactor process.

Parameters: virtual_mailbox_base, virtual_mailbox_maps, virtual_uid_maps,
virtual_gid_maps, virtual_minimum_uid, virtual_mailbox_limit, virtual_mailbox_lock,
deliver_lock_attempts, deliver_lock_delay, stale_lock_time, recipient_delimiter.
"""

import base64
import errno
import os

from twisted.internet import defer
from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.address.quote import quote_822_local
from pfx.delivery import helper, maildir, mbox
from pfx.delivery.copy import copy_body, delivered_to, envelope_headers, from_line
from pfx.delivery.lock import KINDS, LockPolicy
from pfx.dsn import Dsn, errno_to_dsn
from pfx.envelope import DeliveryResult, RecipientStatus
from pfx.errors import ConfigError, TableRetry
from pfx.interfaces import IDeliveryAgent, IDeliveryAgentFactory
from pfx.plugin import Param
from pfx.runtime.inflight import InFlight
from pfx.tables.match import mapping_keys

RELAY = "virtual"
CONFIG_ERROR = "mail system configuration error"


class _Defer(Exception):
    def __init__(self, dsn, text):
        super().__init__(text)
        self.dsn, self.text = dsn, text


@implementer(IDeliveryAgent)
class VirtualAgent:
    def __init__(self, runtime, base, mailbox_maps, uid_maps, gid_maps, minimum_uid=100,
                 size_limit=51200000, lock=LockPolicy(), delimiter="", geteuid=os.geteuid):
        self.rt, self.base = runtime, base
        self.maps, self.uids, self.gids = mailbox_maps, uid_maps, gid_maps
        self.minimum_uid, self.size_limit, self.lock = minimum_uid, size_limit, lock
        self.delimiter, self._geteuid = delimiter, geteuid
        self._in_flight = InFlight()

    def stop(self):
        return self._in_flight.idle()

    def deliver(self, request):
        return self._in_flight.track(self._deliver(request))

    @defer.inlineCallbacks
    def _deliver(self, request):
        loops = yield self.rt.run_blocking(_loop_info, request.open_content)
        statuses = []
        for rcpt in request.recipients:
            if quote_822_local(rcpt.address).lower() in loops:
                statuses.append(RecipientStatus(rcpt, "bounced", Dsn("5.4.6"),
                                                f"mail forwarding loop for {rcpt.address}",
                                                RELAY))
                continue
            try:
                action, dsn, text = yield self._one(request, rcpt)
            except _Defer as e:
                action, dsn, text = "deferred", e.dsn, e.text
            statuses.append(RecipientStatus(rcpt, action, dsn, text, RELAY))
        return DeliveryResult(statuses)

    @defer.inlineCallbacks
    def _find(self, table, address, what):
        if table is None:
            return None
        for key, _ in mapping_keys(address.lower(), self.delimiter):
            try:
                value = yield defer.maybeDeferred(table.lookup, key)
            except TableRetry as e:
                raise _Defer(Dsn("4.3.0"), f"{what} lookup failure: {e}") from None
            if value is not None:
                return value.strip()
        return None

    @defer.inlineCallbacks
    def _one(self, request, rcpt):
        path = yield self._find(self.maps, rcpt.address, "virtual_mailbox_maps")
        if path is None:
            return "bounced", Dsn("5.1.1"), f'unknown user: "{rcpt.address.lower()}"'
        if not path.strip("/") or ".." in path.split("/"):
            self._warn(f"recipient {rcpt.address}: bad mailbox path {path!r}")
            raise _Defer(Dsn("4.3.5"), CONFIG_ERROR)
        ids = []
        # virtual(8): a uid below virtual_minimum_uid or a gid of 0 is a config error
        for table, name, lowest in ((self.uids, "virtual_uid_maps", self.minimum_uid),
                                    (self.gids, "virtual_gid_maps", 1)):
            value = yield self._find(table, rcpt.address, name)
            where = ", ".join(getattr(table, "names", None) or [name])
            kind = name.split("_")[1]
            if value is None:
                self._warn(f"recipient {rcpt.address}: {kind} not found in {where}")
                raise _Defer(Dsn("4.3.5"), CONFIG_ERROR)
            if not value.isdigit() or int(value) < lowest:
                self._warn(f"recipient {rcpt.address}: bad {kind} {value} in {where}")
                raise _Defer(Dsn("4.3.5"), CONFIG_ERROR)
            ids.append(int(value))
        full = self.base.rstrip("/") + "/" + path.lstrip("/")
        as_ids = tuple(ids) if self._geteuid() == 0 else None
        result = yield self.rt.run_blocking(self._write, request, rcpt, full,
                                            path.endswith("/"), as_ids)
        return result

    def _warn(self, text):
        if self.rt.log is not None:
            self.rt.log.warning(text)

    def _write(self, request, rcpt, path, is_maildir, ids=None):
        headers = envelope_headers(request.sender, rcpt.orig or rcpt.address, rcpt.address)
        prefix = headers if is_maildir else from_line(request.sender,
                                                      self.rt.clock.seconds()) + headers

        def write(out):
            out.write(prefix)
            with request.open_content() as src:
                copy_body(src, out, quote_from=not is_maildir, blank=not is_maildir)
        try:
            if ids is not None:
                self._write_as(ids, request, path, is_maildir, prefix)
            elif is_maildir:
                maildir.deliver(path, write, self.size_limit, self.rt.clock.seconds())
            else:
                os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
                mbox.append(path, write, self.lock, self.size_limit)
            return "sent", Dsn("2.0.0"), f"delivered to {'maildir' if is_maildir else 'mailbox'}"
        except OSError as e:
            dsn = Dsn("5.2.2") if e.errno == errno.EFBIG else errno_to_dsn(e.errno)
            kind = "maildir" if is_maildir else "mailbox"
            text = f"cannot update {kind} {path} for user {rcpt.address}. {e.strerror or e}"
            return ("bounced" if dsn.klass == "5" else "deferred"), dsn, text


    def _write_as(self, ids, request, path, is_maildir, prefix):
        job = {"op": "maildir" if is_maildir else "mbox", "path": path, "uid": ids[0],
               "gid": ids[1], "size_limit": self.size_limit, "now": self.rt.clock.seconds(),
               "prefix": base64.b64encode(prefix).decode(), "quote_from": not is_maildir,
               "blank": not is_maildir,
               "lock": [list(self.lock.kinds), self.lock.attempts, self.lock.delay,
                        self.lock.stale]}
        with request.open_content() as src:
            helper.run(job, src)


def _loop_info(open_content):
    with open_content() as src:
        return delivered_to(src)


@implementer(IPlugin, IDeliveryAgentFactory)
class VirtualAgentFactory:
    name = "virtual"
    description = "virtual(8): mbox or Maildir per address from virtual_mailbox_maps"
    parameters = (
        Param("virtual_mailbox_base", ""),
        Param("virtual_mailbox_maps", ""),
        Param("virtual_uid_maps", ""),
        Param("virtual_gid_maps", ""),
        Param("virtual_minimum_uid", "100", "int", min=1),
        Param("virtual_mailbox_limit", "51200000", "size", min=0),
        Param("virtual_mailbox_lock", "fcntl, dotlock", "list"),
        Param("deliver_lock_attempts", "20", "int", min=1),
        Param("deliver_lock_delay", "1s", "time", min=1),
        Param("stale_lock_time", "500s", "time", min=1),
    )

    def make_agent(self, settings, runtime):
        kinds = tuple(k.lower() for k in settings.get_list("virtual_mailbox_lock"))
        if not kinds or set(kinds) - set(KINDS):
            raise ConfigError(f"invalid mailbox lock method (choose from {', '.join(KINDS)})",
                              param="virtual_mailbox_lock")
        lock = LockPolicy(kinds, settings.get("deliver_lock_attempts"),
                          settings.get("deliver_lock_delay"), settings.get("stale_lock_time"))

        def maps(name):
            text = settings.get_str(name)
            if not text.strip() or runtime.tables is None:
                return None
            return runtime.tables.open_list(text)
        return VirtualAgent(runtime, settings.get_str("virtual_mailbox_base"),
                            maps("virtual_mailbox_maps"), maps("virtual_uid_maps"),
                            maps("virtual_gid_maps"), settings.get("virtual_minimum_uid"),
                            settings.get("virtual_mailbox_limit"), lock,
                            settings.get_str("recipient_delimiter"))
