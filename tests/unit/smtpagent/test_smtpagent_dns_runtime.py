"""pfx.runtime.dns: the shared resolver from pfx_dns_servers or resolv.conf."""

import pytest
from smtpagent_fakes import settings
from twisted.internet.task import Clock

from pfx.errors import ConfigError
from pfx.runtime.dns import dns_servers, make_resolver, parse_server, resolv_conf_servers


def test_parse_server_forms():
    assert parse_server("192.0.2.1") == ("192.0.2.1", 53)
    assert parse_server("192.0.2.1:5353") == ("192.0.2.1", 5353)
    assert parse_server("::1") == ("::1", 53)
    assert parse_server("[2001:db8::1]:5353") == ("2001:db8::1", 5353)
    for bad in ("ns.example.com", "192.0.2.1:0", "[::1", "1.2.3.4:x"):
        with pytest.raises(ValueError):
            parse_server(bad)


def test_resolv_conf(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# c\nsearch example.com\nnameserver 192.0.2.53\nnameserver fe80::1%eth0\n"
                    "nameserver bogus\noptions ndots:2\n")
    assert resolv_conf_servers(str(conf)) == [("192.0.2.53", 53), ("fe80::1", 53)]
    assert resolv_conf_servers(str(tmp_path / "missing")) == [("127.0.0.1", 53)]


def test_configured_servers_win_over_resolv_conf(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("nameserver 192.0.2.53\n")
    assert dns_servers(settings(), str(conf)) == [("192.0.2.53", 53)]
    s = settings(pfx_dns_servers="127.0.0.1:5353, [::1]:5354")
    assert dns_servers(s, str(conf)) == [("127.0.0.1", 5353), ("::1", 5354)]
    with pytest.raises(ConfigError, match="pfx_dns_servers"):
        dns_servers(settings(pfx_dns_servers="ns.example.com"))


def test_make_resolver_talks_only_to_the_configured_servers():
    clock = Clock()
    r = make_resolver(settings(pfx_dns_servers="127.0.0.1:5353", pfx_dns_timeout="2s"), clock)
    assert r.servers == [("127.0.0.1", 5353)] and list(r.dynServers) == []
    assert r.timeout == (2, 2)
    assert clock.getDelayedCalls() == []  # no resolv.conf re-read timer
