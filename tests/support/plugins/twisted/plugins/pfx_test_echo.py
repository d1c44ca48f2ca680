"""A test-only service plugin: ``echo`` answers each line with ``PREFIX line``.

It exists so the tests can watch a real listener through start, reload and stop; the
prefix comes from the ``echo_prefix`` parameter so that a main.cf change is visible.
"""

from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.interfaces import IServiceFactory
from pfx.plugin import Param


@implementer(IPlugin, IServiceFactory)
class EchoFactory:
    name = "echo"
    description = "test service: echo lines back with a prefix"
    parameters = (Param("echo_prefix", "echo"),)
    start_order = 50

    def make_service(self, entry, context):
        from echo_service import make_service  # lazily: plugin modules stay light
        return make_service(entry, context)


echo = EchoFactory()
