"""MX order, A/AAAA fallback, null MX and DNS failures (pfx.agents.smtp.destinations), with a fake resolver."""

import random

from smtpagent_fakes import FakeResolver, FakeServer, make_agent, request, result_of

from pfx.agents.smtp.destinations import DnsProblem, Resolution, order_addresses
from pfx.agents.smtp.params import read_config
from smtpagent_fakes import settings

ZONE = dict(
    mx={"example.com": [(20, "mx2.example.com"), (10, "mx1.example.com")],
        "equal.com": [(10, "a.equal.com"), (10, "b.equal.com"), (5, "first.equal.com")],
        "nullmx.com": [(0, "")], "dangling.com": [(10, "nx.dangling.com")]},
    a={"mx1.example.com": ["192.0.2.1"], "mx2.example.com": ["192.0.2.2"],
       "a.equal.com": ["192.0.2.10"], "b.equal.com": ["192.0.2.11"],
       "first.equal.com": ["192.0.2.9"], "nomx.com": ["192.0.2.5"], "dual.com": ["192.0.2.6"]},
    aaaa={"mx1.example.com": ["2001:db8::1"], "nomx.com": ["2001:db8::5"],
          "dual.com": ["2001:db8::6", "2001:db8::7"]},
    nx={"nosuch.com", "nx.dangling.com"}, servfail={"broken.com"}, silent={"slow.com"})


def targets(nexthop, seed=1, **values):
    config = read_config(settings(**values), False)
    res = Resolution(config, FakeResolver(**ZONE), random.Random(seed))
    d = __import__("twisted.internet.defer", fromlist=["x"]).ensureDeferred(res.targets(nexthop, ""))
    return result_of(d)


def problem(nexthop, **values):
    try:
        targets(nexthop, **values)
    except DnsProblem as p:
        return p.dsn, p.text
    raise AssertionError("no DnsProblem")


def test_mx_in_preference_order_then_addresses():
    got = [(t.host, t.addr, t.port) for t in targets("example.com")]
    assert got == [("mx1.example.com", "192.0.2.1", 25), ("mx1.example.com", "2001:db8::1", 25),
                   ("mx2.example.com", "192.0.2.2", 25)]


def test_equal_preferences_are_shuffled_but_stay_behind_better_ones():
    orders = {tuple(t.host for t in targets("equal.com", seed=s)) for s in range(20)}
    assert orders == {("first.equal.com", "a.equal.com", "b.equal.com"),
                      ("first.equal.com", "b.equal.com", "a.equal.com")}


def test_no_mx_falls_back_to_a_and_aaaa():
    assert [t.addr for t in targets("nomx.com")] == ["192.0.2.5", "2001:db8::5"]


def test_inet_protocols_and_address_preference():
    assert [t.addr for t in targets("dual.com", inet_protocols="ipv4")] == ["192.0.2.6"]
    assert [t.addr for t in targets("dual.com", smtp_address_preference="ipv6")] == [
        "2001:db8::6", "2001:db8::7", "192.0.2.6"]
    assert order_addresses(["a", "b"], ["x"], "any") == ["a", "x", "b"]


def test_mx_address_limit():
    assert len(targets("example.com", smtp_mx_address_limit=2)) == 2


def test_bracketed_and_port_forms_skip_mx():
    [t] = targets("[mx2.example.com]:2525")
    assert (t.host, t.addr, t.port, t.nexthop) == ("mx2.example.com", "192.0.2.2", 2525,
                                                   "[mx2.example.com]:2525")
    [t] = targets("[192.0.2.77]")
    assert (t.addr, t.relay) == ("192.0.2.77", "192.0.2.77[192.0.2.77]:25")


def test_nexthop_list_is_tried_in_order():
    got = [t.addr for t in targets("[nomx.com], [mx2.example.com]", inet_protocols="ipv4")]
    assert got == ["192.0.2.5", "192.0.2.2"]


def test_relayhost_is_used_without_a_transport_nexthop():
    [t] = targets("", relayhost="[mx2.example.com]:587")
    assert (t.addr, t.port) == ("192.0.2.2", 587)


def test_null_mx_bounces():
    assert problem("nullmx.com") == ("5.1.0", "Domain nullmx.com does not accept mail (nullMX)")


def test_nxdomain_bounces_with_postfix_text():
    # smtp_domain_addr(): the MX lookup's DNS_NOTFOUND (NXDOMAIN too) falls back to
    # smtp_host_addr(), so the address lookup's error is the one reported
    assert problem("nosuch.com") == (
        "5.4.4", "Host or domain name not found. Name service error for name=nosuch.com "
                 "type=A: Host not found")
    resolver = FakeResolver(**ZONE)
    res = Resolution(read_config(settings(), False), resolver, random.Random(1))
    d = __import__("twisted.internet.defer", fromlist=["x"]).ensureDeferred(
        res.targets("nosuch.com", ""))
    d.addErrback(lambda f: f.trap(DnsProblem))
    assert resolver.queries[:2] == [("MX", "nosuch.com"), ("A", "nosuch.com")]


def test_servfail_and_timeout_defer():
    assert problem("broken.com") == (
        "4.4.3", "Host or domain name not found. Name service error for name=broken.com "
                 "type=MX: Host not found, try again")
    assert problem("slow.com")[0] == "4.4.3"


def test_mx_pointing_nowhere_bounces_unless_configured_to_defer():
    assert problem("dangling.com")[0] == "5.4.4"
    assert problem("dangling.com", smtp_defer_if_no_mx_address_found="yes")[0] == "4.4.3"


def test_agent_reports_dns_failure_for_every_recipient_with_relay_none():
    agent, net, _ = make_agent({}, FakeResolver(**ZONE))
    res = result_of(agent.deliver(request("a@nosuch.com", "b@nosuch.com")))
    assert [(s.action, str(s.dsn), s.relay) for s in res.statuses] == [
        ("bounced", "5.4.4", "none")] * 2
    assert net.attempts == []


def test_lmtp_never_looks_up_mx_and_uses_port_24():
    agent, net, _ = make_agent({"192.0.2.1": FakeServer()}, FakeResolver(**ZONE), lmtp=True,
                               inet_protocols="ipv4")
    result_of(agent.deliver(request("a@x.test", nexthop="inet:mx1.example.com")))
    assert [(t.addr, t.port) for t in net.attempts] == [("192.0.2.1", 24)]


def test_mx_hosts_as_preferred_as_myself_are_dropped():
    zone = dict(ZONE, mx={**ZONE["mx"], "backup.com": [(10, "mx1.example.com"),
                                                       (20, "client.example"),
                                                       (30, "mx2.example.com")],
                          "primary.com": [(10, "client.example"), (20, "mx2.example.com")]})
    config = read_config(settings(inet_protocols="ipv4"), False)
    res = Resolution(config, FakeResolver(**zone), random.Random(1))
    ensure = __import__("twisted.internet.defer", fromlist=["x"]).ensureDeferred
    assert [t.host for t in result_of(ensure(res.targets("backup.com", "")))] == ["mx1.example.com"]
    try:
        result_of(ensure(res.targets("primary.com", "")))
        raise AssertionError("no loop detected")
    except DnsProblem as p:
        assert (p.dsn, p.text) == ("5.4.6", "mail for primary.com loops back to myself")


def test_fallback_relay_for_unreachable_and_unknown_destinations():
    resolver = FakeResolver(**ZONE)
    fallback = FakeServer()
    values = dict(smtp_fallback_relay="[192.0.2.99]:2525", inet_protocols="ipv4")
    agent, net, _ = make_agent({"192.0.2.99": fallback}, resolver, **values)
    [s] = result_of(agent.deliver(request("a@example.com"))).statuses  # both MX refuse
    assert (s.action, s.relay) == ("sent", "192.0.2.99[192.0.2.99]:2525")
    [s] = result_of(agent.deliver(request("a@nosuch.com"))).statuses  # NXDOMAIN
    assert s.action == "sent"
    [s] = result_of(agent.deliver(request("a@nullmx.com"))).statuses  # the domain said no
    assert (s.action, str(s.dsn)) == ("bounced", "5.1.0")
    agent, net, _ = make_agent({}, resolver, **values)  # the fallback is down too
    [s] = result_of(agent.deliver(request("a@nosuch.com"))).statuses
    assert (s.action, str(s.dsn)) == ("deferred", "4.4.1")


def test_no_fallback_relay_for_a_domain_we_are_mx_for():
    zone = dict(ZONE, mx={"backup.com": [(10, "mx1.example.com"), (20, "client.example")]})
    agent, net, _ = make_agent({"192.0.2.99": FakeServer()}, FakeResolver(**zone),
                               smtp_fallback_relay="[192.0.2.99]", inet_protocols="ipv4")
    [s] = result_of(agent.deliver(request("a@backup.com"))).statuses
    assert s.action == "deferred" and [t.addr for t in net.attempts] == ["192.0.2.1"]
