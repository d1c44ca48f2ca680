"""The DNS restrictions: reject_unknown_{sender,recipient}_domain, reject_unknown_helo_hostname,
reject_rbl_client and reject_rhsbl_{client,helo,sender,recipient} (smtpd_check.c).

Lookups go through state.resolver, a twisted.names IResolver the runtime provides;
without one these restrictions answer DUNNO with a note in the log. A temporary DNS
failure follows unknown_*_tempfail_action (defer_if_permit by default); a DNSBL that
cannot be reached counts as "not listed", as in Postfix. The RBL reply is Postfix's
default_rbl_reply; rbl_reply_maps is not supported yet.
"""

import ipaddress

from twisted.internet import defer
from twisted.names import dns
from twisted.names import error as dns_error

from pfx.dsn import Dsn, Reply
from pfx.smtpd import addr
from pfx.smtpd.checks import DUNNO, DeferIfPermit, restriction

OK, NOT_FOUND, NULL_MX, TEMPFAIL = "ok", "notfound", "nullmx", "tempfail"


@defer.inlineCallbacks
def domain_status(resolver, domain, mx=True):
    """OK when the domain has an MX (or, failing that, an A or AAAA record)."""
    lookups = [resolver.lookupMailExchange] if mx else []
    lookups += [resolver.lookupAddress, resolver.lookupIPV6Address]
    for lookup in lookups:
        try:
            answers, _, _ = yield lookup(domain)
        except dns_error.DNSNameError:
            return NOT_FOUND
        except Exception:
            return TEMPFAIL
        found = [a.payload for a in answers if a.type in (dns.MX, dns.A, dns.AAAA)]
        if found and lookup == resolver.lookupMailExchange:
            if len(found) == 1 and str(found[0].name) in ("", "."):
                return NULL_MX  # RFC 7505
            return OK
        if found:
            return OK
    return NOT_FOUND


def _no_resolver(state, name):
    state.notes.append(f"{name}: no DNS resolver is configured; ignored")
    return DUNNO


def _tempfail(state, reply, kind):
    action = state.config.tempfail_actions.get(kind, "defer_if_permit")
    if action == "dunno":
        return DUNNO
    if action == "defer":
        return reply
    return DeferIfPermit(reply)


@defer.inlineCallbacks
def _unknown_domain(state, address, stage, detail, name):
    if state.resolver is None:
        return _no_resolver(state, name)
    if not address:
        return DUNNO
    _, domain = addr.split(address)
    if not domain or domain.startswith("["):
        return DUNNO
    if state.resolve(address).address_class in ("local", "virtual", "alias"):
        return DUNNO  # we are the final destination
    status = yield domain_status(state.resolver, domain)
    code = state.config.codes.get("unknown_address_reject_code", 450)
    if status == OK:
        return DUNNO
    if status == NULL_MX:
        if stage == "sender":
            return Reply(550, Dsn("5.7.27"), f"<{address}>: Sender address rejected: Domain {domain} does not "
                                            f"accept mail (nullMX)")
        return Reply(556, Dsn("5.1.10"), f"<{address}>: Recipient address rejected: Domain {domain} does not "
                                         f"accept mail (nullMX)")
    if status == TEMPFAIL:
        return _tempfail(state, state.reply(450, "4." + detail, "Domain not found", stage), "address")
    return state.reply(code, f"{str(code)[0]}.{detail}", "Domain not found", stage)


@restriction("reject_unknown_sender_domain")
def reject_unknown_sender_domain(state, arg):
    return _unknown_domain(state, state.sender, "sender", "1.8", "reject_unknown_sender_domain")


@restriction("reject_unknown_recipient_domain")
def reject_unknown_recipient_domain(state, arg):
    return _unknown_domain(state, state.recipient, "recipient", "1.2", "reject_unknown_recipient_domain")


@restriction("reject_unknown_helo_hostname")
@defer.inlineCallbacks
def reject_unknown_helo_hostname(state, arg):
    helo = state.helo
    if state.resolver is None:
        return _no_resolver(state, "reject_unknown_helo_hostname")
    if not helo or helo.startswith("["):
        return DUNNO
    status = yield domain_status(state.resolver, helo)
    if status in (OK, NULL_MX):
        return DUNNO
    code = state.config.codes.get("unknown_hostname_reject_code", 450)
    if status == TEMPFAIL:
        return _tempfail(state, state.reply(450, "4.7.1", "Host not found", "helo"), "helo")
    return state.reply(code, f"{str(code)[0]}.7.1", "Host not found", "helo")


def reversed_address(text: str) -> str | None:
    """``192.0.2.1`` -> ``1.2.0.192``; IPv6 as reversed nibbles (the DNSBL query form)."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if ip.version == 4:
        return ".".join(reversed(text.split(".")))
    return ".".join(reversed(ip.exploded.replace(":", "")))


@defer.inlineCallbacks
def _listed(state, query, want):
    """-> the TXT reason (maybe "") when ``query`` has an A record (equal to ``want`` if
    given), else None. An unreachable list counts as not listed."""
    try:
        answers, _, _ = yield state.resolver.lookupAddress(query)
    except Exception:
        return None
    found = [a.payload.dottedQuad() for a in answers if a.type == dns.A]
    if want:
        found = [a for a in found if a == want]
    if not found:
        return None
    try:
        texts, _, _ = yield state.resolver.lookupText(query)
        reason = " ".join(b"".join(t.payload.data).decode("utf-8", "replace") for t in texts if t.type == dns.TXT)
    except Exception:
        reason = ""
    return reason


def _reply(state, zone, reason, what, klass):
    code = state.config.codes.get("maps_rbl_reject_code", 554)
    text = f"Service unavailable; {klass} [{what}] blocked using {zone}" + (f"; {reason}" if reason else "")
    return Reply(code, Dsn(f"{str(code)[0]}.7.1"), text)


@defer.inlineCallbacks
def _rbl(state, arg, what, klass, name):
    if state.resolver is None:
        return _no_resolver(state, name)
    if not what or what == "unknown":
        return DUNNO
    key = reversed_address(what)
    if key is None:
        return DUNNO
    zone, _, want = arg.partition("=")
    reason = yield _listed(state, f"{key}.{zone}", want)
    return DUNNO if reason is None else _reply(state, zone, reason, what, klass)


@defer.inlineCallbacks
def _rhsbl(state, arg, what, klass, name):
    """reject_rbl_domain(): the domain of ``what`` (an address, or a name) is looked up;
    the reply names ``what`` whole, as Postfix's $rbl_what does."""
    if state.resolver is None:
        return _no_resolver(state, name)
    if not what:
        return DUNNO
    domain = what.rpartition("@")[2] if "@" in what else what
    if domain.startswith("[") or not domain or not addr.valid_hostname(domain):
        return DUNNO
    zone, _, want = arg.partition("=")
    reason = yield _listed(state, f"{domain.rstrip('.')}.{zone}", want)
    return DUNNO if reason is None else _reply(state, zone, reason, what, klass)


@restriction("reject_rbl_client", takes_arg=True)
def reject_rbl_client(state, arg):
    return _rbl(state, arg, state.client_addr, "Client host", "reject_rbl_client")


@restriction("reject_rhsbl_client", takes_arg=True)
def reject_rhsbl_client(state, arg):
    if state.client_name == "unknown":
        return DUNNO
    return _rhsbl(state, arg, state.client_name, "Client host", "reject_rhsbl_client")


@restriction("reject_rhsbl_helo", takes_arg=True)
def reject_rhsbl_helo(state, arg):
    return _rhsbl(state, arg, state.helo, "Helo command", "reject_rhsbl_helo")


@restriction("reject_rhsbl_sender", takes_arg=True)
def reject_rhsbl_sender(state, arg):
    return _rhsbl(state, arg, state.sender, "Sender address", "reject_rhsbl_sender")


@restriction("reject_rhsbl_recipient", takes_arg=True)
def reject_rhsbl_recipient(state, arg):
    return _rhsbl(state, arg, state.recipient, "Recipient address", "reject_rhsbl_recipient")
