"""The values that cross between the scheduler and the queue manager service (pure)."""

from typing import Any

import attrs
from attrs.validators import in_

from pfx.dsn import Dsn
from pfx.qmgr.deadcache import TRANSPORT_UNAVAILABLE

#: Outcome kinds: the connection worked (whatever each recipient's status), the
#: destination failed (connect or handshake: negative feedback), the agent failed.
OK, SITE_FAILED, TRANSPORT_FAILED = "ok", "site-failed", "transport-failed"
DEFERRED_TRANSPORT = "deferred transport"


@attrs.frozen
class Routed:
    """One recipient with its route; ``item`` is the caller's own value, handed back."""

    transport: str
    nexthop: str
    address: str
    item: Any = None


@attrs.frozen(eq=False)
class Delivery:
    """One delivery request to make: up to recipient_limit recipients of one message."""

    transport: str
    nexthop: str
    destination: str  # the queue name: the nexthop, or user@nexthop when the limit is 1
    message_id: Any
    recipients: tuple  # the Routed.item values, in the order they were added


@attrs.frozen
class Outcome:
    """How a delivery went, as far as scheduling cares."""

    # per-recipient results are not needed here: qmgr_deliver_update also only looks
    # at whether the agent reported a site (connection or handshake) failure

    kind: str = attrs.field(default=OK, validator=in_((OK, SITE_FAILED, TRANSPORT_FAILED)))
    dsn: Dsn | None = None
    text: str = ""

    def __attrs_post_init__(self):
        if self.kind != OK and (self.dsn is None or self.dsn.klass != "4" or not self.text):
            raise ValueError(f"a {self.kind} outcome needs a 4.x.x status and a reason")

    @classmethod
    def ok(cls) -> "Outcome":
        return cls(OK)

    @classmethod
    def site_failed(cls, dsn: Dsn | str, text: str) -> "Outcome":
        """Connection or handshake failure: the reason is the agent's text."""
        return cls(SITE_FAILED, dsn if isinstance(dsn, Dsn) else Dsn(dsn), text)

    @classmethod
    def transport_failed(cls, text: str = TRANSPORT_UNAVAILABLE,
                         dsn: Dsn | str = "4.3.0") -> "Outcome":
        """The agent could not be reached or crashed; the transport rests a while."""
        # Postfix says "mail transport unavailable", or "unknown mail transport error"
        # after a crash; either way the delivery's own recipients are the caller's
        return cls(TRANSPORT_FAILED, dsn if isinstance(dsn, Dsn) else Dsn(dsn), text)


@attrs.frozen
class Deferral:
    """A recipient deferred without a delivery attempt (qmgr_defer_recipient)."""

    # the caller logs it and writes the defer log: status=deferred (text)

    message_id: Any
    recipient: Any  # the Routed.item
    dsn: Dsn
    text: str


@attrs.frozen
class Progress:
    """What a call changed that the caller must act on."""

    deferred: tuple = ()  # Deferral values
    completed: tuple = ()  # message ids: every recipient done, none left in the file
    refill: tuple = ()  # message ids: in-memory recipients done, more to read (add_recipients)
