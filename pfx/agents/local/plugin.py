"""The ``local`` plugin factory: cheap to import; the agent's modules load in make_agent()."""

from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.interfaces import IDeliveryAgentFactory

from pfx.agents.local.params import PARAMETERS, LocalConfig


@implementer(IPlugin, IDeliveryAgentFactory)
class LocalAgentFactory:
    name = "local"
    description = "local(8): aliases, .forward, mbox and Maildir, commands and files"
    parameters = PARAMETERS

    def make_agent(self, settings, runtime):
        from pfx.agents.local.agent import LocalAgent

        return LocalAgent(LocalConfig.from_settings(settings), runtime)
