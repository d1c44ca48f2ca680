"""Client match lists: networks, names, negation, /file and type:table elements."""

import pytest
from twisted.plugin import getPlugins

from pfx.errors import ConfigError
from pfx.interfaces import ITableType
from pfx.smtpd.netmatch import AddressList
from pfx.tables.registry import Registry, types_by_name
from tests.unit.smtpd.smtpd_helpers import make_config


def test_networks_names_and_negation():
    nets = AddressList.parse(["127.0.0.0/8", "[::1]/128", "!10.1.0.0/16", "10.0.0.0/8", "192.0.2.9",
                              ".example.org"])
    assert nets.match("127.0.0.5") and nets.match("::1") and nets.match("::ffff:127.0.0.1")
    assert not nets.match("10.1.2.3") and nets.match("10.2.2.2") and nets.match("192.0.2.9")
    assert nets.match("198.51.100.1", "mail.example.org") and not nets.match("198.51.100.1", "example.org")
    assert not nets.match("198.51.100.1", "unknown")


def test_file_elements(tmp_path):
    listed = tmp_path / "nets"
    listed.write_text("# trusted\n192.0.2.0/24, 198.51.100.7\n!203.0.113.1\n203.0.113.0/24\n")
    nets = AddressList.parse([str(listed)])
    assert nets.match("192.0.2.44") and nets.match("198.51.100.7") and nets.match("203.0.113.2")
    assert not nets.match("203.0.113.1")


def test_table_elements():
    tables = Registry(types_by_name(getPlugins(ITableType)), warn=lambda m: None)
    nets = AddressList.parse(["inline:{ 192.0.2.5=x, relay.example.org=x }"], tables=tables)
    assert nets.match("192.0.2.5") and nets.match("198.51.100.1", "relay.example.org")
    assert not nets.match("192.0.2.6", "other.example.org")
    assert AddressList.parse(["inline:{ 192.0.2.5=x }"]).unsupported == ["inline:{ 192.0.2.5=x }"]


def test_unreadable_file_names_the_parameter(tmp_path):
    with pytest.raises(ConfigError) as e:
        make_config(mynetworks=f"{tmp_path}/missing")
    assert e.value.param == "mynetworks"
