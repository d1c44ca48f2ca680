"""Address class resolution: recipient -> (class, transport, nexthop, recipient, flags).

The same steps, order and results as Postfix's trivial-rewrite resolve_addr(): strip
local domains and routing operators in a loop, pick the class (local, alias, virtual,
relay, default), apply main.cf transports and relayhost, then transport_maps, then
relocated_maps, then the leading '-' check. Every input is an argument: domain lists
are ``matcher(domain) -> bool`` callables and tables are ``lookup(key) -> str | None``
callables; either may raise TableRetry, which gives a result with ResolveFlag.FAIL.

Security: the address is untrusted (it comes from RCPT TO or a header). The result's
ROUTED flag tells smtpd that the local part still holds routing operators (%, !, @),
which it must not relay for unless allow_untrusted_routing is set.
"""

import enum
from typing import Callable, Optional

import attrs

from pfx.address import domains
from pfx.address.parse import DOMLIT, QSTRING, Token, internalize, scan
from pfx.address.quote import quote_local
from pfx.address.rewrite import CanonSettings, rewrite_tokens, rfind
from pfx.errors import TableRetry


Matcher = Callable[[str], bool]  # a domain list: domain -> listed?
Lookup = Callable[[str], Optional[str]]  # a table: key -> value, or None when not found


class ResolveFlag(enum.IntFlag):
    """Postfix's RESOLVE_FLAG_* and RESOLVE_CLASS_* bits, same values."""

    NONE = 0
    FINAL = 1 << 0
    ROUTED = 1 << 1  # the local part still has routing operators
    ERROR = 1 << 2  # bad destination syntax (or a '-' recipient): refuse it
    FAIL = 1 << 3  # a lookup failed for now, or bad config: defer / 4xx
    CLASS_LOCAL = 1 << 8
    CLASS_ALIAS = 1 << 9
    CLASS_VIRTUAL = 1 << 10
    CLASS_RELAY = 1 << 11
    CLASS_DEFAULT = 1 << 12


CLASS_FINAL = ResolveFlag.CLASS_LOCAL | ResolveFlag.CLASS_ALIAS | ResolveFlag.CLASS_VIRTUAL
_CLASS_NAMES = {
    ResolveFlag.CLASS_LOCAL: "local",
    ResolveFlag.CLASS_ALIAS: "alias",
    ResolveFlag.CLASS_VIRTUAL: "virtual",
    ResolveFlag.CLASS_RELAY: "relay",
    ResolveFlag.CLASS_DEFAULT: "default",
}


def class_name(flags):
    """The address class named by the CLASS_* bit in ``flags``, or ''."""
    return next((name for bit, name in _CLASS_NAMES.items() if flags & bit), "")


@attrs.frozen
class Resolution:
    """What trivial-rewrite answers: where one recipient goes and what smtpd must know."""

    transport: str
    nexthop: str
    recipient: str  # internal form, always user@domain unless ERROR/FAIL cut it short
    flags: ResolveFlag
    reason: str = ""  # why FAIL or ERROR was set, for the log

    @property
    def address_class(self):
        """'local', 'alias', 'virtual', 'relay', 'default', or '' when unresolved."""
        return class_name(self.flags)

    @property
    def routed(self):
        """The local part still holds %, ! or @ (Postfix's RESOLVE_FLAG_ROUTED)."""
        return bool(self.flags & ResolveFlag.ROUTED)

    @property
    def error(self):
        """Refuse this recipient: bad domain syntax or a leading '-' (RESOLVE_FLAG_ERROR)."""
        return bool(self.flags & ResolveFlag.ERROR)

    @property
    def failed(self):
        """Try again later: a table lookup failed or a transport is missing (RESOLVE_FLAG_FAIL)."""
        return bool(self.flags & ResolveFlag.FAIL)

    def auth_destination(self, allow_untrusted_routing=False):
        """smtpd's permit_auth_destination: may anyone send to this recipient?

        True for final destinations (local, alias, virtual) and relay_domains,
        unless the address is routed and untrusted routing is not allowed.
        """
        if self.failed or self.error:
            return False
        if self.routed and not allow_untrusted_routing:
            return False
        return bool(self.flags & (CLASS_FINAL | ResolveFlag.CLASS_RELAY))

    def describe(self):
        """One line for `pfx resolve` and logs: class, transport, nexthop, recipient, flags."""
        names = [f.name for f in ResolveFlag if f and not f.name.startswith("CLASS_") and self.flags & f]
        line = (f"class={self.address_class or '-'} transport={self.transport or '-'} "
                f"nexthop={self.nexthop or '-'} recipient={self.recipient}")
        if names:
            line += " flags=" + ",".join(names)
        return line + (f" reason={self.reason}" if self.reason else "")


@attrs.frozen
class ResolveSettings:
    """The main.cf parameters resolve reads, already $-expanded; lists and tables as callables.

    local_transport has no $myhostname to expand here, so its default is plain "local";
    the config layer passes Postfix's "local:$myhostname" expanded.
    """

    myhostname: str
    canon: CanonSettings = CanonSettings()  # local rewriting context (myorigin, mydomain, knobs)
    mydestination: Matcher = domains.never  # a string_list: no subdomain matching
    interface_addresses: frozenset = frozenset()  # inet_interfaces + proxy_interfaces (ipaddress objects)
    virtual_alias_domains: Matcher = domains.never
    virtual_mailbox_domains: Matcher = domains.never
    relay_domains: Matcher = domains.never  # subdomains per parent_domain_matches_subdomains
    local_transport: str = "local"
    virtual_transport: str = "virtual"
    relay_transport: str = "relay"
    default_transport: str = "smtp"
    relayhost: str = ""
    sender_dependent_relayhost_maps: Optional[Lookup] = None
    sender_dependent_default_transport_maps: Optional[Lookup] = None
    empty_address_relayhost_maps_lookup_key: str = "<>"
    empty_address_default_transport_maps_lookup_key: str = "<>"
    transport_maps: Optional[Lookup] = None
    transport_maps_parent_matches: bool = False  # "transport_maps" in parent_domain_matches_subdomains
    transport_maps_partial: bool = True  # False for regexp/pcre tables: full-address probes only
    relocated_maps: Optional[Lookup] = None
    recipient_delimiter: str = ""
    empty_address_recipient: str = "MAILER-DAEMON"
    show_user_unknown_table_name: bool = True
    resolve_dequoted_address: bool = True
    resolve_null_domain: bool = False
    resolve_numeric_domain: bool = False
    allow_min_user: bool = False


def is_local_domain(domain, settings):
    """Postfix's resolve_local(): mydestination, or a [literal] of one of our addresses."""
    if domain.endswith("."):
        domain = domain[:-1]
    if not domain or domain.endswith("."):
        return False
    if settings.mydestination(domain):
        return True
    addr = domains.literal_address(domain)
    return addr is not None and addr in settings.interface_addresses


def _is_null_localpart(toks):
    """True for no tokens at all or one empty quoted string."""
    return not toks or (len(toks) == 1 and toks[0].kind == QSTRING and toks[0].text == "")


def _has_route_operator(local):
    return any(op in local for op in "@%!")


def _strip_locals(toks, settings):
    """The resolver loop: peel local domains and routing operators off the address.

    Returns (tokens, saved_local_domain_tokens, remote) where remote says whether the
    loop stopped at a non-local domain, or None if it did not settle within Postfix's
    bound of length + 100 passes (every pass removes a domain, an operator or a level
    of quoting, so the bound is a guard, as it is in Postfix).
    """
    canon = settings.canon
    saved, limit = None, len(internalize(toks)) + 100
    for _ in range(limit):
        at = rfind(toks, "@")
        if toks and toks[-1].kind == "." and at >= 0 and len(toks) > 1 and toks[-2].kind not in (".", "@"):
            toks = toks[:-1]
        if settings.resolve_null_domain and toks and toks[-1].kind == "@":
            toks = toks[:-1]
        at = rfind(toks, "@")
        if at >= 0:
            dom = toks[at + 1 :]
            text = internalize(dom)
            # A bare trailing '@' is stripped like a local domain; the empty domain
            # left over is refused later by the syntax check.
            if dom and not is_local_domain(text, settings):
                return toks, saved, True
            toks, saved = toks[:at], toks[at:]
        kinds = {t.kind for t in toks}
        if "@" in kinds or (canon.swap_bangpath and "!" in kinds) or (
                canon.allow_percent_hack and "%" in kinds):
            toks = rewrite_tokens(toks, canon)
            continue
        if settings.resolve_dequoted_address and len(toks) == 1 and toks[0].kind == QSTRING:
            cracked = _crack(toks[0].text, canon)
            if cracked is not None:
                toks = rewrite_tokens(scan(cracked), canon)
                continue
        return toks, saved, False
    return None


def _crack(local, canon):
    """A quoted local part with a routing operator inside: the text to rescan, or None.

    For '@' (or '%', which becomes '@') the result is quoted again, so what precedes
    the operator stays one local part; for '!' it is rescanned as it is. Both as
    Postfix does, which also keeps the loop from cracking the same string forever.
    """
    pos = local.rfind("@")
    if pos < 0 and canon.allow_percent_hack:
        pos = local.rfind("%")
    if pos >= 0:
        return quote_local(local[:pos] + "@" + local[pos + 1 :])
    if canon.swap_bangpath and "!" in local:
        return local
    return None


def resolve(address, settings, sender=""):
    """Resolve an internal-form recipient for ``sender``; never raises on bad input."""
    try:
        return _resolve(address, settings, sender)
    except TableRetry as exc:
        return Resolution("", "", address, ResolveFlag.FAIL, f"table lookup failed: {exc}")


def _resolve(address, settings, sender):
    stripped = _strip_locals(scan(quote_local(address)), settings)
    if stripped is None:
        return Resolution("", "", address, ResolveFlag.FAIL, "giving up after too many iterations")
    toks, saved, remote = stripped

    # Nothing left, or "": the local MAILER-DAEMON (empty_address_recipient).
    if _is_null_localpart(toks):
        toks = scan(quote_local(settings.empty_address_recipient))
    if rfind(toks, "@") < 0:
        toks = toks + (saved if saved else [Token("@", "@")] + scan(settings.myhostname))
    numeric = False
    if remote and settings.resolve_numeric_domain:
        # user@1.2.3.4 -> user@[1.2.3.4]; it may turn out to be one of our addresses.
        at = rfind(toks, "@")
        literal = domains.numeric_to_literal(internalize(toks[at + 1 :]))
        if literal is not None:
            toks, numeric = toks[: at + 1] + [Token(DOMLIT, literal)], True
            remote = not is_local_domain(literal, settings)
    recipient = internalize(toks)
    local_part, _, rcpt_domain = recipient.rpartition("@")
    if not numeric and not domains.valid_domain(rcpt_domain):
        return Resolution("", "", recipient, ResolveFlag.ERROR | ResolveFlag.CLASS_DEFAULT,
                          f"bad destination domain: {rcpt_domain!r}")
    flags = ResolveFlag.NONE
    if _has_route_operator(local_part):
        flags |= ResolveFlag.ROUTED
    if remote:
        transport, nexthop, flags = _remote_class(rcpt_domain, sender, settings, flags)
    else:
        transport, nexthop = settings.local_transport, rcpt_domain
        flags |= ResolveFlag.CLASS_LOCAL

    # An explicit "transport:nexthop" in main.cf overrides the nexthop chosen above.
    name, colon, dest = transport.partition(":")
    if colon and dest:
        transport, nexthop = name, dest
    else:
        transport = name
    if not transport:
        return Resolution("", "", recipient, flags | ResolveFlag.FAIL,
                          f"null transport is not allowed for class {class_name(flags)}")

    if settings.transport_maps is not None and not flags & ResolveFlag.CLASS_ALIAS:
        found = transport_lookup(settings.transport_maps, recipient,
                                 delimiter=settings.recipient_delimiter,
                                 parent_matches=settings.transport_maps_parent_matches,
                                 partial=settings.transport_maps_partial)
        if found is not None:
            transport, nexthop = apply_transport_entry(found, transport, nexthop, rcpt_domain)

    if settings.relocated_maps is not None:
        newloc = find_address(settings.relocated_maps, recipient, settings.recipient_delimiter,
                              local_domain_matcher(settings))
        if newloc is not None:
            transport, nexthop = "error", f"5.1.6 User has moved to {newloc}"

    # External commands could take "-user" for an option; refuse it here, once for all.
    if not settings.allow_min_user and recipient.startswith("-"):
        flags |= ResolveFlag.ERROR
    return Resolution(transport, nexthop, recipient, flags)


def _remote_class(rcpt_domain, sender, settings, flags):
    """Class, transport and nexthop for a domain that is not ours by mydestination."""
    if settings.virtual_alias_domains(rcpt_domain):
        table = " in virtual alias table" if settings.show_user_unknown_table_name else ""
        return "error", f"5.1.1 User unknown{table}", flags | ResolveFlag.CLASS_ALIAS
    if settings.virtual_mailbox_domains(rcpt_domain):
        return settings.virtual_transport, rcpt_domain, flags | ResolveFlag.CLASS_VIRTUAL
    if settings.relay_domains(rcpt_domain):
        transport = settings.relay_transport
        flags |= ResolveFlag.CLASS_RELAY
    else:
        transport = settings.default_transport
        found = _sender_lookup(settings.sender_dependent_default_transport_maps, sender,
                               settings.empty_address_default_transport_maps_lookup_key, settings)
        if found is not None:
            transport = found
        flags |= ResolveFlag.CLASS_DEFAULT
    # Off-host mail: sender-dependent relayhost, else relayhost, else the domain itself.
    relay = _sender_lookup(settings.sender_dependent_relayhost_maps, sender,
                           settings.empty_address_relayhost_maps_lookup_key, settings)
    if relay is not None:
        nexthop = relay
    elif settings.relayhost:
        nexthop = settings.relayhost
    else:
        nexthop = rcpt_domain
    return transport, nexthop, flags


def local_domain_matcher(settings):
    """For find_address(): $myorigin, mydestination and our [address] literals.

    These are the domains whose bare user part is also a lookup key (mail_addr_find;
    e.g. virtual_alias_maps is searched for user@domain, then user, then @domain).
    """
    origin = settings.canon.myorigin.lower()
    return lambda domain: domain == origin or is_local_domain(domain, settings)


def _sender_lookup(table, sender, null_key, settings):
    """A sender-dependent map result; empty and DUNNO mean "use the default"."""
    if table is None:
        return None
    if not sender:
        value = table(null_key)
    else:
        value = find_address(table, sender, settings.recipient_delimiter, local_domain_matcher(settings))
    if value is None or value.strip() == "" or value.strip().upper() == "DUNNO":
        return None
    return value.strip()


def strip_extension(address, delimiter):
    """user+ext@domain -> user@domain for each delimiter character; None if no extension."""
    if not delimiter:
        return None
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    cut = min((local.find(d) for d in delimiter if d in local[1:]), default=-1)
    # Postfix never treats a leading delimiter as an extension ("+foo" is a user).
    if cut <= 0:
        return None
    return local[:cut] + (at + domain if at else "")


def find_address(table, address, delimiter="", local_domain=None):
    """mail_addr_find's order: user+ext@domain, user@domain, then for a local domain
    (``local_domain(domain)`` true) user+ext and user, then @domain."""
    key = address.lower()
    local, at, domain = key.rpartition("@")
    if not at:
        local, domain = key, ""
    keys = [key, strip_extension(key, delimiter)]
    if at and local_domain is not None and local_domain(domain):
        keys += [local, strip_extension(local, delimiter)]
    if at:
        keys.append("@" + domain)
    for probe in keys:
        if probe is not None:
            value = table(probe)
            if value is not None:
                return value
    return None


def transport_lookup(table, recipient, *, delimiter="", parent_matches=False, partial=True):
    """transport(5) search: user+ext@domain, user@domain, domain, .parent..., then '*'.

    Returns the raw "transport:nexthop" value, or None when nothing matched.
    """
    key = recipient.lower()
    value = table(key)
    if value is not None:
        return value
    stripped = strip_extension(key, delimiter)
    if stripped is not None:
        value = table(stripped)
        if value is not None:
            return value
    if not partial:
        return None
    name = key.rpartition("@")[2]
    while name:
        value = table(name)
        if value is not None:
            return value
        dot = name.find(".", 1)
        if dot < 0:
            break
        # parent style: "example.com" also covers subdomains; else ".example.com" does.
        name = name[dot + 1 :] if parent_matches else name[dot:]
    return table("*")


def apply_transport_entry(entry, transport, nexthop, rcpt_domain):
    """Combine a transport(5) value with the current (transport, nexthop).

    "" and ":" change nothing; ":nexthop" keeps the transport; "transport:" resets the
    nexthop to the recipient domain; "error:text" / "retry:text" carry the text.
    """
    new_transport, _, new_nexthop = entry.strip().partition(":")
    new_transport, new_nexthop = new_transport.strip(), new_nexthop.strip()
    if not new_transport:
        return transport, new_nexthop or nexthop
    if new_nexthop:
        return new_transport, new_nexthop
    if new_transport in ("error", "retry"):
        return new_transport, "Address is undeliverable"
    return new_transport, rcpt_domain
