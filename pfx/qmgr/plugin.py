"""The ``qmgr`` service factory (cheap to import: the service is built on demand)."""

from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.interfaces import IServiceFactory
from pfx.qmgr.params import DELIVERY_PARAMS, QMGR_PARAMETERS, RESOLVE_PARAMS


@implementer(IPlugin, IServiceFactory)
class QmgrFactory:
    name = "qmgr"
    description = "queue manager: moves every message from incoming to a final state"
    parameters = QMGR_PARAMETERS + RESOLVE_PARAMS + DELIVERY_PARAMS
    start_order = 30  # after cleanup (20), before smtpd and pickup hand it mail

    def make_service(self, entry, context):
        from pfx.qmgr.service import make_service
        return make_service(entry, context)
