"""The ``bounce`` service factory (cheap to import: the service is built on demand)."""

from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.bounce.params import PARAMETERS
from pfx.interfaces import IServiceFactory


@implementer(IPlugin, IServiceFactory)
class BounceFactory:
    name = "bounce"
    description = "per-recipient delivery logs and DSN notices (bounce, defer, trace)"
    parameters = PARAMETERS
    start_order = 25  # after cleanup (20), whose IMailSubmitter it uses; before qmgr (30)

    def make_service(self, entry, context):
        from pfx.bounce.service import make_service
        return make_service(entry, context)
