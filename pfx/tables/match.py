"""Postfix's table search orders, in one place: which keys to try, in what order, in which tables.

Every caller (smtpd access checks, cleanup's canonical and virtual mapping, trivial
rewrite's transport and relocated lookups, local's aliases) builds its key list here and
searches with find(). Settings arrive as plain arguments: ``delimiters`` is
recipient_delimiter (any one of its characters starts an extension),
``parent_matches`` is whether that table's name is listed in
parent_domain_matches_subdomains, ``local_domain`` whether the address's domain is
$myorigin, in $mydestination, $inet_interfaces or $proxy_interfaces.

Each key is FULL or PARTIAL. As in Postfix (maps_find with DICT_FLAG_FIXED), pattern
tables (regexp, pcre, cidr) see only the FULL keys — the address or name as it is —
while indexed tables also see the PARTIAL forms (user@domain without extension,
@domain, parent domains, network prefixes). The search is key-major: each key goes to
every table before the next key is tried (virtual(5): "Each query pattern is sent to
each specified lookup table before trying the next query pattern"). A soft error
(TableRetry) stops the search and reaches the caller.
"""

import ipaddress

import attrs

from pfx.tables.chain import safe_lookup

FULL = "full"
PARTIAL = "partial"


@attrs.frozen
class Match:
    value: str
    key: str              # the key that matched
    extension: str = ""   # "+foo" when the address had one and the match ignored it


def split_address(address):
    """``user@domain`` -> (user, domain); no ``@`` -> (address, None). Splits at the last @."""
    local, at, domain = address.rpartition("@")
    return (local, domain) if at else (address, None)


def split_extension(local, delimiters, double_bounce="double-bounce"):
    """-> (base, extension incl. its delimiter or ""), per Postfix's split_addr().

    Never split postmaster, MAILER-DAEMON or the double-bounce sender; with ``-`` among
    the delimiters, never split ``owner-foo`` or ``foo-request`` (aliases(5) needs
    them whole); never leave an empty base (``+foo`` stays whole).
    """
    if not delimiters:
        return local, ""
    lowered = local.lower()
    if lowered in ("postmaster", "mailer-daemon", double_bounce.lower()):
        return local, ""
    if "-" in delimiters and (lowered.startswith("owner-") or
                              (len(lowered) > 8 and lowered.endswith("-request"))):
        return local, ""
    for i, ch in enumerate(local):
        if ch in delimiters:
            if i == 0:
                return local, ""
            return local[:i], local[i:]
    return local, ""


def domain_keys(domain, parent_matches):
    """``a.b.com`` -> [a.b.com FULL, then b.com, com (parent_matches) or .b.com, .com], PARTIAL."""
    keys = [(domain, FULL)]
    labels = domain.split(".")
    for i in range(1, len(labels)):
        parent = ".".join(labels[i:])
        if not parent:
            continue
        keys.append((parent if parent_matches else "." + parent, PARTIAL))
    return keys


def ip_keys(address):
    """``192.0.2.1`` -> 192.0.2.1, 192.0.2, 192.0, 192; IPv6 loses ``:part`` at a time.

    The address is put in the canonical form Postfix logs (compressed lower-case IPv6;
    an IPv4-mapped IPv6 address as plain IPv4) before truncating.
    """
    text = address.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text.lower().startswith("ipv6:"):
        text = text[5:]
    try:
        addr = ipaddress.ip_address(text)
        if addr.version == 6 and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        text = str(addr)
    except ValueError:
        return [(address, FULL)]
    delim = ":" if ":" in text else "."
    keys = [(text, FULL)]
    while delim in text:
        text = text.rsplit(delim, 1)[0]
        if text:
            keys.append((text, PARTIAL))
    return keys


def access_address_keys(address, delimiters="", parent_matches=True, null_key="<>"):
    """access(5) for a sender/recipient: user+foo@domain, user@domain, domain (and
    parents), user+foo@, user@. The null address is looked up as ``null_key``."""
    if address == "":
        return [(null_key, FULL)]
    local, domain = split_address(address)
    base, ext = split_extension(local, delimiters)
    keys = [(address, FULL)]
    if ext and domain is not None:
        keys.append((f"{base}@{domain}", PARTIAL))
    if domain is not None:
        keys.extend((key, PARTIAL) for key, _ in domain_keys(domain, parent_matches))
    if ext:
        keys.append((f"{local}@", PARTIAL))
    keys.append((f"{base}@", PARTIAL))
    return _unique(keys)


def access_host_keys(hostname, parent_matches=True):
    """access(5) for a host name (check_client_access, helo, MX names)."""
    return domain_keys(hostname.rstrip("."), parent_matches)


def client_keys(hostname, address, parent_matches=True):
    """check_client_access: the client name and its parents (unless ``unknown``), then
    the address and its network prefixes."""
    keys = []
    if hostname and hostname != "unknown":
        keys.extend(access_host_keys(hostname, parent_matches))
    keys.extend(ip_keys(address))
    return _unique(keys)


def mapping_keys(address, delimiters="", local_domain=False):
    """canonical(5), virtual(5), relocated(5): user+foo@domain, user@domain, then
    user+foo and user only when ``local_domain``, then @domain."""
    local, domain = split_address(address)
    base, ext = split_extension(local, delimiters)
    keys = [(address, FULL)]
    if domain is None:
        # An unqualified address: only the local part forms exist.
        if ext:
            keys.append((base, PARTIAL))
        return _unique(keys)
    if ext:
        keys.append((f"{base}@{domain}", PARTIAL))
    if local_domain:
        if ext:
            keys.append((local, PARTIAL))
        keys.append((base, PARTIAL))
    keys.append((f"@{domain}", PARTIAL))
    return _unique(keys)


def transport_keys(address, delimiters="", parent_matches=False):
    """transport(5): user+ext@domain, user@domain, domain, parents (.domain unless
    parent_matches), then ``*``."""
    local, domain = split_address(address)
    base, ext = split_extension(local, delimiters)
    keys = [(address, FULL)]
    if ext and domain is not None:
        keys.append((f"{base}@{domain}", PARTIAL))
    if domain is not None:
        keys.extend((key, PARTIAL) for key, _ in domain_keys(domain, parent_matches))
    keys.append(("*", PARTIAL))
    return _unique(keys)


def alias_keys(local, delimiters=""):
    """aliases(5) for local(8): the local part with its extension, then without."""
    base, ext = split_extension(local, delimiters)
    return _unique([(local, FULL)] + ([(base, PARTIAL)] if ext else []))


def _unique(keys):
    seen, out = set(), []
    for key, kind in keys:
        if key not in seen:
            seen.add(key)
            out.append((key, kind))
    return out


def is_pattern_table(table):
    """Pattern tables (regexp, pcre, cidr) set ``pattern = True``: they get FULL keys only."""
    return bool(getattr(table, "pattern", False))


def find(tables, keys, extension="", keeps_extension=()):
    """Search ``keys`` (from the functions above) in ``tables`` (a list or a TableChain).

    -> Match or None. Raises TableRetry if a table fails soft before anything matched.
    ``extension`` is recorded on a match by a key not in ``keeps_extension`` (so the
    caller can apply propagate_unmatched_extensions).
    """
    tables = getattr(tables, "tables", tables)
    for key, kind in keys:
        for table in tables:
            if kind == PARTIAL and is_pattern_table(table):
                continue
            value = safe_lookup(table, key)
            if value is not None:
                return Match(value, key, "" if key in keeps_extension else extension)
    return None


def find_address(tables, address, order, delimiters="", parent_matches=False,
                 local_domain=False, null_key="<>"):
    """One call for the usual cases; ``order`` is "access", "canonical", "virtual",
    "relocated" or "transport". -> Match or None (TableRetry on a soft error)."""
    local, _ = split_address(address)
    _, ext = split_extension(local, delimiters)
    keeps = {address, local, local + "@"} if ext else set()
    if order == "access":
        keys = access_address_keys(address, delimiters, parent_matches, null_key)
    elif order in ("canonical", "virtual", "relocated"):
        keys = mapping_keys(address, delimiters, local_domain)
    elif order == "transport":
        keys = transport_keys(address, delimiters, parent_matches)
    else:
        raise ValueError(f"unknown search order {order!r}")
    return find(tables, keys, ext, keeps)
