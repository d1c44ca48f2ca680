"""A test-only service plugin: ``dirsubmit`` provides an IMailSubmitter writing messages to a directory."""

from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.interfaces import IServiceFactory
from pfx.plugin import Param


@implementer(IPlugin, IServiceFactory)
class DirSubmitFactory:
    name = "dirsubmit"
    description = "test service: an IMailSubmitter that writes each message to a directory"
    parameters = (Param("test_submit_directory", "$queue_directory/received"),)
    start_order = 30

    def make_service(self, entry, context):
        from dir_submitter import make_service  # lazily: plugin modules stay light
        return make_service(entry, context)


dirsubmit = DirSubmitFactory()
