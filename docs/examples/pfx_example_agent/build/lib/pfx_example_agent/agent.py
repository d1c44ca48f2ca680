"""The ``example`` delivery agent: writes each message to a file in a directory.

It uses only pfx's public API (pfx.interfaces, pfx.envelope, pfx.dsn, pfx.plugin):
declare the parameters you read, return one status per recipient, do blocking file
work through ``runtime.run_blocking``, and never raise for a per-recipient problem.
"""

import os

from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.dsn import Dsn
from pfx.envelope import DeliveryResult, RecipientStatus
from pfx.interfaces import IDeliveryAgent, IDeliveryAgentFactory
from pfx.plugin import Param

CHUNK = 64 * 1024


@implementer(IPlugin, IDeliveryAgentFactory)
class ExampleAgentFactory:
    name = "example"
    description = "write each message to $example_directory/QUEUEID"
    parameters = (Param("example_directory", "$queue_directory/example"),)

    def make_agent(self, settings, runtime):
        return ExampleAgent(settings.get_str("example_directory"), runtime)


@implementer(IDeliveryAgent)
class ExampleAgent:
    def __init__(self, directory, runtime):
        self.directory = directory
        self.runtime = runtime

    def deliver(self, request):
        d = self.runtime.run_blocking(self._write, request)
        d.addCallback(lambda path: DeliveryResult(
            RecipientStatus(r, "sent", Dsn("2.0.0"), f"written to {path}", "example")
            for r in request.recipients))
        d.addErrback(lambda f: DeliveryResult(
            RecipientStatus(r, "deferred", Dsn("4.3.0"), f"cannot write: {f.getErrorMessage()}",
                            "example") for r in request.recipients))
        return d

    def _write(self, request):
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, request.queue_id)
        tmp = path + ".tmp"
        with open(tmp, "wb") as out, request.open_content() as content:
            out.write(f"X-Envelope-From: <{request.sender}>\n".encode())
            for r in request.recipients:
                out.write(f"X-Envelope-To: <{r.address}>\n".encode())
            while chunk := content.read(CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp, path)
        return path

    def stop(self):
        from twisted.internet.defer import succeed
        return succeed(None)
