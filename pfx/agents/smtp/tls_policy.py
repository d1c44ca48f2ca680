"""Outbound TLS policy per destination from smtp_tls_security_level and smtp_tls_policy_maps.

A policy table value is Postfix's: ``LEVEL [name=value ...]`` with ``match=a:b``,
``protocols=...``, ``ciphers=...``, ``servername=...``, ``tafile``/``CAfile``-style
overrides are not supported. The lookup key is the next hop as written
(``example.com``, ``[mx.example.com]:587``), then its parent domains as ``.parent``.

Security: the table is the administrator's; a value we cannot parse makes the policy
"invalid", which defers mail (as Postfix does) instead of silently lowering security.
"""

import attrs
from twisted.internet import defer

from pfx.agents.smtp.params import LEVELS

VERSIONS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


@attrs.frozen
class TlsPolicy:
    level: str  # none may encrypt verify secure fingerprint dane dane-only, or invalid
    match: tuple = ()  # names the certificate must match (verify, secure)
    protocols: tuple = ()  # (lowest, highest) version names, "" for no bound
    ciphers: str = "medium"
    servername: str = ""  # SNI to send, "" for none
    fingerprints: tuple = ()
    digest: str = "sha256"
    cafile: str = ""
    capath: str = ""
    problem: str = ""  # why the policy is invalid

    @property
    def attempt(self) -> bool:
        """Send STARTTLS when the server offers it."""
        return self.level not in ("none", "invalid")

    @property
    def required(self) -> bool:
        return self.level in ("encrypt", "verify", "secure", "fingerprint", "dane-only")

    @property
    def verify(self) -> bool:
        return self.level in ("verify", "secure")


def protocol_range(words) -> tuple[str, str]:
    """Postfix protocol lists (``>=TLSv1.2``, ``<=TLSv1.3``, ``!SSLv3, !TLSv1``) -> (min, max)."""
    allowed = set(VERSIONS)
    low = high = ""
    for word in words:
        word = word.strip()
        if word.startswith(">="):
            low = word[2:]
        elif word.startswith("<="):
            high = word[2:]
        elif word.startswith("!"):
            allowed.discard(word[1:])
        elif word in VERSIONS:
            continue
        elif word:
            raise ValueError(f"bad TLS protocol: {word}")
    for name in (low, high):
        if name and name not in VERSIONS:
            raise ValueError(f"bad TLS protocol: {name}")
    # exclusions at the bottom of the range raise the minimum
    usable = VERSIONS[1:]  # no TLS library speaks SSLv2 any more
    floor = VERSIONS.index(low) if low else 0
    ordered = [v for v in usable if v in allowed and VERSIONS.index(v) >= floor]
    if ordered and ordered[0] != (low or "SSLv3"):
        low = ordered[0]
    return low, high


def _servername(setting: str, target) -> str:
    if setting == "hostname":
        return target.host
    if setting == "nexthop":
        return nexthop_domain(target.nexthop)
    return setting


def nexthop_domain(written: str) -> str:
    """``[mx.example.com]:587`` -> ``mx.example.com``; ``example.com`` -> itself."""
    host = written
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    else:
        host = host.partition(":")[0]
    return host.lower().rstrip(".")


def decide(config, target, table_value: str | None) -> TlsPolicy:
    """The policy for one server: the table's entry if any, else the main.cf level."""
    level, options = config.tls_level, {}
    if table_value:
        words = table_value.split()
        level = words[0].lower()
        for word in words[1:]:
            name, eq, value = word.partition("=")
            if not eq:
                return TlsPolicy("invalid", problem=f"bad TLS policy attribute: {word}")
            options[name.lower()] = value
    if level not in LEVELS:
        return TlsPolicy("invalid", problem=f"invalid TLS security level: {level}")
    if level == "dane":
        level = "may"  # no DNSSEC-validating resolver: RFC 7672 says fall back to may
    elif level == "dane-only":
        return TlsPolicy("invalid", problem="dane-only requires a DNSSEC resolver")
    mandatory = level != "may"
    words = options.get("protocols", "").replace(":", " ").split() or (
        config.tls_mandatory_protocols if mandatory else config.tls_protocols)
    try:
        protocols = protocol_range(words)
    except ValueError as e:
        return TlsPolicy("invalid", problem=str(e))
    match = config.tls_verify_match if level == "verify" else config.tls_secure_match
    if "match" in options:
        match = options["match"].split(":")
    names = []
    for m in match:
        m = m.strip().lower()
        if m == "hostname":
            names.append(target.host)
        elif m == "nexthop":
            names.append(nexthop_domain(target.nexthop))
        elif m == "dot-nexthop":
            names.append("." + nexthop_domain(target.nexthop))
        elif m:
            names.append(m)
    fingerprints = config.tls_fingerprints
    if level == "fingerprint" and "match" in options:
        fingerprints = tuple(options["match"].split("|"))
    return TlsPolicy(
        level, tuple(names), protocols,
        options.get("ciphers", config.tls_mandatory_ciphers if mandatory else config.tls_ciphers),
        _servername(options.get("servername", config.tls_servername), target),
        tuple(f.strip().lower() for f in fingerprints if f.strip()),
        config.tls_fingerprint_digest, config.tls_cafile, config.tls_capath)


def policy_keys(written: str) -> list[str]:
    """The table keys for a next hop: as written, then ``.parent`` domains of a bare domain."""
    keys = [written]
    if not written.startswith("[") and ":" not in written and not written.startswith("unix:"):
        labels = written.split(".")
        keys += ["." + ".".join(labels[i:]) for i in range(1, len(labels))]
    return keys


async def lookup(tables, maps: str, written: str) -> str | None:
    """The smtp_tls_policy_maps value for a next hop, or None (TableRetry propagates)."""
    if not maps or tables is None:
        return None
    table = tables.open_list(maps)
    for key in policy_keys(written):
        value = await defer.maybeDeferred(table.lookup, key)
        if value is not None:
            return value
    return None


def cert_matches(names, dns_names) -> bool:
    """Does a certificate with ``dns_names`` (SAN dNSName) satisfy any of ``names``?
    ``.example.com`` in names accepts any subdomain; certificate wildcards cover one label."""
    for want in names:
        for have in dns_names:
            have = have.lower().rstrip(".")
            if want.startswith("."):
                if have.endswith(want) or (have.startswith("*.") and have[1:].endswith(want)):
                    return True
            elif have == want or (have.startswith("*.") and "." in want
                                  and want.split(".", 1)[1] == have[2:]):
                return True
    return False


def cert_names(x509) -> list[str]:
    """The DNS names of a pyOpenSSL certificate: SAN dNSName, else the subject CN."""
    from cryptography import x509 as cx

    cert = x509.to_cryptography()
    try:
        san = cert.extensions.get_extension_for_class(cx.SubjectAlternativeName).value
        names = san.get_values_for_type(cx.DNSName)
        if names:
            return names
    except cx.ExtensionNotFound:
        pass
    return [a.value for a in cert.subject.get_attributes_for_oid(cx.NameOID.COMMON_NAME)]


def fingerprint_ok(policy: TlsPolicy, x509) -> bool:
    digest = x509.digest(policy.digest).decode("ascii").lower()
    return digest in policy.fingerprints or digest.replace(":", "") in policy.fingerprints
