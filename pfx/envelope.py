"""Frozen values that cross the plugin boundary: envelopes, requests, statuses.

Bodies are never fields: a DeliveryRequest says where to read the content, and the
agent streams it through the request's ``open_content`` callable.
"""

from typing import Callable, Literal

import attrs
from attrs import field
from attrs.validators import in_, instance_of

from pfx.dsn import Dsn

NOTIFY_WORDS = frozenset({"NEVER", "SUCCESS", "FAILURE", "DELAY"})


def _check_notify(instance, attribute, value):
    if not value <= NOTIFY_WORDS:
        raise ValueError(f"bad DSN NOTIFY: {sorted(value)}")
    if "NEVER" in value and len(value) > 1:
        raise ValueError("DSN NOTIFY=NEVER cannot be combined")


@attrs.frozen
class Recipient:
    """One envelope recipient, in internal (unquoted) form."""

    address: str = field(validator=instance_of(str))
    orig: str | None = None  # the address before rewriting (X-Original-To, orig_to=)
    orcpt: str | None = None  # DSN ORCPT, "rfc822;user@example.com"
    notify: frozenset = field(default=frozenset(), converter=frozenset, validator=_check_notify)
    offset: int | None = None  # where its record lives in the queue file, for crossing off


@attrs.frozen
class Client:
    """What smtpd (or pickup) learned about the submitter."""

    name: str = "localhost"
    addr: str = "127.0.0.1"
    port: str = ""
    helo: str = ""
    protocol: str = "ESMTP"
    sasl_method: str = ""
    sasl_username: str = ""


@attrs.frozen
class Envelope:
    """What a submitter hands to cleanup besides the content."""

    sender: str
    recipients: tuple = field(converter=tuple)
    client: Client = Client()
    envid: str | None = None
    ret: Literal["FULL", "HDRS"] | None = field(default=None, validator=in_((None, "FULL", "HDRS")))
    body_type: Literal["7BIT", "8BITMIME", ""] = ""
    smtputf8: bool = False
    arrival: float = 0.0
    # What smtpd's access(5) tables asked cleanup to do with the whole message, as
    # (name, value) pairs: ("hold", text), ("discard", text), ("redirect", address),
    # ("filter", "transport:destination"), ("bcc", address). Applied like header_checks.
    actions: tuple = field(default=(), converter=tuple)


@attrs.frozen
class DeliveryRequest:
    """One delivery attempt for some recipients of one message through one transport."""

    queue_id: str
    queue_name: str
    sender: str
    recipients: tuple = field(converter=tuple)
    transport: str
    nexthop: str
    size: int
    arrival: float
    client: Client = Client()
    envid: str | None = None
    ret: str | None = None
    body_type: str = ""
    smtputf8: bool = False
    # open_content() -> a binary file object positioned at the first header line;
    # reading it to EOF gives the message content (headers and body, LF line ends).
    open_content: Callable | None = field(default=None, eq=False, repr=False)


_ACTION_CLASS = {"sent": "2", "deferred": "4", "bounced": "5"}


@attrs.frozen
class RecipientStatus:
    """The outcome for one recipient: the action, its DSN, and text for log and bounce."""

    recipient: Recipient
    action: Literal["sent", "deferred", "bounced"] = field(validator=in_(tuple(_ACTION_CLASS)))
    dsn: Dsn = field(validator=instance_of(Dsn))
    text: str = ""
    relay: str = "none"
    remote_reply: str | None = None  # the peer's own words, for Diagnostic-Code
    conn_use: int = 0  # the how-manyth delivery over a reused connection (logged when > 1)
    setup_done: float | None = None  # network agents: when connection set-up ended (MAIL
    # FROM was sent), the boundary of delays=a/b/c/d's c and d; None for the others
    # Optional: the final deliveries an expansion (alias, :include:, .forward) made for
    # this recipient, each a RecipientStatus whose recipient is the member and whose
    # orig is the request recipient. When given, qmgr logs and records these instead
    # of this status, and crosses the recipient off only if none of them deferred.
    members: tuple = field(default=(), converter=tuple)

    def __attrs_post_init__(self):
        if self.dsn.klass != _ACTION_CLASS[self.action]:
            raise ValueError(f"status {self.action} cannot carry {self.dsn}")
        for member in self.members:
            if not isinstance(member, RecipientStatus) or member.members:
                raise ValueError("members must be RecipientStatus values without members")


@attrs.frozen
class DeliveryResult:
    """One RecipientStatus per request recipient, in the same order."""

    statuses: tuple = field(converter=tuple)
