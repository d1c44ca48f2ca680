"""discard(8), error(8) and retry: the next hop is the reason, dsn_split() style."""

import pytest

from pfx.agents import simple
from pfx.envelope import Recipient

from ondisk_fakes import request, result_of


@pytest.mark.parametrize("factory,nexthop,want", [
    (simple.error, "5.1.1 mailbox unavailable", ("bounced", "5.1.1", "mailbox unavailable")),
    (simple.error, "no such list", ("bounced", "5.0.0", "no such list")),
    # a code of the wrong class is replaced by the default, and never left in the text
    (simple.error, "4.1.1 later", ("bounced", "5.0.0", "later")),
    (simple.retry, "4.3.5 filter is down", ("deferred", "4.3.5", "filter is down")),
    (simple.retry, "5.7.1 no", ("deferred", "4.0.0", "no")),
    (simple.discard, "example.test", ("sent", "2.0.0", "example.test")),
])
def test_reason_and_code_from_the_nexthop(factory, nexthop, want):
    agent = factory.make_agent(None, None)
    statuses = result_of(agent.deliver(request(Recipient("a@x.test"), Recipient("b@x.test"),
                                               nexthop=nexthop))).statuses
    assert [(s.action, str(s.dsn), s.text, s.relay) for s in statuses] == [(*want, "none")] * 2
