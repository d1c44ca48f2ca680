"""smtpd's view of trivial-rewrite: ResolveSettings for pfx.address.resolve from one row's settings.

Pure. The address parameters belong to the address layer, which does not declare them
yet; until it does, their Postfix 3.7 defaults below apply and main.cf values still win.
The settings themselves are built by pfx.config.resolving, as qmgr's are.
"""

from pfx.address.settings import RESOLVE_PARAMETERS
from pfx.config.resolving import make_resolve_settings as shared_resolve_settings
from pfx.errors import ConfigError
from pfx.util.expand import ExpansionError, expand

# Postfix 3.7 `postconf -d` values (append_dot_mydomain at compatibility_level >= 1).
ADDRESS_DEFAULTS = {
    "append_at_myorigin": "yes", "append_dot_mydomain": "no", "swap_bangpath": "yes",
    "allow_percent_hack": "yes", "remote_header_rewrite_domain": "",
    "virtual_alias_domains": "$virtual_alias_maps", "virtual_mailbox_domains": "$virtual_mailbox_maps",
    "local_transport": "local:$myhostname", "virtual_transport": "virtual", "relay_transport": "relay",
    "default_transport": "smtp", "relayhost": "", "sender_dependent_relayhost_maps": "",
    "sender_dependent_default_transport_maps": "", "empty_address_relayhost_maps_lookup_key": "<>",
    "empty_address_default_transport_maps_lookup_key": "<>", "transport_maps": "", "relocated_maps": "",
    "empty_address_recipient": "MAILER-DAEMON", "show_user_unknown_table_name": "yes",
    "resolve_dequoted_address": "yes", "resolve_null_domain": "no", "resolve_numeric_domain": "no",
    "allow_min_user": "no", "virtual_alias_maps": "$virtual_maps", "virtual_maps": "",
    "proxy_interfaces": "",
    "virtual_mailbox_maps": "", "relay_recipient_maps": "",
}


def param_reader(settings):
    """name -> expanded value: declared or set in main.cf, else ADDRESS_DEFAULTS."""
    def raw(name):
        if settings.is_set(name) or name in settings.registry:
            return settings.raw(name)
        return ADDRESS_DEFAULTS.get(name, "")

    def param(name):
        try:
            return expand(raw(name) or "", raw)
        except ExpansionError as e:
            raise ConfigError(str(e), param=name) from None
    return param


def make_resolve_settings(settings, tables=None):
    """ResolveSettings for this row (pfx.config.resolving, shared with qmgr), reading
    parameters through param_reader. Raises ConfigError for a bad boolean."""
    return shared_resolve_settings(settings, tables, param_reader(settings))


__all__ = ["ADDRESS_DEFAULTS", "RESOLVE_PARAMETERS", "make_resolve_settings", "param_reader"]
