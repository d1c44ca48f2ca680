"""The smtpd restrictions that need no lookup table: permit, reject, networks, HELO and
address syntax, pipelining, and the relay decision (Postfix's smtpd_check.c).

Relay rule (pfx.address.resolve, as trivial-rewrite): a recipient is an authorized
destination when it resolves to a local, virtual or relay_domains class; a routed local
part (``user%foreign@local``, ``foreign!user@local``, ``"user@foreign"@local``) is judged
by the address it routes to, and under relay_domains it is refused unless
allow_untrusted_routing = yes. An IP literal is local only for our own addresses.
"""

from pfx.address.resolve import resolve
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
    return state.reply(_code(state, "defer_code", 450), "4.3.2", "Try again later")


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


def authorized_destination(config, address: str, result=None):
    """Whether mail to ``address`` may be accepted from anyone: True, False, or None when
    a lookup failed (defer). Routing tricks are unwound by trivial-rewrite's resolver;
    a routed address under relay_domains needs allow_untrusted_routing. ``result``: the
    address's Resolution when the caller has it."""
    if result is None:
        result = resolve(address, config.resolve)
    if result.failed:
        return None
    return result.auth_destination(config.allow_untrusted_routing)


def _relay_denied(state, code, dsn):
    return Reply(code, Dsn(dsn), f"<{state.recipient}>: Relay access denied")


def _lookup_failed(state):
    return Reply(451, Dsn("4.3.0"), f"<{state.recipient}>: Temporary lookup failure")


@restriction("reject_unauth_destination")
def reject_unauth_destination(state, arg):
    if state.recipient is None:
        return DUNNO
    ok = authorized_destination(state.config, state.recipient, state.resolve(state.recipient))
    if ok is None:
        return _lookup_failed(state)
    return DUNNO if ok else _relay_denied(state, _code(state, "relay_domains_reject_code", 554), "5.7.1")


@restriction("defer_unauth_destination")
def defer_unauth_destination(state, arg):
    if state.recipient is None:
        return DUNNO
    ok = authorized_destination(state.config, state.recipient, state.resolve(state.recipient))
    if ok is None:
        return _lookup_failed(state)
    # Postfix keeps relay_domains_reject_code and makes it temporary: 554 -> 454.
    code = _code(state, "relay_domains_reject_code", 554)
    return DUNNO if ok else _relay_denied(state, code - 100 if code >= 500 else code, "4.7.1")


@restriction("permit_auth_destination")
def permit_auth_destination(state, arg):
    if state.recipient is None:
        return DUNNO
    ok = authorized_destination(state.config, state.recipient, state.resolve(state.recipient))
    return PERMIT if ok is True else DUNNO
