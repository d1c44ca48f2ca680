"""The test echo service behind the ``echo`` plugin (see pfx_test_echo.py)."""

from twisted.application.internet import StreamServerEndpointService
from twisted.internet import endpoints, protocol
from twisted.protocols.basic import LineOnlyReceiver


class Echo(LineOnlyReceiver):
    delimiter = b"\n"

    def lineReceived(self, line):
        self.sendLine(self.factory.prefix.encode() + b" " + line)


def make_service(entry, context):
    factory = protocol.Factory.forProtocol(Echo)
    factory.prefix = context.settings.get_str("echo_prefix")
    host, _, port = entry.service.rpartition(":")
    endpoint = endpoints.TCP4ServerEndpoint(context.runtime.reactor, int(port),
                                            interface=host or "127.0.0.1")
    return StreamServerEndpointService(endpoint, factory)
