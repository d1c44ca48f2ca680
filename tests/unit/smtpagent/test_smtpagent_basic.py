"""Smoke: one delivery through a scripted server."""

from smtpagent_fakes import FakeResolver, FakeServer, make_agent, request, result_of


def test_smoke():
    server = FakeServer()
    resolver = FakeResolver(mx={"example.com": [(10, "mx.example.com")]},
                            a={"mx.example.com": ["192.0.2.1"]})
    agent, net, clock = make_agent({"192.0.2.1": server}, resolver)
    res = result_of(agent.deliver(request("a@example.com", "b@example.com")))
    print(server.lines, res)
    assert [s.action for s in res.statuses] == ["sent", "sent"]
