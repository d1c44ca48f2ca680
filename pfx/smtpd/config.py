"""SmtpdConfig: one master.cf row's smtpd settings, read once and frozen (pure)."""

import functools

import attrs

from pfx.errors import ConfigError
from pfx.smtp.config import ServerConfig
from pfx.smtp.dotstuff import MODES
from pfx.smtp.ehlo import discard_set
from pfx.smtpd.netmatch import AddressList
from pfx.smtpd.resolving import make_resolve_settings, param_reader
from pfx.smtpd.sasl import SaslSettings, sasl_settings

RESTRICTION_STAGES = ("client", "helo", "sender", "relay", "recipient", "data", "end_of_data")
TLS_LEVELS = ("", "none", "may", "encrypt")


@attrs.frozen
class SmtpdConfig:
    """What a session needs besides the client: identity, limits, policy lists."""

    myhostname: str = "localhost"
    mail_name: str = "pfx"
    banner: str = "localhost ESMTP pfx"
    reject_footer: str = ""
    timeout: float = 300.0
    server: ServerConfig = ServerConfig()
    delay_reject: bool = True
    restrictions: dict = attrs.field(factory=dict)  # stage -> [word, ...]
    classes: dict = attrs.field(factory=dict)  # class name -> [word, ...]
    mynetworks: AddressList = AddressList([])
    bare_newline_exclusions: AddressList = AddressList([])
    event_limit_exceptions: AddressList = AddressList([])
    allow_untrusted_routing: bool = False
    null_access_key: str = "<>"
    content_filter: str = ""  # handed to cleanup with each message
    codes: dict = attrs.field(factory=dict)  # reject_code, defer_code, ... -> int
    tls_level: str = ""
    tls_loglevel: int = 0
    tls_received_header: bool = False
    connection_count_limit: int = 50
    connection_rate_limit: int = 0  # per anvil_rate_time_unit
    message_rate_limit: int = 0  # MAIL FROM commands per anvil_rate_time_unit
    recipient_rate_limit: int = 0  # RCPT TO commands per anvil_rate_time_unit
    rate_time_unit: float = 60.0
    access_parent: bool = True  # smtpd_access_maps in parent_domain_matches_subdomains
    recipient_delimiter: str = ""
    reject_unlisted_recipient: bool = True
    reject_unlisted_sender: bool = False
    local_recipient_maps: str = ""
    recipient_maps: dict = attrs.field(factory=dict)  # virtual_alias_maps, ... -> their text
    resolve: object = None  # pfx.address.resolve.ResolveSettings
    policy_default_action: str = "451 4.3.5 Server configuration problem"
    policy_timeout: float = 100.0
    tempfail_actions: dict = attrs.field(factory=dict)  # "address" / "helo" -> defer_if_permit | defer | dunno
    sasl: SaslSettings = SaslSettings()

    def server_config(self, client_addr: str, tls: bool) -> ServerConfig:
        """The machine's config for one client: bare-LF exclusions and TLS availability."""
        exempt = (self.server.smtpd_forbid_bare_newline != "no"
                  and bool(self.bare_newline_exclusions.match(client_addr)))
        return _server_config(self.server, tls and self.tls_level in ("may", "encrypt"),
                              tls and self.tls_level == "encrypt", exempt)


@functools.lru_cache(maxsize=64)
def _server_config(server, tls_available, tls_required, bare_newline_exempt) -> ServerConfig:
    # a few combinations for all connections: not an attrs.evolve per connection
    changes = {"tls_available": tls_available, "tls_required": tls_required}
    if bare_newline_exempt:
        changes["smtpd_forbid_bare_newline"] = "no"
    return attrs.evolve(server, **changes)


_CODES = ("reject_code", "defer_code", "relay_domains_reject_code", "access_map_reject_code",
          "access_map_defer_code", "invalid_hostname_reject_code", "non_fqdn_reject_code",
          "unknown_local_recipient_reject_code", "unknown_virtual_alias_reject_code",
          "unknown_virtual_mailbox_reject_code", "unknown_relay_recipient_reject_code",
          "unknown_address_reject_code", "unknown_hostname_reject_code", "maps_rbl_reject_code")
_MAPS = ("virtual_alias_maps", "virtual_mailbox_maps", "relay_recipient_maps")


def _client_list(settings, name, parent, tables):
    try:
        return AddressList.parse(settings.get_list(name), parent, tables)
    except OSError as e:
        where = settings.origin(name)
        raise ConfigError(f"cannot read {e.filename}: {e.strerror}", where and where.file, where and where.line,
                          name) from None


def from_settings(settings, tables=None) -> SmtpdConfig:
    """Read every smtpd parameter; a bad value raises ConfigError naming it. ``tables``
    (a pfx.tables registry) serves table elements of the address-class lists."""
    get, text = settings.get, settings.get_str
    hostname = text("myhostname")
    bare = text("smtpd_forbid_bare_newline").strip().lower()
    if bare not in MODES:
        raise ConfigError(f'bad value "{bare}" (use one of {", ".join(MODES)})',
                          param="smtpd_forbid_bare_newline")
    level = text("smtpd_tls_security_level").strip().lower()
    if level not in TLS_LEVELS:
        raise ConfigError(f'bad value "{level}" (use none, may or encrypt)', param="smtpd_tls_security_level")
    parent = set(settings.get_list("parent_domain_matches_subdomains"))
    server = ServerConfig(
        hostname=hostname,
        line_length_limit=max(get("line_length_limit"), 16),
        message_size_limit=get("message_size_limit"),
        smtpd_recipient_limit=get("smtpd_recipient_limit"),
        smtpd_recipient_overshoot_limit=get("smtpd_recipient_overshoot_limit"),
        smtpd_soft_error_limit=get("smtpd_soft_error_limit"),
        smtpd_hard_error_limit=get("smtpd_hard_error_limit"),
        smtpd_junk_command_limit=get("smtpd_junk_command_limit"),
        smtpd_error_sleep_time=float(get("smtpd_error_sleep_time")),
        smtpd_forbid_bare_newline=bare,
        smtpd_forbid_bare_newline_reject_code=get("smtpd_forbid_bare_newline_reject_code"),
        smtpd_forbidden_commands=frozenset(w.upper() for w in settings.get_list("smtpd_forbidden_commands")
                                           if ":" not in w),
        smtpd_helo_required=get("smtpd_helo_required"),
        disable_vrfy_command=get("disable_vrfy_command"),
        smtpd_discard_ehlo_keywords=discard_set(settings.get_list("smtpd_discard_ehlo_keywords")),
        smtputf8_enable=get("smtputf8_enable"),
        soft_bounce=get("soft_bounce"),
        smtpd_forbid_unauth_pipelining=get("smtpd_forbid_unauth_pipelining"),
        sasl_enabled=get("smtpd_sasl_auth_enable"),
        smtpd_sasl_response_limit=get("smtpd_sasl_response_limit"),
    )
    stages = {s: settings.get_list(f"smtpd_{s}_restrictions") for s in RESTRICTION_STAGES}
    classes = {name: settings.get_list(name) for name in settings.get_list("smtpd_restriction_classes")}
    return SmtpdConfig(
        myhostname=hostname,
        mail_name=text("mail_name"),
        banner=text("smtpd_banner"),
        reject_footer=text("smtpd_reject_footer").strip(),
        timeout=float(get("smtpd_timeout")),
        server=server,
        delay_reject=get("smtpd_delay_reject"),
        restrictions=stages,
        classes=classes,
        mynetworks=_client_list(settings, "mynetworks", "mynetworks" in parent, tables),
        bare_newline_exclusions=_client_list(settings, "smtpd_forbid_bare_newline_exclusions", True, tables),
        event_limit_exceptions=_client_list(settings, "smtpd_client_event_limit_exceptions", True, tables),
        allow_untrusted_routing=get("allow_untrusted_routing"),
        null_access_key=text("smtpd_null_access_lookup_key"),
        content_filter=text("content_filter").strip(),
        codes={c: get(c) for c in _CODES},
        tls_level=level,
        tls_loglevel=get("smtpd_tls_loglevel"),
        tls_received_header=get("smtpd_tls_received_header"),
        connection_count_limit=get("smtpd_client_connection_count_limit"),
        connection_rate_limit=get("smtpd_client_connection_rate_limit"),
        message_rate_limit=get("smtpd_client_message_rate_limit"),
        recipient_rate_limit=get("smtpd_client_recipient_rate_limit"),
        rate_time_unit=float(get("anvil_rate_time_unit")),
        access_parent="smtpd_access_maps" in parent,
        recipient_delimiter=text("recipient_delimiter"),
        reject_unlisted_recipient=get("smtpd_reject_unlisted_recipient"),
        reject_unlisted_sender=get("smtpd_reject_unlisted_sender"),
        local_recipient_maps=text("local_recipient_maps").strip(),
        recipient_maps={name: param_reader(settings)(name).strip() for name in _MAPS},
        resolve=make_resolve_settings(settings, tables),
        policy_default_action=text("smtpd_policy_service_default_action").strip(),
        policy_timeout=float(get("smtpd_policy_service_timeout")),
        tempfail_actions={"address": text("unknown_address_tempfail_action").strip(),
                          "helo": text("unknown_helo_hostname_tempfail_action").strip()},
        sasl=sasl_settings(settings, _client_list(settings, "smtpd_sasl_exceptions_networks", True, tables),
                           _client_list(settings, "smtpd_client_event_limit_exceptions", True, tables)),
    )
