"""Building CanonSettings / ResolveSettings from main.cf values by parameter name."""

import ipaddress

import pytest
from address_helpers import flag_names
from resolve_cases import CLASSES, TRANSPORT

from pfx.address.domains import DomainList
from pfx.address.resolve import resolve
from pfx.address.rewrite import canonicalize
from pfx.address.settings import (
    RESOLVE_PARAMETERS,
    canon_settings,
    remote_canon_settings,
    resolve_settings,
)
from pfx.errors import ConfigError

# `postconf -x` of the main.cf in address_helpers.py (Postfix 3.7 defaults otherwise).
MAIN_CF = {
    "myhostname": "mail.example.com",
    "myorigin": "mail.example.com",
    "mydomain": "example.com",
    "append_at_myorigin": "yes",
    "append_dot_mydomain": "no",
    "swap_bangpath": "yes",
    "allow_percent_hack": "yes",
    "remote_header_rewrite_domain": "",
    "mydestination": "mail.example.com, localhost.example.com, localhost, example.com",
    "virtual_alias_domains": "valias.test",
    "virtual_mailbox_domains": "vmbox.test",
    "relay_domains": "relay.test",
    "local_transport": "local:mail.example.com",
    "virtual_transport": "virtual",
    "relay_transport": "relay",
    "default_transport": "smtp",
    "relayhost": "",
    "sender_dependent_relayhost_maps": "",
    "sender_dependent_default_transport_maps": "",
    "empty_address_relayhost_maps_lookup_key": "<>",
    "empty_address_default_transport_maps_lookup_key": "<>",
    "transport_maps": "",
    "relocated_maps": "",
    "recipient_delimiter": "",
    "empty_address_recipient": "MAILER-DAEMON",
    "show_user_unknown_table_name": "yes",
    "resolve_dequoted_address": "yes",
    "resolve_null_domain": "no",
    "resolve_numeric_domain": "no",
    "allow_min_user": "no",
    "parent_domain_matches_subdomains": "debug_peer_list,fast_flush_domains,mynetworks,"
    "permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps",
}
LOOPBACK = frozenset([ipaddress.ip_address("127.0.0.1")])


def build(**changes):
    values = dict(MAIN_CF, **changes)
    opened = []

    def table(name, value):
        opened.append((name, value))
        return {"hash:/etc/pfx/transport": TRANSPORT}[value].get

    def domain_list(name, value, parent):
        return DomainList.from_string(value, parent)

    settings = resolve_settings(values.__getitem__, table=table, domain_list=domain_list,
                                interface_addresses=LOOPBACK)
    return settings, opened


def test_every_parameter_read_is_declared():
    read = []
    resolve_settings(lambda n: read.append(n) or MAIN_CF[n], table=None,
                     domain_list=lambda *a: (lambda d: False))
    assert set(read) <= set(RESOLVE_PARAMETERS)
    assert set(RESOLVE_PARAMETERS) - set(read) == {"remote_header_rewrite_domain"}


@pytest.mark.parametrize("address, flags, transport, nexthop, recipient", CLASSES)
def test_built_settings_resolve_as_postfix(address, flags, transport, nexthop, recipient):
    settings, opened = build()
    assert opened == []  # empty maps are not opened
    result = resolve(address, settings)
    assert (flag_names(result.flags), result.transport, result.nexthop, result.recipient) == (
        flags, transport, nexthop, recipient)


def test_maps_and_parent_matching():
    settings, opened = build(transport_maps="hash:/etc/pfx/transport",
                             parent_domain_matches_subdomains="transport_maps")
    assert opened == [("transport_maps", "hash:/etc/pfx/transport")]
    assert settings.transport_maps_parent_matches
    assert resolve("u@sub.relay.test", settings).address_class == "default"  # relay_domains no longer listed
    assert resolve("u@x.sub.test", settings).transport == "uucp"


def test_bad_boolean_names_the_parameter():
    with pytest.raises(ConfigError) as info:
        build(swap_bangpath="maybe")
    assert info.value.param == "swap_bangpath"


def test_canon_contexts():
    local = canon_settings(MAIN_CF.__getitem__)
    assert canonicalize("bob", local) == "bob@mail.example.com"
    remote = remote_canon_settings(MAIN_CF.__getitem__)
    assert canonicalize("bob", remote) == "bob"
    remote = remote_canon_settings(dict(MAIN_CF, remote_header_rewrite_domain="domain.invalid").__getitem__)
    assert canonicalize("bob", remote) == "bob@domain.invalid"
