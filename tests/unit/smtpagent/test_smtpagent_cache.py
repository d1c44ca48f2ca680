"""Connection reuse (smtp_connection_cache_*): RSET on reuse, idle expiry, limits."""

from smtpagent_fakes import FakeResolver, FakeServer, make_agent, request, result_of

ONE = FakeResolver(mx={"example.com": [(10, "mx1.example.com")]}, a={"mx1.example.com": ["192.0.2.1"]})


def test_second_delivery_reuses_the_connection_with_rset():
    server = FakeServer()
    agent, net, clock = make_agent({"192.0.2.1": server}, ONE)
    first = result_of(agent.deliver(request("a@example.com"))).statuses[0]
    second = result_of(agent.deliver(request("b@example.com"))).statuses[0]
    assert (first.action, second.action) == ("sent", "sent")
    assert (first.conn_use, second.conn_use) == (1, 2)  # logged by qmgr as conn_use=2
    assert len(net.attempts) == 1
    assert server.lines.count("EHLO client.example") == 1 and "RSET" in server.lines
    assert "QUIT" not in server.lines
    clock.advance(2)  # smtp_connection_cache_time_limit
    assert server.lines[-1] == "QUIT" and len(agent.cache) == 0


def test_no_caching_when_turned_off():
    server = FakeServer()
    agent, net, _ = make_agent({"192.0.2.1": server}, ONE, smtp_connection_cache_on_demand="no")
    result_of(agent.deliver(request("a@example.com")))
    result_of(agent.deliver(request("b@example.com")))
    assert len(net.attempts) == 2 and server.lines.count("QUIT") == 2


def test_cache_destinations_turn_it_on_per_destination():
    server = FakeServer()
    agent, net, _ = make_agent({"192.0.2.1": server}, ONE, smtp_connection_cache_on_demand="no",
                               smtp_connection_cache_destinations="example.com")
    result_of(agent.deliver(request("a@example.com")))
    result_of(agent.deliver(request("b@example.com")))
    assert len(net.attempts) == 1


def test_a_failed_rset_means_a_fresh_connection():
    server = FakeServer(replies={"RSET": "421 4.4.2 closing"})
    agent, net, _ = make_agent({"192.0.2.1": server}, ONE)
    result_of(agent.deliver(request("a@example.com")))
    [s] = result_of(agent.deliver(request("b@example.com"))).statuses
    assert s.action == "sent" and len(net.attempts) == 2


def test_reuse_count_and_time_limits():
    server = FakeServer()
    agent, net, clock = make_agent({"192.0.2.1": server}, ONE, smtp_connection_reuse_count_limit=2)
    for rcpt in ("a", "b", "c"):
        result_of(agent.deliver(request(f"{rcpt}@example.com")))
    assert len(net.attempts) == 2  # used twice, then closed
    agent, net, clock = make_agent({"192.0.2.1": FakeServer()}, ONE,
                                   smtp_connection_reuse_time_limit="10s",
                                   smtp_connection_cache_time_limit="60s")
    result_of(agent.deliver(request("a@example.com")))
    clock.advance(11)
    result_of(agent.deliver(request("b@example.com")))
    result_of(agent.deliver(request("c@example.com")))
    assert len(net.attempts) == 2  # the first connection was too old to park again


def test_stop_closes_idle_connections():
    server = FakeServer()
    agent, _, _ = make_agent({"192.0.2.1": server}, ONE)
    result_of(agent.deliver(request("a@example.com")))
    assert result_of(agent.stop()) is None
    assert server.lines[-1] == "QUIT" and len(agent.cache) == 0


def test_failed_transactions_are_not_cached_after_a_lost_connection():
    server = FakeServer(drop={"DATA"})
    agent, _, _ = make_agent({"192.0.2.1": server}, ONE)
    result_of(agent.deliver(request("a@example.com")))
    assert len(agent.cache) == 0


def test_a_reused_connection_failing_after_mail_is_not_retried_afresh():
    server = FakeServer(ehlo=("8BITMIME",))
    agent, net, _ = make_agent({"192.0.2.1": server}, ONE)
    result_of(agent.deliver(request("a@example.com")))
    server.drop = {"DATA"}  # the next transaction breaks after RCPT
    [s] = result_of(agent.deliver(request("b@example.com"))).statuses
    assert s.action == "deferred" and "lost connection" in s.text
    assert len(net.attempts) == 1  # no second connection, no second copy
