"""The ``smtpd`` service plugin object; light to import (the service loads on use)."""

from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.interfaces import IServiceFactory
from pfx.smtpd.params import PARAMETERS


@implementer(IPlugin, IServiceFactory)
class SmtpdServiceFactory:
    name = "smtpd"
    description = "SMTP server: receive mail from the network (Postfix smtpd)"
    parameters = PARAMETERS
    start_order = 60  # after cleanup and qmgr, so that accepted mail has somewhere to go

    def make_service(self, entry, context):
        from pfx.smtpd.service import make_service

        return make_service(entry, context)
