"""The table-driven restrictions: check_{client,helo,sender,recipient}_access with access(5)
results, and reject_unlisted_recipient/_sender against the address-class tables
(local_recipient_maps, virtual_alias_maps, virtual_mailbox_maps, relay_recipient_maps,
relocated_maps; smtpd_check.c).

Tables come from state.tables (a pfx.tables registry: ``open_list("type:name, ...")``);
a lookup may answer with a Deferred (network tables). A soft access table error answers
``451 4.3.5 <x>: ... rejected: Server configuration error`` (Postfix's check_access()),
an address-class table error ``451 4.3.0 <x>: Temporary lookup failure``: mail is
deferred, never bounced.
The actions that concern the whole message (HOLD, DISCARD, REDIRECT, FILTER, BCC) and
PREPEND go to state.actions as (name, value, log text) and act as DUNNO; the session
keeps those of accepted commands, hands the first five to cleanup in the Envelope's
``actions`` and writes PREPEND's header itself, after its Received header.
"""

import re

from pfx.dsn import Dsn, Reply
from pfx.errors import TableRetry
from pfx.smtpd.checks import (DUNNO, PERMIT, STAGE_CLASS, DeferIfPermit, DeferIfReject, drive,
                              fix_dsn, restriction)
from pfx.tables import match

_NUMERIC = re.compile(r"^([45]\d\d)(?:\s+(.*))?$", re.S)
_DSN = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\s+(.*)$", re.S)
_HEADER = re.compile(r"^[\x21-\x39\x3b-\x7e]+:")


def find(tables, keys):
    """The first value for ``keys`` (key-major, pattern tables see FULL keys only) or None;
    a Deferred of it only when a table answered with one."""
    return drive(_find(tables, keys))


def _find(tables, keys):
    for key, kind in keys:
        for table in getattr(tables, "tables", [tables]):
            if kind == match.PARTIAL and match.is_pattern_table(table):
                continue
            value = yield match.safe_lookup(table, key)
            if value is not None:
                return value
    return None


def _reply(state, code, default_dsn, text, stage):
    m = _DSN.match(text)
    dsn, text = (m.group(1), m.group(2)) if m else (default_dsn, text)
    return Reply(code, Dsn(fix_dsn(code, dsn, stage)),
                 f"<{state.subject(stage)}>: {STAGE_CLASS[stage]} rejected: {text}")


def access_result(state, value, stage):
    """An access(5) right-hand side -> a restriction result (or a Deferred of one)."""
    value = value.strip()
    word, _, rest = value.partition(" ")
    verb, rest = word.upper(), rest.strip()
    codes = state.config.codes
    if verb in ("OK", "RELAY") or value.isdigit():
        return PERMIT
    if verb == "DUNNO":
        return DUNNO
    if verb == "REJECT":
        return _reply(state, codes.get("access_map_reject_code", 554), "5.7.1", rest or "Access denied", stage)
    if verb == "DEFER":
        return _reply(state, codes.get("access_map_defer_code", 450), "4.7.1", rest or "Access denied", stage)
    if verb in ("DEFER_IF_REJECT", "DEFER_IF_PERMIT"):
        reply = _reply(state, codes.get("access_map_defer_code", 450), "4.7.1", rest or "Service unavailable", stage)
        return DeferIfReject(reply) if verb == "DEFER_IF_REJECT" else DeferIfPermit(reply)
    if verb in ("WARN", "INFO"):  # logged as "warn: ..." / "info: ..." by the session
        (state.notes if verb == "WARN" else state.infos).append(rest)
        return DUNNO
    m = _NUMERIC.match(value)
    if m:
        return _reply(state, int(m.group(1)), f"{m.group(1)[0]}.7.1", m.group(2) or "Access denied", stage)
    if verb in _MESSAGE_ACTIONS:
        return _message_action(state, verb, rest, stage)
    # Anything else is a restriction list or a class name (access(5) "restriction...").
    return state.run_list([w for w in re.split(r"[\s,]+", value) if w], 1)


_MESSAGE_ACTIONS = ("HOLD", "DISCARD", "REDIRECT", "FILTER", "PREPEND", "BCC")


def _message_action(state, verb, rest, stage):
    """HOLD/DISCARD [text], REDIRECT/BCC user@domain, FILTER transport:destination and
    PREPEND headername: value -> state.actions (smtpd_check.c's wording for the log)."""
    who = f"<{state.subject(stage)}>: {STAGE_CLASS[stage]}"
    if verb in ("HOLD", "DISCARD"):
        state.actions.append((verb.lower(), rest, f"{who} {rest or f'triggers {verb} action'}"))
    elif verb in ("REDIRECT", "BCC"):
        if "@" not in rest:
            state.warnings.append(f"access table: bad {verb} target \"{rest}\"; ignored")
            return DUNNO
        state.actions.append((verb.lower(), rest, f"{who} triggers {verb} {rest}"))
    elif verb == "FILTER":
        if ":" not in rest:
            state.warnings.append(f"access table: bad FILTER destination \"{rest}\"; ignored")
            return DUNNO
        state.actions.append(("filter", rest, f"{who} triggers FILTER {rest}"))
    else:  # PREPEND
        if not _HEADER.match(rest):
            state.warnings.append(f"access table: bad PREPEND header text \"{rest}\"; ignored")
            return DUNNO
        state.actions.append(("prepend", rest, None))
    return DUNNO


def _check(state, spec, keys, stage):
    return drive(_check_steps(state, spec, keys, stage))


def _check_steps(state, spec, keys, stage):
    if state.tables is None or not keys:
        return DUNNO
    try:
        value = yield find(state.tables.open_list(spec), keys)
    except TableRetry:
        return _reply(state, 451, "4.3.5", "Server configuration error", stage)
    if value is None:
        return DUNNO
    result = yield access_result(state, value, stage)
    return result


@restriction("check_client_access", takes_arg=True)
def check_client_access(state, spec):
    keys = match.client_keys(state.client_name, state.client_addr, state.config.access_parent)
    return _check(state, spec, keys, "client")


@restriction("check_helo_access", takes_arg=True)
def check_helo_access(state, spec):
    keys = match.access_host_keys(state.helo, state.config.access_parent) if state.helo else []
    return _check(state, spec, keys, "helo")


def _address_keys(state, address):
    if address is None:
        return []
    return match.access_address_keys(address, state.config.recipient_delimiter, state.config.access_parent,
                                     state.config.null_access_key)


@restriction("check_sender_access", takes_arg=True)
def check_sender_access(state, spec):
    return _check(state, spec, _address_keys(state, state.sender), "sender")


@restriction("check_recipient_access", takes_arg=True)
def check_recipient_access(state, spec):
    return _check(state, spec, _address_keys(state, state.recipient), "recipient")


# address class -> (maps parameter, reject code parameter, table name in the text)
_CLASS_MAPS = {"alias": ("virtual_alias_maps", "unknown_virtual_alias_reject_code", "virtual alias table"),
               "virtual": ("virtual_mailbox_maps", "unknown_virtual_mailbox_reject_code", "virtual mailbox table"),
               "relay": ("relay_recipient_maps", "unknown_relay_recipient_reject_code", "relay recipient table")}


@restriction("reject_unlisted_recipient")
def reject_unlisted_recipient(state, arg):
    """Postfix's check_rcpt_maps: the recipient must be known in its address class's table."""
    return _unlisted(state, state.recipient, "recipient", "5.1.1")


@restriction("reject_unlisted_sender")
def reject_unlisted_sender(state, arg):
    """The same check for the sender (the null sender passes), as Postfix's
    check_sender_rcpt_maps: ``Sender address rejected: User unknown in ... table``."""
    return _unlisted(state, state.sender or None, "sender", "5.1.1")


def _retry(address):
    """reject_dict_retry(): no "... address rejected:" in this one."""
    return Reply(451, Dsn("4.3.0"), f"<{address}>: Temporary lookup failure")


def _unlisted(state, address, stage, unknown_dsn):
    return drive(_unlisted_steps(state, address, stage, unknown_dsn))


def _unlisted_steps(state, address, stage, unknown_dsn):
    config = state.config
    if address is None or state.tables is None:
        return DUNNO
    res = state.resolve(address)
    if res.failed:
        return _retry(address)
    if res.error:
        return DUNNO
    if res.transport == "error" and res.nexthop.startswith("5.1.6 "):
        return _reply(state, 550, "5.1.6", res.nexthop[6:], stage)  # relocated_maps
    delimiter = config.recipient_delimiter
    try:
        aliases = config.recipient_maps.get("virtual_alias_maps", "")
        if aliases and (yield find(state.tables.open_list(aliases),
                                   match.mapping_keys(res.recipient, delimiter))) is not None:
            return DUNNO
        cls = res.address_class
        if cls == "local":
            maps, code, name = config.local_recipient_maps, "unknown_local_recipient_reject_code", \
                "local recipient table"
            keys = match.mapping_keys(res.recipient, delimiter, local_domain=True)
        elif cls in _CLASS_MAPS:
            param, code, name = _CLASS_MAPS[cls]
            maps = config.recipient_maps.get(param, "")
            keys = match.mapping_keys(res.recipient, delimiter)
        else:
            return DUNNO
        if not maps and cls != "alias":
            return DUNNO  # an empty map means "accept any user" (except virtual alias domains)
        value = (yield find(state.tables.open_list(maps), keys)) if maps else None
    except TableRetry:
        return _retry(address)
    if value is not None:
        return DUNNO
    return _reply(state, config.codes.get(code, 550), unknown_dsn, f"User unknown in {name}", stage)
