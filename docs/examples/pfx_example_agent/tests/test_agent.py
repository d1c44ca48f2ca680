"""The example agent: it verifies against pfx's interface and delivers with no reactor."""

import io

from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from pfx.envelope import DeliveryRequest, Recipient
from pfx.interfaces import IDeliveryAgent, IDeliveryAgentFactory
from pfx.runtime.build import inline_runtime
from pfx_example_agent.agent import ExampleAgentFactory


class FakeSettings:
    def __init__(self, directory):
        self.directory = directory

    def get_str(self, name):
        assert name == "example_directory"
        return self.directory


def test_delivers_one_file_per_message(tmp_path):
    factory = ExampleAgentFactory()
    verifyObject(IDeliveryAgentFactory, factory)
    agent = factory.make_agent(FakeSettings(str(tmp_path)), inline_runtime(Clock()))
    verifyObject(IDeliveryAgent, agent)
    request = DeliveryRequest(
        queue_id="4XyZ1", queue_name="active", sender="a@example.test",
        recipients=[Recipient("b@example.test"), Recipient("c@example.test")],
        transport="example", nexthop="example.test", size=20, arrival=0.0,
        open_content=lambda: io.BytesIO(b"Subject: hi\n\nbody\n"))
    results = []
    agent.deliver(request).addCallback(results.append)
    [result] = results
    assert [s.action for s in result.statuses] == ["sent", "sent"]
    assert (tmp_path / "4XyZ1").read_bytes() == (
        b"X-Envelope-From: <a@example.test>\nX-Envelope-To: <b@example.test>\n"
        b"X-Envelope-To: <c@example.test>\nSubject: hi\n\nbody\n")
