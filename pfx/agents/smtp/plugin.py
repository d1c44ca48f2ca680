"""The ``smtp`` and ``lmtp`` agent factories (one agent class serving both master.cf commands).

Security: importing this module (plugin discovery) loads only parameter declarations;
the agent and its Twisted machinery are imported when a master.cf row is built.
"""

from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.agents.smtp.params import AGENT_PARAMS, read_config
from pfx.interfaces import IDeliveryAgentFactory


@implementer(IPlugin, IDeliveryAgentFactory)
class SmtpAgentFactory:
    parameters = AGENT_PARAMS

    def __init__(self, name, lmtp, description):
        self.name, self.lmtp, self.description = name, lmtp, description

    def make_agent(self, settings, runtime):
        from pfx.agents.smtp.agent import SmtpAgent  # imported when used, not at discovery

        config = read_config(settings, self.lmtp)
        return SmtpAgent(config, runtime, queue_directory=settings.get_str("queue_directory"))


smtp = SmtpAgentFactory("smtp", False, "deliver by SMTP: MX lookup, STARTTLS, SASL, relayhost")
lmtp = SmtpAgentFactory("lmtp", True, "deliver by LMTP to Dovecot, Cyrus and other mailbox servers")
