"""Address resolution for the queue manager: main.cf + tables -> pfx.address.resolve."""

# Says what qmgr does with each Resolution (trivial-rewrite's part of
# qmgr_message_resolve). ResolveSettings come from pfx.config.resolving, the builder
# smtpd and ``pfx resolve`` share, so the command shows what the queue manager would do.

import attrs

from pfx.address.resolve import ResolveFlag, resolve
from pfx.dsn import Dsn

#: Postfix's default for double_bounce_sender: mail to it is discarded by qmgr
DOUBLE_BOUNCE = "double-bounce"
_CODE_WORDS = ("2", "4", "5")


# -- what qmgr does with a resolution -----------------------------------------------


@attrs.frozen
class Route:
    """Where one recipient goes: to an agent, or settled by qmgr itself."""

    transport: str = ""
    nexthop: str = ""
    address: str = ""
    # settled without an agent: action "sent" | "deferred" | "bounced", with dsn and text
    action: str | None = None
    dsn: Dsn | None = None
    text: str = ""


def _split_reason(text, klass, default):
    """``error:5.1.6 text`` style: a leading X.Y.Z of the right class, else ``default``."""
    code, _, rest = text.partition(" ")
    try:
        dsn = Dsn(code)
    except (TypeError, ValueError):
        return Dsn(default), text
    if dsn.klass != klass:
        return Dsn(default), text
    return dsn, rest.strip() or text


def route(resolution, double_bounce=DOUBLE_BOUNCE) -> Route:
    """Turn a Resolution into qmgr's decision (qmgr_message_resolve)."""
    if resolution.failed:
        return Route(address=resolution.recipient, action="deferred", dsn=Dsn("4.3.0"),
                     text="address resolver failure")
    if resolution.error:
        return Route(address=resolution.recipient, action="bounced", dsn=Dsn("5.1.3"),
                     text="bad address syntax")
    address = resolution.recipient
    local, _, _ = address.rpartition("@")
    if resolution.flags & ResolveFlag.CLASS_LOCAL and local.lower() == double_bounce.lower():
        # lets a system run without a local agent; see qmgr_message_resolve
        return Route(address=address, action="sent", dsn=Dsn("2.0.0"),
                     text="undeliverable postmaster notification discarded")
    return _dispatch(resolution.transport, resolution.nexthop, address)


def _dispatch(transport, nexthop, address) -> Route:
    # error: and retry: (transport_maps, relocated_maps, virtual alias domains, a
    # content filter naming them) are settled here, without a round trip to an agent
    if transport == "error":
        dsn, text = _split_reason(nexthop, "5", "5.0.0")
        return Route(address=address, action="bounced", dsn=dsn, text=text)
    if transport == "retry":
        dsn, text = _split_reason(nexthop, "4", "4.0.0")
        return Route(address=address, action="deferred", dsn=dsn, text=text)
    return Route(transport, nexthop, address)


def filter_route(content_filter, address, default_nexthop="", myhostname="localhost"):
    """Where a recipient goes when the message carries ``content_filter`` (a FILTER
    action or main.cf content_filter): the filter's transport, instead of what the
    address resolves to. The nexthop is the filter's, else default_filter_nexthop,
    else the recipient's domain, else $myhostname (qmgr_message_resolve).
    -> Route, or None when ``content_filter`` is not ``transport:destination``."""
    transport, colon, nexthop = content_filter.strip().partition(":")
    if not colon or not transport:
        return None
    if not nexthop:
        domain = address.rpartition("@")[2] if "@" in address else ""
        nexthop = default_nexthop or domain or myhostname
    return _dispatch(transport, nexthop, address)


def resolve_route(address, sender, settings, double_bounce=DOUBLE_BOUNCE) -> Route:
    return route(resolve(address, settings, sender), double_bounce)
