"""Build the address layer's frozen settings from main.cf values, by Postfix parameter name.

Pure glue for the config layer: it passes in how to read an expanded parameter and how
to open tables and domain lists, and gets CanonSettings / ResolveSettings back. Nothing
here opens files or sockets.
"""

import re

from pfx.address.resolve import ResolveSettings
from pfx.address.rewrite import CanonSettings
from pfx.errors import ConfigError

# The parameters read here, for the config layer's registry and `postconf -d` checks.
CANON_PARAMETERS = ("myorigin", "mydomain", "append_at_myorigin", "append_dot_mydomain",
                    "swap_bangpath", "allow_percent_hack", "remote_header_rewrite_domain")
RESOLVE_PARAMETERS = CANON_PARAMETERS + (
    "myhostname", "mydestination", "virtual_alias_domains", "virtual_mailbox_domains",
    "relay_domains", "local_transport", "virtual_transport", "relay_transport",
    "default_transport", "relayhost", "sender_dependent_relayhost_maps",
    "sender_dependent_default_transport_maps", "empty_address_relayhost_maps_lookup_key",
    "empty_address_default_transport_maps_lookup_key", "transport_maps", "relocated_maps",
    "recipient_delimiter", "empty_address_recipient", "show_user_unknown_table_name",
    "resolve_dequoted_address", "resolve_null_domain", "resolve_numeric_domain",
    "allow_min_user", "parent_domain_matches_subdomains",
)


def _bool(param, name):
    value = param(name).strip().lower()
    if value not in ("yes", "no"):
        raise ConfigError(f"bad boolean value: {value!r}", param=name)
    return value == "yes"


def _words(value):
    return [w for w in re.split(r"[\s,]+", value.strip()) if w]


def canon_settings(param):
    """The "local" rewriting context (myorigin, mydomain and the four knobs)."""
    return CanonSettings(
        myorigin=param("myorigin"),
        mydomain=param("mydomain"),
        append_at_myorigin=_bool(param, "append_at_myorigin"),
        append_dot_mydomain=_bool(param, "append_dot_mydomain"),
        swap_bangpath=_bool(param, "swap_bangpath"),
        allow_percent_hack=_bool(param, "allow_percent_hack"),
    )


def remote_canon_settings(param):
    """The "remote" context: remote_header_rewrite_domain, or no rewriting when empty."""
    local = canon_settings(param)
    return CanonSettings.remote(
        param("remote_header_rewrite_domain"),
        append_at_myorigin=local.append_at_myorigin,
        append_dot_mydomain=local.append_dot_mydomain,
        swap_bangpath=local.swap_bangpath,
        allow_percent_hack=local.allow_percent_hack,
    )


def resolve_settings(param, *, table, domain_list, interface_addresses=frozenset()):
    """ResolveSettings from main.cf.

    ``param(name) -> str`` gives a parameter's $-expanded value (defaults applied);
    ``table(name, value) -> lookup | None`` opens a maps parameter (None when empty);
    ``domain_list(name, value, parent_matches) -> matcher`` opens a domain list
    (a "type:table" entry included); ``interface_addresses`` are the addresses of
    inet_interfaces and proxy_interfaces, which only the caller can enumerate.
    """
    parents = set(_words(param("parent_domain_matches_subdomains")))

    def dlist(name):
        return domain_list(name, param(name), name in parents)

    def maps(name):
        value = param(name)
        return table(name, value) if value.strip() else None

    return ResolveSettings(
        myhostname=param("myhostname"),
        canon=canon_settings(param),
        mydestination=dlist("mydestination"),
        interface_addresses=frozenset(interface_addresses),
        virtual_alias_domains=dlist("virtual_alias_domains"),
        virtual_mailbox_domains=dlist("virtual_mailbox_domains"),
        relay_domains=dlist("relay_domains"),
        local_transport=param("local_transport"),
        virtual_transport=param("virtual_transport"),
        relay_transport=param("relay_transport"),
        default_transport=param("default_transport"),
        relayhost=param("relayhost").strip(),
        sender_dependent_relayhost_maps=maps("sender_dependent_relayhost_maps"),
        sender_dependent_default_transport_maps=maps("sender_dependent_default_transport_maps"),
        empty_address_relayhost_maps_lookup_key=param("empty_address_relayhost_maps_lookup_key"),
        empty_address_default_transport_maps_lookup_key=param(
            "empty_address_default_transport_maps_lookup_key"),
        transport_maps=maps("transport_maps"),
        transport_maps_parent_matches="transport_maps" in parents,
        relocated_maps=maps("relocated_maps"),
        recipient_delimiter=param("recipient_delimiter"),
        empty_address_recipient=param("empty_address_recipient"),
        show_user_unknown_table_name=_bool(param, "show_user_unknown_table_name"),
        resolve_dequoted_address=_bool(param, "resolve_dequoted_address"),
        resolve_null_domain=_bool(param, "resolve_null_domain"),
        resolve_numeric_domain=_bool(param, "resolve_numeric_domain"),
        allow_min_user=_bool(param, "allow_min_user"),
    )
