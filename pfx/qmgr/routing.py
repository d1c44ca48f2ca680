"""Address resolution for the queue manager: main.cf + tables -> pfx.address.resolve."""

# Builds one ResolveSettings from a service's Settings and the shared table registry,
# and says what qmgr does with each Resolution (trivial-rewrite's part of
# qmgr_message_resolve). ``pfx resolve`` uses the same builder, so the command shows
# exactly what the queue manager would do.

import attrs

from pfx.address import domains
from pfx.address.resolve import ResolveFlag, resolve
from pfx.address.settings import resolve_settings
from pfx.config.params import split_list
from pfx.dsn import Dsn
from pfx.errors import TableRetry

#: Postfix's default for double_bounce_sender: mail to it is discarded by qmgr
DOUBLE_BOUNCE = "double-bounce"
_CODE_WORDS = ("2", "4", "5")


def _sync(lookup, name):
    """A table lookup for the (synchronous) resolver: a Deferred answer is a soft error."""
    def find(key):
        value = lookup(key)
        if hasattr(value, "addCallback"):
            # network tables answer later; the resolver cannot wait, so defer the mail
            value.addErrback(lambda _: None)
            raise TableRetry(f"{name}: asynchronous table not usable for address resolution")
        return value
    return find


@attrs.frozen
class _ListMatcher:
    """A domain list whose entries may be ``type:table`` (domain_list.c semantics)."""

    items: tuple  # ("pattern", text) or ("table", lookup)
    parent_matches: bool

    def __call__(self, domain):
        name = domain.lower().rstrip(".")
        for kind, item in self.items:
            if kind == "pattern":
                negate = item.startswith("!")
                if domains.DomainList((item.lstrip("!"),), self.parent_matches)(name):
                    return not negate
                continue
            probe = name
            while probe:
                if item(probe) is not None:
                    return True
                if not self.parent_matches:
                    break
                probe = probe.partition(".")[2]
        return False


def build_resolve_settings(settings, tables, interface_addresses=()):
    """ResolveSettings from a Settings view and a pfx.tables Registry."""
    def table(name, value):
        return _sync(tables.open_list(value).lookup, name)

    def domain_list(name, value, parent_matches):
        items = []
        for word in split_list(value):  # "inline:{ { a = b, c } }" is one element
            if ":" in word:
                items.append(("table", _sync(tables.open(word).lookup, word)))
            elif word.startswith("/"):
                # a file of patterns, one per line or space-separated
                items += [("pattern", w.lower()) for w in _read_words(word)]
            else:
                items.append(("pattern", word.lower()))
        return _ListMatcher(tuple(items), parent_matches)

    return resolve_settings(settings.get_str, table=table, domain_list=domain_list,
                            interface_addresses=interface_addresses)


def _read_words(path):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return [w for line in f for w in line.split("#", 1)[0].replace(",", " ").split()]
    except OSError as exc:
        raise TableRetry(f"open {path}: {exc.strerror}") from None


def interface_addresses(settings):
    """inet_interfaces and proxy_interfaces addresses (for user@[ip] as local mail)."""
    from pfx.config.core import own_addresses, _addresses_of  # blocking DNS: call once

    found = {ip for ip, _ in own_addresses(settings)}
    for name in settings.get_list("proxy_interfaces"):
        found.update(_addresses_of(name.strip("[]")))
    return frozenset(found)


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
