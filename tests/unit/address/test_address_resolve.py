"""Address classes, main.cf transports, transport_maps and sender-dependent routing."""

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from address_helpers import flag_names, make_settings
from resolve_cases import (
    CLASSES,
    KNOBS_OFF,
    RELAYHOST,
    RELOCATED,
    SDRH,
    SDT,
    SENDER_DEPENDENT,
    TRANSPORT,
    TRANSPORT_MAPS,
)

from pfx.address.domains import DomainList
from pfx.address.resolve import (
    ResolveFlag,
    apply_transport_entry,
    find_address,
    is_local_domain,
    resolve,
    strip_extension,
    transport_lookup,
)
from pfx.errors import TableRetry

BASE = make_settings()
RELAYHOST_SETTINGS = make_settings(
    myorigin="example.com", append_dot_mydomain=True, empty_address_recipient="postmaster",
    relayhost="[gw.test]:2525", local_transport="local", virtual_transport="lmtp:unix:private/dovecot")
KNOBS_OFF_SETTINGS = make_settings(
    resolve_dequoted_address=False, swap_bangpath=False, allow_percent_hack=False,
    resolve_null_domain=True, resolve_numeric_domain=True, allow_min_user=True)
MAPS = dict(relocated_maps=RELOCATED.get, sender_dependent_relayhost_maps=SDRH.get,
            sender_dependent_default_transport_maps=SDT.get, recipient_delimiter="+")
TRANSPORT_SETTINGS = make_settings(transport_maps=TRANSPORT.get, **MAPS)
NO_WILDCARD = {k: v for k, v in TRANSPORT.items() if k != "*"}
SENDER_SETTINGS = make_settings(transport_maps=NO_WILDCARD.get, **MAPS)


def check(result, flags, transport, nexthop, recipient):
    assert (flag_names(result.flags), result.transport, result.nexthop, result.recipient) == (
        flags, transport, nexthop, recipient)


@pytest.mark.parametrize("address, flags, transport, nexthop, recipient", CLASSES)
def test_classes_match_postfix(address, flags, transport, nexthop, recipient):
    check(resolve(address, BASE), flags, transport, nexthop, recipient)


@pytest.mark.parametrize("address, flags, transport, nexthop, recipient", RELAYHOST)
def test_relayhost_and_main_cf_transports_match_postfix(address, flags, transport, nexthop, recipient):
    check(resolve(address, RELAYHOST_SETTINGS), flags, transport, nexthop, recipient)


@pytest.mark.parametrize("address, flags, transport, nexthop, recipient", KNOBS_OFF)
def test_knobs_off_match_postfix(address, flags, transport, nexthop, recipient):
    check(resolve(address, KNOBS_OFF_SETTINGS), flags, transport, nexthop, recipient)


@pytest.mark.parametrize("address, flags, transport, nexthop, recipient", TRANSPORT_MAPS)
def test_transport_maps_match_postfix(address, flags, transport, nexthop, recipient):
    check(resolve(address, TRANSPORT_SETTINGS), flags, transport, nexthop, recipient)


@pytest.mark.parametrize("sender, address, flags, transport, nexthop, recipient", SENDER_DEPENDENT)
def test_sender_dependent_maps_match_postfix(sender, address, flags, transport, nexthop, recipient):
    check(resolve(address, SENDER_SETTINGS, sender=sender), flags, transport, nexthop, recipient)


@pytest.mark.parametrize("address, cls", [
    ("u@mail.example.com", "local"), ("u@[127.0.0.1]", "local"), ("u@valias.test", "alias"),
    ("u@vmbox.test", "virtual"), ("u@relay.test", "relay"), ("u@deep.sub.relay.test", "relay"),
    ("u@elsewhere.test", "default"), ("u@", "default"),
])
def test_address_class_names(address, cls):
    assert resolve(address, BASE).address_class == cls


def test_class_priority_mydestination_first():
    both = DomainList(["both.test"])
    settings = make_settings(mydestination=both, virtual_alias_domains=both,
                             virtual_mailbox_domains=both, relay_domains=both)
    assert resolve("u@both.test", settings).address_class == "local"
    settings = make_settings(virtual_alias_domains=both, virtual_mailbox_domains=both, relay_domains=both)
    assert resolve("u@both.test", settings).address_class == "alias"
    settings = make_settings(virtual_mailbox_domains=both, relay_domains=both)
    assert resolve("u@both.test", settings).address_class == "virtual"


def test_proxy_interfaces_and_ipv6_literals_are_local():
    settings = make_settings(interface_addresses=frozenset(
        [ipaddress.ip_address("192.0.2.1"), ipaddress.ip_address("2001:db8::1")]))
    assert resolve("u@[192.0.2.1]", settings).address_class == "local"
    assert resolve("u@[IPv6:2001:db8::1]", settings).address_class == "local"
    assert resolve("u@[IPv6:2001:DB8:0::1]", settings).address_class == "local"
    assert resolve("u@[2001:db8::1]", settings).error  # IPv6 needs the IPv6: tag
    assert resolve("u@[127.0.0.1]", settings).address_class == "default"


def test_alias_class_text_and_no_transport_override():
    settings = make_settings(show_user_unknown_table_name=False, transport_maps={"*": "smtp:x"}.get)
    result = resolve("u@valias.test", settings)
    assert (result.transport, result.nexthop) == ("error", "5.1.1 User unknown")


def test_empty_address_recipient():
    result = resolve("", make_settings(empty_address_recipient="postmaster"))
    assert result.recipient == "postmaster@mail.example.com"


def test_local_transport_nexthop_override():
    assert resolve("u@localhost", make_settings(local_transport="local")).nexthop == "localhost"
    assert resolve("u@localhost", BASE).nexthop == "mail.example.com"


def test_null_transport_is_a_config_failure():
    result = resolve("u@elsewhere.test", make_settings(default_transport=""))
    assert result.failed and "null transport" in result.reason
    assert resolve("u@elsewhere.test", make_settings(default_transport=":x")).failed


def _retry(key):
    raise TableRetry("server down")


@pytest.mark.parametrize("overrides", [
    {"transport_maps": _retry}, {"relocated_maps": _retry}, {"mydestination": _retry},
    {"relay_domains": _retry}, {"virtual_alias_domains": _retry},
    {"sender_dependent_relayhost_maps": _retry},
])
def test_table_retry_gives_fail(overrides):
    result = resolve("u@elsewhere.test", make_settings(**overrides))
    assert result.failed
    assert not result.auth_destination()


def test_transport_lookup_order_dot_domain_style():
    probes = []
    assert transport_lookup(lambda k: probes.append(k), "User+Ext@A.B.Example.COM", delimiter="+") is None
    assert probes == ["user+ext@a.b.example.com", "user@a.b.example.com", "a.b.example.com",
                      ".b.example.com", ".example.com", ".com", "*"]


def test_transport_lookup_order_parent_style_and_patterns():
    probes = []
    transport_lookup(lambda k: probes.append(k), "u@a.example.com", parent_matches=True)
    assert probes == ["u@a.example.com", "a.example.com", "example.com", "com", "*"]
    probes.clear()
    transport_lookup(lambda k: probes.append(k), "u+x@a.example.com", delimiter="+", partial=False)
    assert probes == ["u+x@a.example.com", "u@a.example.com"]


@pytest.mark.parametrize("entry, expected", [
    ("", ("smtp", "dom.test")),  # empty: change nothing
    (":", ("smtp", "dom.test")),
    (":[gw]:2525", ("smtp", "[gw]:2525")),  # :nexthop keeps the transport
    ("relay:", ("relay", "dom.test")),  # transport: resets the nexthop to the domain
    ("relay", ("relay", "dom.test")),
    ("smtp:[10.0.0.1]:587", ("smtp", "[10.0.0.1]:587")),
    ("lmtp:unix:private/dovecot-lmtp", ("lmtp", "unix:private/dovecot-lmtp")),
    ("error:5.7.1 no mail here", ("error", "5.7.1 no mail here")),
    ("error:", ("error", "Address is undeliverable")),
    ("retry:4.3.0 later", ("retry", "4.3.0 later")),
    ("smtp:a.example, b.example", ("smtp", "a.example, b.example")),
])
def test_apply_transport_entry(entry, expected):
    assert apply_transport_entry(entry, "smtp", "dom.test", "dom.test") == expected


@pytest.mark.parametrize("address, delimiter, expected", [
    ("user+ext@d", "+", "user@d"), ("user-a-b@d", "-", "user@d"), ("user@d", "+", None),
    ("+ext@d", "+", None), ("user+ext@d", "", None), ("user+ext", "+", "user"),
    ("user-x+y@d", "+-", "user@d"),
])
def test_strip_extension(address, delimiter, expected):
    assert strip_extension(address, delimiter) == expected


def test_find_address_order():
    probes = []
    find_address(lambda k: probes.append(k), "U+x@Local.Test", "+", lambda d: d == "local.test")
    assert probes == ["u+x@local.test", "u@local.test", "u+x", "u", "@local.test"]
    probes.clear()
    find_address(lambda k: probes.append(k), "u@remote.test", "+", lambda d: False)
    assert probes == ["u@remote.test", "@remote.test"]


def test_is_local_domain():
    assert is_local_domain("example.com.", BASE)
    assert not is_local_domain("example.com..", BASE)
    assert not is_local_domain("", BASE)
    assert is_local_domain("LOCALHOST", BASE)
    assert not is_local_domain("sub.example.com", BASE)  # mydestination has no subdomain matching


def test_minus_user_refused_unless_allowed():
    assert resolve("-oi@example.com", BASE).error
    assert not resolve("-oi@example.com", make_settings(allow_min_user=True)).error


def test_flags_keep_postfix_values():
    assert int(ResolveFlag.ROUTED) == 2 and int(ResolveFlag.ERROR) == 4 and int(ResolveFlag.FAIL) == 8
    assert int(ResolveFlag.CLASS_LOCAL) == 256 and int(ResolveFlag.CLASS_DEFAULT) == 4096


def test_resolve_never_raises_on_junk():
    for junk in ["\x00", "@" * 50, "!" * 50, "%" * 50, "a!" * 40 + "b", "[" * 10, '"' * 7, "(", "<>@<>", "@:@:@"]:
        assert resolve(junk, BASE) is not None


def test_describe():
    assert resolve("user", BASE).describe() == (
        "class=local transport=local nexthop=mail.example.com recipient=user@mail.example.com")
    line = resolve("user%foreign@relay.test", BASE).describe()
    assert line.endswith("recipient=user%foreign@relay.test flags=ROUTED")
    assert "reason=bad destination domain: ''" in resolve("user@", BASE).describe()


def test_local_domain_matcher_for_table_lookups():
    from pfx.address.resolve import local_domain_matcher

    is_local = local_domain_matcher(make_settings(myorigin="origin.test"))
    assert is_local("origin.test") and is_local("localhost") and is_local("[127.0.0.1]")
    assert not is_local("foreign.test")
    table = {"joe": "joe@elsewhere.test"}.get
    assert find_address(table, "joe@localhost", "+", is_local) == "joe@elsewhere.test"
    assert find_address(table, "joe@foreign.test", "+", is_local) is None


JUNK = st.lists(st.sampled_from(list('abü@%!.:,;"\\()<>[] -+') + ["example.com", "relay.test", "[127.0.0.1]"]),
                max_size=20).map("".join)


@given(JUNK)
@settings(max_examples=300, deadline=None)
def test_resolve_always_answers(address):
    result = resolve(address, BASE)
    assert result.failed or "@" in result.recipient
    if not (result.error or result.failed):
        assert result.transport and result.nexthop and result.address_class
    if result.auth_destination():
        assert result.address_class in ("local", "alias", "virtual", "relay")
