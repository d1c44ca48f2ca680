"""Shared settings for the address tests: the main.cf the expectations were taken with.

The expected values in these tests were recorded from Postfix 3.7's trivial-rewrite
run with the equivalent main.cf (see test_address_postfix_oracle.py):

    myhostname = mail.example.com        mydomain = example.com     myorigin = $myhostname
    mydestination = $myhostname, localhost.$mydomain, localhost, example.com
    inet_interfaces = 127.0.0.1          relay_domains = relay.test (subdomains too)
    virtual_alias_domains = valias.test  virtual_mailbox_domains = vmbox.test
"""

import ipaddress

from pfx.address.domains import DomainList
from pfx.address.resolve import ResolveFlag, ResolveSettings
from pfx.address.rewrite import CanonSettings

CANON_KEYS = ("myorigin", "mydomain", "append_at_myorigin", "append_dot_mydomain",
              "swap_bangpath", "allow_percent_hack")


def make_settings(**overrides):
    """ResolveSettings for the recorded main.cf, with overrides (canon knobs included)."""
    canon = {"myorigin": "mail.example.com", "mydomain": "example.com"}
    for key in CANON_KEYS:
        if key in overrides:
            canon[key] = overrides.pop(key)
    base = dict(
        myhostname="mail.example.com",
        mydestination=DomainList(["mail.example.com", "localhost.example.com", "localhost", "example.com"]),
        interface_addresses=frozenset([ipaddress.ip_address("127.0.0.1")]),
        relay_domains=DomainList(["relay.test"], parent_matches_subdomains=True),
        virtual_alias_domains=DomainList(["valias.test"]),
        virtual_mailbox_domains=DomainList(["vmbox.test"]),
        local_transport="local:mail.example.com",
    )
    base.update(overrides)
    return ResolveSettings(canon=CanonSettings(**canon), **base)


def flag_names(flags):
    """'ROUTED|RELAY'-style text for a ResolveFlag, in Postfix's bit order."""
    names = []
    for flag in ResolveFlag:
        if flag and flags & flag:
            names.append(flag.name.removeprefix("CLASS_"))
    return "|".join(names)
