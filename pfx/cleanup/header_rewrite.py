"""cleanup's header address rewriting: canonical form, canonical maps, masquerading (pure).

Postfix rewrites the addresses in sender and recipient headers (From:, To:, Cc:, ...)
of local submissions in trivial-rewrite's "local" context (append_at_myorigin,
append_dot_mydomain, ...), and those of remote mail only when remote_header_rewrite_domain
is set; then canonical maps and masquerading apply per their classes.

Most headers change nothing: without canonical maps and masquerade_domains, an address
that already has a dotted domain and no source route is its own canonical form. So,
when no map and no masquerading applies to header addresses, the rewriting is a pure
function of the header value and the context's settings:

* a value that is one plain ``user@dom.ain`` or ``<user@dom.ain>`` (dot-atom local part,
  a domain of two or more labels, no trailing dot, no comment, no folding) is returned
  as it is, without parsing: rewrite_tokens() would change nothing (there is an '@', so
  no bang path, percent hack or @myorigin; the domain has a dot, so no .mydomain; no
  trailing dot to strip);
* any other short value's answer is remembered (an LRU cache keyed by value, settings
  and header_address_token_limit), since the same From: and To: values recur.

With any header-class map or masquerading, every address goes through the full path
each time (a table may change or fail, and its answer must be asked for each message).

Security: header values are untrusted; the fast path is one anchored regex without
nested quantifiers, and the cache holds values of at most CACHED_VALUE_LIMIT characters.
"""

import functools
import re

from pfx.address.parse import internalize, parse_address_list, scan, scan_address
from pfx.address.quote import quote_local
from pfx.address.rewrite import canonicalize_external
from pfx.cleanup.mapping import (HEADER_RECIPIENT, HEADER_SENDER, rewrite_recipient,
                                 rewrite_sender)

CACHED_VALUE_LIMIT = 256  # longer values are rewritten each time, not remembered

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9-]+"
_PLAIN = f"{_ATOM}(?:\\.{_ATOM})*@{_LABEL}(?:\\.{_LABEL})+"
_FULLY_QUALIFIED = re.compile(f"[ \\t]*(?:{_PLAIN}|<{_PLAIN}>)[ \\t]*")


def header_rewriter(canon, mappings, token_limit, queue_id, warn):
    """-> rewrite(kind, value) for one message, or None when headers are left alone.

    ``canon`` is the context's CanonSettings, ``mappings`` cleanup's Mappings; ``kind`` is
    "header_sender" or "header_recipient"; the result is the new value (or the same).
    """
    if not canon.enabled:
        return None
    if maps_are_identity(mappings):
        return functools.partial(_canonical_only, canon=canon, token_limit=token_limit)

    def rewrite(kind, value):
        step = rewrite_sender if kind == HEADER_SENDER else rewrite_recipient

        def one(external):
            if _left_alone(external):
                return None
            # a route address (<@a:u@d>) loses its route, as trivial-rewrite strips it
            canonical = canonicalize_external(external, canon)
            internal = internalize(scan_address(canonical))
            mapped = step(internal, mappings, queue_id, kind, warn)
            return canonical if mapped == internal else quote_local(mapped)
        return rewrite_addresses(value, one, token_limit)
    return rewrite


def maps_are_identity(mappings) -> bool:
    """True when no canonical map and no masquerading applies to header addresses."""
    header = {HEADER_SENDER, HEADER_RECIPIENT}
    used = [(mappings.canonical_maps, mappings.canonical_classes),
            (mappings.sender_canonical_maps, mappings.sender_canonical_classes),
            (mappings.recipient_canonical_maps, mappings.recipient_canonical_classes),
            (mappings.masquerade_domains or None, mappings.masquerade_classes)]
    return all(what is None or not header & classes for what, classes in used)


def _left_alone(external) -> bool:
    """An empty or route-only address is left as it is."""
    return not external or (external.startswith("@") and not external.partition(":")[2])


def _canonical_only(kind, value, *, canon, token_limit):
    if len(value) <= token_limit and _FULLY_QUALIFIED.fullmatch(value):
        return value  # at most len(value) tokens, so within the limit too
    if len(value) > CACHED_VALUE_LIMIT:
        return _canonical_value(value, canon, token_limit)
    return _cached_canonical_value(value, canon, token_limit)


def _canonical_value(value, canon, token_limit):
    def one(external):
        return None if _left_alone(external) else canonicalize_external(external, canon)
    return rewrite_addresses(value, one, token_limit)


_cached_canonical_value = functools.lru_cache(maxsize=1024)(_canonical_value)


def rewrite_addresses(value, one, token_limit):
    """The value with each address replaced by one(address), within the token limit."""
    tokens = scan(value)
    if len(tokens) > token_limit:
        value, tokens = within_token_limit(value, token_limit), None
    return parse_address_list(value, tokens).rewrite(one)


def within_token_limit(value: str, limit: int) -> str:
    """header_address_token_limit: the address tokens past the limit are discarded, as
    cleanup(8) does, so one header cannot cost unbounded parsing work."""
    for count, token in enumerate(scan(value)):
        if count == limit:
            return value[:token.start].rstrip().rstrip(",").rstrip()
    return value
