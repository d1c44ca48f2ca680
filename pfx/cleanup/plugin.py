"""The ``cleanup`` service factory (cheap to import: the service is built on demand)."""

from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.cleanup.params import PARAMETERS
from pfx.interfaces import IServiceFactory


@implementer(IPlugin, IServiceFactory)
class CleanupFactory:
    name = "cleanup"
    description = "canonicalize and enqueue new mail: the only writer of incoming/"
    parameters = PARAMETERS
    start_order = 20  # before smtpd and pickup, which need its IMailSubmitter

    def make_service(self, entry, context):
        from pfx.cleanup.service import make_service
        return make_service(entry, context)
