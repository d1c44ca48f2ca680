"""The smtp_* and lmtp_* parameters (Postfix's names and defaults) and the AgentConfig from them.

Each parameter exists twice, as smtp(8)/lmtp(8) have them; the agent reads the family
of its master.cf command. smtp_tls_fingerprint_digest's default is "sha256" (Postfix's
compatibility-level expression gives the same for level >= 3.6). lmtp(8) has
lmtp_lhlo_name/lmtp_lhlo_timeout where smtp(8) has smtp_helo_*, and no *_send_ehlo.

Security: values come from main.cf and master.cf only; a bad one is a ConfigError
when the agent is made, never a failure during delivery.
"""

import attrs

from pfx.errors import ConfigError
from pfx.plugin import Param
from pfx.runtime.dns import DNS_PARAMS

# suffix, smtp default, lmtp default, kind, min
_TWINS = (
    ("connect_timeout", "30s", "0s", "time", 0),
    ("helo_timeout", "300s", "300s", "time", 1),
    ("xforward_timeout", "300s", "300s", "time", 1),
    ("mail_timeout", "300s", "300s", "time", 1),
    ("rcpt_timeout", "300s", "300s", "time", 1),
    ("data_init_timeout", "120s", "120s", "time", 1),
    ("data_xfer_timeout", "180s", "180s", "time", 1),
    ("data_done_timeout", "600s", "600s", "time", 1),
    ("quit_timeout", "300s", "300s", "time", 1),
    ("rset_timeout", "20s", "20s", "time", 1),
    ("starttls_timeout", "300s", "300s", "time", 1),
    ("tcp_port", "smtp", "24", "str", None),
    ("fallback_relay", "$fallback_relay", "", "str", None),
    ("helo_name", "$myhostname", "$myhostname", "str", None),
    ("host_lookup", "dns", "dns", "list", None),
    ("dns_support_level", "", "", "str", None),
    ("address_preference", "any", "any", "str", None),
    ("mx_address_limit", "5", "5", "int", 0),
    ("mx_session_limit", "2", "2", "int", 0),
    ("skip_5xx_greeting", "yes", "yes", "bool", None),
    ("never_send_ehlo", "no", None, "bool", None),
    ("always_send_ehlo", "yes", None, "bool", None),
    ("line_length_limit", "998", "998", "int", 0),
    ("defer_if_no_mx_address_found", "no", "no", "bool", None),
    ("connection_cache_on_demand", "yes", "yes", "bool", None),
    ("connection_cache_destinations", "", "", "list", None),
    ("connection_cache_time_limit", "2s", "2s", "time", 1),
    ("connection_reuse_time_limit", "300s", "300s", "time", 1),
    ("connection_reuse_count_limit", "0", "0", "int", 0),
    ("sasl_auth_enable", "no", "no", "bool", None),
    ("sasl_auth_soft_bounce", "yes", "yes", "bool", None),
    ("sasl_password_maps", "", "", "str", None),
    ("sasl_mechanism_filter", "", "", "list", None),
    ("sasl_security_options", "noplaintext, noanonymous", "noplaintext, noanonymous", "list", None),
    ("sasl_tls_security_options", "$smtp_sasl_security_options",
     "$lmtp_sasl_security_options", "list", None),
    ("tls_security_level", "", "", "str", None),
    ("use_tls", "no", "no", "bool", None),
    ("enforce_tls", "no", "no", "bool", None),
    ("tls_CAfile", "", "", "str", None),
    ("tls_CApath", "", "", "str", None),
    ("tls_policy_maps", "", "", "str", None),
    ("tls_protocols", ">=TLSv1", ">=TLSv1", "list", None),
    ("tls_mandatory_protocols", ">=TLSv1", ">=TLSv1", "list", None),
    ("tls_ciphers", "medium", "medium", "str", None),
    ("tls_mandatory_ciphers", "medium", "medium", "str", None),
    ("tls_servername", "", "", "str", None),
    ("tls_verify_cert_match", "hostname", "hostname", "list", None),
    ("tls_secure_cert_match", "nexthop, dot-nexthop", "nexthop", "list", None),
    ("tls_fingerprint_cert_match", "", "", "list", None),
    ("tls_fingerprint_digest", "sha256", "sha256", "str", None),
)

# lmtp(8) says LHLO where smtp(8) says HELO; None above: smtp(8) only
_LMTP_NAME = {"helo_timeout": "lhlo_timeout", "helo_name": "lhlo_name"}


def _name(suffix: str, lmtp: bool) -> str:
    return f"lmtp_{_LMTP_NAME.get(suffix, suffix)}" if lmtp else f"smtp_{suffix}"


AGENT_PARAMS = tuple(
    Param(_name(suffix, family == "lmtp"), smtp if family == "smtp" else lmtp, kind, low)
    for suffix, smtp, lmtp, kind, low in _TWINS for family in ("smtp", "lmtp")
    if family == "smtp" or lmtp is not None
) + (
    Param("relayhost", ""),
    Param("fallback_relay", ""),
    Param("disable_mime_output_conversion", "no", "bool"),
) + DNS_PARAMS

LEVELS = ("none", "may", "encrypt", "verify", "secure", "fingerprint", "dane", "dane-only")


@attrs.frozen
class AgentConfig:
    """Everything one master.cf row of smtp or lmtp needs, typed and checked."""

    lmtp: bool
    service: str
    myhostname: str
    helo_name: str
    default_port: int
    relayhost: str
    fallback_relay: str
    inet_protocols: frozenset
    address_preference: str
    mx_address_limit: int
    mx_session_limit: int
    skip_5xx_greeting: bool
    never_send_ehlo: bool
    always_send_ehlo: bool
    dns_enabled: bool
    defer_if_no_mx_address: bool
    timeouts: dict  # stage -> seconds (0 = none)
    smtputf8_enable: bool
    mime_conversion: bool
    sasl_enable: bool
    sasl_soft_bounce: bool
    sasl_password_maps: str
    sasl_mechanism_filter: tuple
    sasl_options: tuple
    sasl_tls_options: tuple
    tls_level: str
    tls_cafile: str
    tls_capath: str
    tls_policy_maps: str
    tls_protocols: tuple
    tls_mandatory_protocols: tuple
    tls_ciphers: str
    tls_mandatory_ciphers: str
    tls_servername: str
    tls_verify_match: tuple
    tls_secure_match: tuple
    tls_fingerprints: tuple
    tls_fingerprint_digest: str
    line_length_limit: int
    cache_on_demand: bool
    cache_destinations: tuple
    cache_time_limit: int
    reuse_time_limit: int
    reuse_count_limit: int


_STAGES = ("connect", "helo", "mail", "rcpt", "data_init", "data_xfer", "data_done", "quit",
           "rset", "starttls")


def service_port(text: str, default: int) -> int:
    """A port number or service name (smtp, lmtp, submission, smtps)."""
    if text.isdigit():
        return int(text)
    return {"smtp": 25, "lmtp": 24, "submission": 587, "smtps": 465}.get(text, default)


def read_config(settings, lmtp: bool) -> AgentConfig:
    """Read the row's settings; ConfigError for a bad value (at start, never later)."""
    p = "lmtp_" if lmtp else "smtp_"
    smtp_only = {suffix: smtp for suffix, smtp, low, _, _ in _TWINS if low is None}

    def get(suffix):
        if lmtp and suffix in smtp_only:
            return smtp_only[suffix] == "yes"
        return settings.get(_name(suffix, lmtp))

    level = get("tls_security_level").strip().lower()
    if not level:  # Postfix's pre-2.3 booleans
        level = "encrypt" if get("enforce_tls") else "may" if get("use_tls") else "none"
    if level not in LEVELS:
        raise ConfigError(f"invalid TLS security level: {level}", param=p + "tls_security_level")
    preference = get("address_preference").strip().lower()
    if preference not in ("any", "ipv4", "ipv6"):
        raise ConfigError(f"bad address preference: {preference}", param=p + "address_preference")
    protocols = {w.lower() for w in settings.get_list("inet_protocols")}
    if "all" in protocols:
        protocols = {"ipv4", "ipv6"}
    level_dns = get("dns_support_level").strip() != "disabled" and "dns" in get("host_lookup")
    return AgentConfig(
        lmtp=lmtp, service=settings.service_name or ("lmtp" if lmtp else "smtp"),
        myhostname=settings.get_str("myhostname"), helo_name=get("helo_name"),
        default_port=service_port(get("tcp_port"), 24 if lmtp else 25),
        relayhost=settings.get_str("relayhost"), fallback_relay=get("fallback_relay").strip(),
        inet_protocols=frozenset(protocols or {"ipv4"}), address_preference=preference,
        mx_address_limit=get("mx_address_limit"), mx_session_limit=get("mx_session_limit"),
        skip_5xx_greeting=get("skip_5xx_greeting"), never_send_ehlo=get("never_send_ehlo"),
        always_send_ehlo=get("always_send_ehlo"),
        dns_enabled=level_dns, defer_if_no_mx_address=get("defer_if_no_mx_address_found"),
        timeouts={s: get(f"{s}_timeout") for s in _STAGES},
        smtputf8_enable=settings.get("smtputf8_enable"),
        mime_conversion=not settings.get("disable_mime_output_conversion"),
        sasl_enable=get("sasl_auth_enable"), sasl_soft_bounce=get("sasl_auth_soft_bounce"),
        sasl_password_maps=get("sasl_password_maps"),
        sasl_mechanism_filter=tuple(m.upper() for m in get("sasl_mechanism_filter")),
        sasl_options=tuple(get("sasl_security_options")),
        sasl_tls_options=tuple(get("sasl_tls_security_options")),
        tls_level=level, tls_cafile=get("tls_CAfile"), tls_capath=get("tls_CApath"),
        tls_policy_maps=get("tls_policy_maps"), tls_protocols=tuple(get("tls_protocols")),
        tls_mandatory_protocols=tuple(get("tls_mandatory_protocols")),
        tls_ciphers=get("tls_ciphers"), tls_mandatory_ciphers=get("tls_mandatory_ciphers"),
        tls_servername=get("tls_servername"), tls_verify_match=tuple(get("tls_verify_cert_match")),
        tls_secure_match=tuple(get("tls_secure_cert_match")),
        tls_fingerprints=tuple(get("tls_fingerprint_cert_match")),
        tls_fingerprint_digest=get("tls_fingerprint_digest"),
        line_length_limit=get("line_length_limit"),
        cache_on_demand=get("connection_cache_on_demand"),
        cache_destinations=tuple(get("connection_cache_destinations")),
        cache_time_limit=get("connection_cache_time_limit"),
        reuse_time_limit=get("connection_reuse_time_limit"),
        reuse_count_limit=get("connection_reuse_count_limit"),
    )
