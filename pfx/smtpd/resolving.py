"""smtpd's view of trivial-rewrite: ResolveSettings for pfx.address.resolve from one row's settings.

Pure. The address parameters belong to the address layer, which does not declare them
yet; until it does, their Postfix 3.7 defaults below apply and main.cf values still win.
Domain lists may hold ``type:table`` elements (looked up with the domain as key) when a
table registry is given; maps parameters open through the same registry.
"""

from pfx.address import domains
from pfx.address.settings import RESOLVE_PARAMETERS, resolve_settings
from pfx.config.core import own_addresses
from pfx.config.params import split_list
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


def _is_table(element):
    return ":" in element and not element.startswith("[") and not element.startswith("!")


def domain_matcher(value, parent, tables):
    """A domain list value -> matcher(domain); table elements are searched with the domain."""
    words = split_list(value)  # "inline:{ { a = b, c } }" is one element, as in Postfix
    plain = domains.DomainList([w for w in words if not _is_table(w)], parent)
    specs = [w for w in words if _is_table(w)]
    if not specs or tables is None:
        return plain
    chain = tables.open_list(", ".join(specs))

    def match(domain):
        # Plain patterns first; a listed table answers for the domain itself.
        return plain(domain) or chain.lookup(domain.lower().rstrip(".")) is not None
    return match


def make_resolve_settings(settings, tables=None):
    """ResolveSettings for this row. Raises ConfigError for a bad boolean."""
    param = param_reader(settings)

    def table(name, value):
        if tables is None:
            return None
        return tables.open_list(value).lookup

    def domain_list(name, value, parent):
        return domain_matcher(value, parent, tables)

    try:
        addresses = frozenset(ip for ip, _ in own_addresses(settings))
    except Exception:
        addresses = frozenset()
    return resolve_settings(param, table=table, domain_list=domain_list, interface_addresses=addresses)


__all__ = ["ADDRESS_DEFAULTS", "RESOLVE_PARAMETERS", "make_resolve_settings", "param_reader"]
