"""What an agent reports beyond action, DSN and text reaches qmgr's log and the bounce logs."""

from twisted.internet import defer
from zope.interface import implementer

from pfx.dsn import Dsn
from pfx.envelope import DeliveryResult, RecipientStatus
from pfx.interfaces import IDeliveryAgent

from qmgr_fakes import World


@implementer(IDeliveryAgent)
class ReusingAgent:
    """Answers like smtp(8) over a cached connection: the second use of it."""

    def __init__(self):
        self.requests = []

    def deliver(self, request):
        self.requests.append(request)
        return defer.succeed(DeliveryResult(
            RecipientStatus(r, "bounced", Dsn("5.1.1"), "host mx[192.0.2.1] said: 550 5.1.1 "
                            "no (in reply to RCPT TO command)", "mx[192.0.2.1]:25",
                            remote_reply="550 5.1.1 no", conn_use=2)
            for r in request.recipients))

    def stop(self):
        return defer.succeed(None)


def test_conn_use_and_the_remote_reply_survive_the_answer_check(tmp_path):
    w = World(tmp_path, agents={"smtp": ReusingAgent()})
    seen, append = [], w.notifier.append
    w.notifier.append = lambda kind, queue_id, status: seen.append(status) or append(
        kind, queue_id, status)
    qid = w.submit()
    w.manager.start()
    [line] = [ln for ln in w.log.lines if "to=<user@example.com>" in ln]
    assert line.startswith(f"{qid}: to=<user@example.com>, relay=mx[192.0.2.1]:25, "
                           f"conn_use=2, delay=")
    [(kind, _, address, action)] = w.notifier.appended
    assert (kind, address, action) == ("bounce", "user@example.com", "bounced")
    assert [(s.remote_reply, s.conn_use) for s in seen] == [("550 5.1.1 no", 2)]


@implementer(IDeliveryAgent)
class SlowNetworkAgent:
    """Connection set-up takes 1.2 s (DNS, connect, EHLO, TLS), the transaction 0.8 s."""

    def __init__(self, clock):
        self.clock = clock

    def deliver(self, request):
        d = defer.Deferred()
        setup = self.clock.seconds() + 1.2
        result = DeliveryResult(RecipientStatus(r, "sent", Dsn("2.0.0"), "250 2.0.0 Ok",
                                                "mx[192.0.2.1]:25", setup_done=setup)
                                for r in request.recipients)
        self.clock.callLater(2.0, d.callback, result)
        return d

    def stop(self):
        return defer.succeed(None)


def test_delays_split_connection_setup_from_transmission(tmp_path):
    # log_adhoc.c: c = set-up end - handoff, d = now - set-up end for a network agent;
    # c = 0 and d = now - handoff for the others
    w = World(tmp_path)
    w.agents["smtp"] = SlowNetworkAgent(w.clock)
    qid = w.submit(arrival=w.clock.seconds() - 10)
    w.manager.start()
    w.clock.advance(2.0)
    [line] = [ln for ln in w.log.lines if "to=<user@example.com>" in ln]
    assert f"{qid}: to=<user@example.com>, relay=mx[192.0.2.1]:25, delay=12, " \
           "delays=10/0/1.2/0.8, dsn=2.0.0, status=sent (250 2.0.0 Ok)" == line


def test_agent_deadline_is_daemon_timeout_unless_the_transport_limit_is_longer(tmp_path):
    # Postfix ends a delivery agent with its daemon_timeout watchdog (18000s); the 1000s
    # command_time_limit is pipe(8)'s limit for its command, not a limit on smtp(8)
    from pfx.config.settings import Setting, Settings
    from pfx.discover import discover
    from pfx.qmgr.service import _time_limits
    registry = discover().registry()

    def limits(**main):
        explicit = {k: Setting(v) for k, v in main.items()}
        got = _time_limits(Settings(registry, explicit, str(tmp_path)).for_service("qmgr"))
        return got("smtp"), got("maildrop")
    assert limits() == (18000, 18000)
    assert limits(daemon_timeout="600s") == (1000, 1000)
    assert limits(daemon_timeout="600s", command_time_limit="30000s") == (30000, 30000)
