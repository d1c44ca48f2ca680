"""The smtpd restrictions that need no lookup table: permit, reject, networks, HELO and
address syntax, pipelining, and the relay decision (Postfix's smtpd_check.c).

Relay rule: a recipient is an authorized destination when its domain is in
mydestination or relay_domains; a routed local part (``user%foreign@local``,
``foreign!user@local``, ``"user@foreign"@local``) is judged by the address it routes
to, and under relay_domains it is refused unless allow_untrusted_routing = yes; IP
literals are never authorized (pfx does not yet know its own interface addresses here).
"""

from pfx.dsn import Dsn, Reply
from pfx.smtpd import addr
from pfx.smtpd.checks import DEFER_IF_PERMIT, DEFER_IF_REJECT, DUNNO, PERMIT, restriction


def _code(state, name, default):
    return state.config.codes.get(name, default)


@restriction("permit")
def permit(state, arg):
    return PERMIT


@restriction("dunno")
def dunno(state, arg):
    return DUNNO


@restriction("reject")
def reject(state, arg):
    return state.reply(_code(state, "reject_code", 554), "5.7.1", "Access denied")


@restriction("defer")
def defer_(state, arg):
    return state.reply(_code(state, "defer_code", 450), "4.7.1", "Try again later")


@restriction("defer_if_permit")
def defer_if_permit(state, arg):
    return DEFER_IF_PERMIT


@restriction("defer_if_reject")
def defer_if_reject(state, arg):
    return DEFER_IF_REJECT


@restriction("permit_mynetworks")
def permit_mynetworks(state, arg):
    return PERMIT if state.config.mynetworks.match(state.client_addr, state.client_name) else DUNNO


@restriction("permit_sasl_authenticated")
def permit_sasl_authenticated(state, arg):
    return PERMIT if state.sasl_authenticated else DUNNO


@restriction("reject_unauth_pipelining")
def reject_unauth_pipelining(state, arg):
    # Input sent before the reply to a command that ends a pipelined group, or any
    # pipelining by a client that was never offered PIPELINING (it sent HELO).
    if state.input_pending and (not state.esmtp or state.command == "DATA"):
        return state.reply(503, "5.5.0", "Improper use of SMTP command pipelining")
    return DUNNO


@restriction("reject_invalid_helo_hostname")
def reject_invalid_helo_hostname(state, arg):
    helo = state.helo
    if helo is None:
        return DUNNO
    ok = addr.valid_address_literal(helo) if helo.startswith("[") else addr.valid_hostname(helo)
    if ok:
        return DUNNO
    return state.reply(_code(state, "invalid_hostname_reject_code", 501), "5.5.2", "Invalid name", stage="helo")


@restriction("reject_non_fqdn_helo_hostname")
def reject_non_fqdn_helo_hostname(state, arg):
    helo = state.helo
    if helo is None or addr.is_fqdn(helo):
        return DUNNO
    return state.reply(_code(state, "non_fqdn_reject_code", 504), "5.5.2", "need fully-qualified hostname",
                       stage="helo")


def _non_fqdn_address(state, address, stage):
    if not address:
        return DUNNO  # the null sender; a missing recipient is not checked here
    _, domain = addr.split(address)
    if domain and addr.is_fqdn(domain):
        return DUNNO
    return state.reply(_code(state, "non_fqdn_reject_code", 504), "5.5.2", "need fully-qualified address",
                       stage=stage)


@restriction("reject_non_fqdn_sender")
def reject_non_fqdn_sender(state, arg):
    return _non_fqdn_address(state, state.sender, "sender")


@restriction("reject_non_fqdn_recipient")
def reject_non_fqdn_recipient(state, arg):
    return _non_fqdn_address(state, state.recipient, "recipient")


def is_local_domain(config, domain: str) -> bool:
    return domain == "" or config.mydestination.match(domain)


def authorized_destination(config, address: str, depth: int = 0) -> bool:
    """Whether mail to ``address`` may be accepted from anyone (no open relay)."""
    if depth > 5:
        return False
    local, domain = addr.split(address)
    if domain.startswith("["):
        return False
    if is_local_domain(config, domain.lower()):
        if addr.has_routing(local):
            return authorized_destination(config, addr.unwind(local), depth + 1)
        return True
    if config.relay_domains.match(domain):
        return config.allow_untrusted_routing or not addr.has_routing(local)
    return False


def _relay_denied(state, code, dsn):
    return Reply(code, Dsn(dsn), f"<{state.recipient}>: Relay access denied")


@restriction("reject_unauth_destination")
def reject_unauth_destination(state, arg):
    if state.recipient is None or authorized_destination(state.config, state.recipient):
        return DUNNO
    return _relay_denied(state, _code(state, "relay_domains_reject_code", 554), "5.7.1")


@restriction("defer_unauth_destination")
def defer_unauth_destination(state, arg):
    if state.recipient is None or authorized_destination(state.config, state.recipient):
        return DUNNO
    # Postfix keeps relay_domains_reject_code and makes it temporary: 554 -> 454.
    code = _code(state, "relay_domains_reject_code", 554)
    return _relay_denied(state, code - 100 if code >= 500 else code, "4.7.1")


@restriction("permit_auth_destination")
def permit_auth_destination(state, arg):
    if state.recipient is not None and authorized_destination(state.config, state.recipient):
        return PERMIT
    return DUNNO
