"""cleanup's address mappings: canonical(5), masquerading, virtual(5) expansion, bcc maps (pure).

Follows cleanup_map11.c (one-to-one canonical mapping, at most 10 levels), cleanup_map1n.c
(one-to-many virtual alias expansion) and cleanup_masq.c. Addresses are in internal
(unquoted) form; table values are external form, as in Postfix, and are unquoted here.

A table that fails soft (TableRetry), or that answers with a Deferred (a network table:
cleanup's envelope pass is synchronous, so such a table is not supported here yet),
raises MappingError with Postfix's warning text and a 4xx reply; the caller refuses the
message rather than queue it with the wrong recipients.

Security: addresses and table results are untrusted strings; expansion is bounded by
virtual_alias_recursion_limit, virtual_alias_expansion_limit and
virtual_alias_address_length_limit.
"""

import attrs

from pfx.address.parse import internalize, parse_address_list, scan_address
from pfx.address.quote import quote_local
from pfx.address.rewrite import masquerade as address_masquerade
from pfx.dsn import Dsn, Reply
from pfx.errors import TableRetry
from pfx.tables.match import find, mapping_keys, split_address, split_extension

MAX_CANONICAL_NESTING = 10  # cleanup_map11.c's MAX_RECURSION
LOOKUP_PROBLEM = Reply(451, Dsn("4.3.0"), "Error: queue file write error")
EXPANSION_ERROR = Reply(451, Dsn("4.6.0"), "Alias expansion error")

ENVELOPE_SENDER = "envelope_sender"
ENVELOPE_RECIPIENT = "envelope_recipient"
HEADER_SENDER = "header_sender"
HEADER_RECIPIENT = "header_recipient"


class MappingError(Exception):
    """A mapping could not be done now; ``warning`` is the log text, ``reply`` the answer."""

    def __init__(self, warning, reply=LOOKUP_PROBLEM):
        super().__init__(warning)
        self.warning = warning
        self.reply = reply


@attrs.frozen
class Mappings:
    """The tables and knobs; a table is any ILookupTable (a TableChain) or None."""

    canonical_maps: object = None
    sender_canonical_maps: object = None
    recipient_canonical_maps: object = None
    canonical_classes: frozenset = frozenset({ENVELOPE_SENDER, ENVELOPE_RECIPIENT,
                                              HEADER_SENDER, HEADER_RECIPIENT})
    sender_canonical_classes: frozenset = frozenset({ENVELOPE_SENDER, HEADER_SENDER})
    recipient_canonical_classes: frozenset = frozenset({ENVELOPE_RECIPIENT, HEADER_RECIPIENT})
    masquerade_domains: tuple = ()
    masquerade_exceptions: tuple = ()
    masquerade_classes: frozenset = frozenset({ENVELOPE_SENDER, HEADER_SENDER,
                                               HEADER_RECIPIENT})
    virtual_alias_maps: object = None
    recursion_limit: int = 1000
    expansion_limit: int = 1000
    address_length_limit: int = 1000
    always_bcc: str = ""
    sender_bcc_maps: object = None
    recipient_bcc_maps: object = None
    recipient_delimiter: str = ""
    propagate: frozenset = frozenset({"canonical", "virtual"})
    local_domains: frozenset = frozenset()  # lower-case: $myorigin, $mydestination

    def is_local(self, address) -> bool:
        _, domain = split_address(address)
        return domain is None or domain.lower().rstrip(".") in self.local_domains


def unquote_value(external) -> list:
    """A table value (``a@x, "b c"@y``) -> internal-form addresses."""
    return [internalize(scan_address(a)) for a in parse_address_list(external).addresses()]


def _lookup(tables, address, mappings, what, queue_id):
    """-> (list of internal addresses, matched extension) or None."""
    # Tables hold external (quoted) forms: "john doe"@example.com, as Postfix queries.
    address = quote_local(address)
    keys = mapping_keys(address, mappings.recipient_delimiter, mappings.is_local(address))
    local, _ = split_address(address)
    _, ext = split_extension(local, mappings.recipient_delimiter)
    keeps = {address, local} if ext else set()
    try:
        match = find(tables, keys, ext, keeps)
    except TableRetry:
        match = None
        failed = True
    else:
        failed = match is not None and hasattr(match.value, "addCallback")
    if failed:
        raise MappingError(f"{queue_id}: {what} map lookup problem for {address} -- "
                           "message not accepted, try again later")
    if match is None:
        return None
    value = match.value
    if value.startswith("@"):  # "@other": keep the local part, without its extension
        value = (local[: len(local) - len(ext)] if ext else local) + value
    extension = match.extension if _propagates(what, mappings) else ""
    return [_add_extension(a, extension) for a in unquote_value(value)]


def _propagates(what, mappings):
    """propagate_unmatched_extensions: "canonical" or "virtual"; bcc maps never."""
    if "bcc" in what:
        return False
    return ("virtual" if what.startswith("virtual") else "canonical") in mappings.propagate


def _add_extension(address, extension):
    if not extension:
        return address
    local, domain = split_address(address)
    return f"{local}{extension}@{domain}" if domain is not None else local + extension


def canonical(address, tables, mappings, name, queue_id, warn=None):
    """One-to-one mapping through ``tables`` (cleanup_map11_internal); -> address."""
    if tables is None or address == "":
        return address
    for _ in range(MAX_CANONICAL_NESTING):
        found = _lookup(tables, address, mappings, name, queue_id)
        if not found:
            return address
        if len(found) > 1 and warn is not None:
            warn(f"{queue_id}: multi-valued {name} entry for {address}")
        new = found[0]
        if new.lower() == address.lower():
            return new  # maps to itself: done
        address = new
    raise MappingError(f"{queue_id}: unreasonable {name} map nesting for {address} -- "
                       "message not accepted, try again later")


def masquerade(address, mappings):
    """masquerade_domains (``!`` exceptions), masquerade_exceptions: pfx.address.rewrite's."""
    if not mappings.masquerade_domains or address == "":
        return address
    return address_masquerade(address, mappings.masquerade_domains,
                              exceptions=mappings.masquerade_exceptions)


def rewrite_sender(address, mappings, queue_id, klass=ENVELOPE_SENDER, warn=None):
    """sender_canonical_maps, then canonical_maps, then masquerading, per the classes."""
    return _rewrite(address, mappings, queue_id, klass, warn, "sender")


def rewrite_recipient(address, mappings, queue_id, klass=ENVELOPE_RECIPIENT, warn=None):
    """recipient_canonical_maps, then canonical_maps, then masquerading, per the classes."""
    return _rewrite(address, mappings, queue_id, klass, warn, "recipient")


def _rewrite(address, mappings, queue_id, klass, warn, side):
    if klass in getattr(mappings, f"{side}_canonical_classes"):
        name = f"{side}_canonical_maps"
        address = canonical(address, getattr(mappings, name), mappings, name, queue_id, warn)
    if klass in mappings.canonical_classes:
        address = canonical(address, mappings.canonical_maps, mappings, "canonical_maps",
                            queue_id, warn)
    if klass in mappings.masquerade_classes:
        address = masquerade(address, mappings)
    return address


def expand_virtual(address, mappings, queue_id):
    """virtual_alias_maps expansion (cleanup_map1n_internal) -> list of addresses.

    An address that expands to itself (``a -> a, b``) is kept once; a longer loop
    (``a -> b``, ``b -> a``) runs into virtual_alias_recursion_limit and the message is
    deferred, as in Postfix.
    """
    tables = mappings.virtual_alias_maps
    if tables is None:
        return [address]
    out = [address]
    been_here = set()
    arg = 0
    while arg < len(out):
        if len(out) > mappings.expansion_limit:
            raise MappingError(f"{queue_id}: unreasonable virtual_alias_maps map expansion "
                               f"size for {address} -- message not accepted, try again later",
                               EXPANSION_ERROR)
        count = 0
        while out[arg].lower() not in been_here:
            if count >= mappings.recursion_limit:
                raise MappingError(f"{queue_id}: unreasonable virtual_alias_maps map nesting "
                                   f"for {address} -- message not accepted, try again later",
                                   EXPANSION_ERROR)
            count += 1
            found = _lookup(tables, out[arg], mappings, "virtual_alias_maps", queue_id)
            if not found:
                break
            lhs = out[arg]
            for i, new in enumerate(found):
                if len(new) > mappings.address_length_limit:
                    raise MappingError(f"{queue_id}: unreasonable virtual_alias_maps result "
                                       f"{new[:300]}... -- message not accepted, try again "
                                       "later", EXPANSION_ERROR)
                if i == 0:
                    out[arg] = new
                else:
                    out.append(new)
                if new.lower() == lhs.lower():
                    been_here.add(lhs.lower())  # an address may expand into itself once
        arg += 1
    return out


def bcc_lookup(tables, address, mappings, name, queue_id):
    """sender_bcc_maps / recipient_bcc_maps: the first address of the result, or None."""
    if tables is None or address == "":
        return None
    found = _lookup(tables, address, mappings, name, queue_id)
    return found[0] if found else None
