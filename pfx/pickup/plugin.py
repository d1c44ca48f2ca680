"""The ``pickup`` service factory (cheap to import: the service is built on demand)."""

from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.interfaces import IServiceFactory
from pfx.pickup.params import PARAMETERS


@implementer(IPlugin, IServiceFactory)
class PickupFactory:
    name = "pickup"
    description = "move locally submitted mail from maildrop/ into cleanup"
    parameters = PARAMETERS
    start_order = 40  # after cleanup (20), whose IMailSubmitter it uses

    def make_service(self, entry, context):
        from pfx.pickup.service import make_service
        return make_service(entry, context)
