"""pfx.config.resolving: the ResolveSettings builder smtpd, qmgr and `pfx resolve` share."""

import pytest
from twisted.internet import defer

from pfx.config.resolving import build_resolve_settings
from pfx.errors import TableRetry
from pfx.smtpd.resolving import param_reader
from tests.unit.smtpd.smtpd_helpers import make_settings


class Tables:
    """A registry of inline tables: ``open("x:name")`` -> lookup in DATA[name]."""

    DATA = {"local": {"example.org": "ok"}, "slow": None}

    def open(self, spec):
        name = spec.partition(":")[2]
        data = self.DATA[name]

        class T:
            def lookup(self, key):
                return defer.Deferred() if data is None else data.get(key)
        return T()

    def open_list(self, spec):
        return self.open(spec.split(",")[0].strip())


def settings_for(tables=Tables(), **values):
    return build_resolve_settings(param_reader(make_settings(**values)), tables)


@pytest.mark.parametrize("value,domain,expected", [
    ("!sub.example.com, example.com", "sub.example.com", False),  # first match wins
    ("!sub.example.com, example.com", "example.com", True),
    ("example.com, !sub.example.com", "sub.example.com", True),
    ("hash:local", "example.org", True),
    ("hash:local", "a.example.org", True),   # parent_domain_matches_subdomains: relay_domains
    ("!hash:local, example.org", "example.org", False),  # a table can be negated too
    ("[::1], example.net", "example.net", True),  # an address literal is no table
])
def test_relay_domains_are_searched_in_order(value, domain, expected):
    assert settings_for(relay_domains=value).relay_domains(domain) is expected


def test_without_a_registry_table_elements_are_left_out():
    assert settings_for(tables=None, relay_domains="hash:local, example.com").relay_domains("example.com")
    assert not settings_for(tables=None, relay_domains="hash:local").relay_domains("example.org")


def test_a_table_answering_later_is_a_soft_error():
    with pytest.raises(TableRetry):
        settings_for(relay_domains="hash:slow").relay_domains("example.org")
