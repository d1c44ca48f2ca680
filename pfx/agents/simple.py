"""The discard, error and retry agents (Postfix's discard(8) and error(8)).

discard reports every recipient delivered; error bounces them and retry defers them,
with the nexthop text as the reason (``error:5.1.1 mailbox unavailable`` in
transport_maps). An optional leading X.Y.Z in the text is the status code.

Security: none of them reads the message; the reason text comes from the admin.
"""

import re

from twisted.internet import defer
from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.dsn import Dsn
from pfx.envelope import DeliveryResult, RecipientStatus
from pfx.interfaces import IDeliveryAgent, IDeliveryAgentFactory

_CODE_RE = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\s*(.*)$", re.S)


def _reason(nexthop, klass, default_dsn, default_text):
    """dsn_split(): a leading code is taken off the text; a code of the wrong class
    (``error:4.1.1 x``) gives way to the default, as bounce_append/defer_append do."""
    m = _CODE_RE.match(nexthop or "")
    if m:
        code = m.group(1) if m.group(1)[0] == klass else default_dsn
        return Dsn(code), m.group(2) or default_text
    return Dsn(default_dsn), nexthop or default_text


@implementer(IDeliveryAgent)
class FixedAgent:
    """Gives every recipient the same action."""

    def __init__(self, action, klass, default_dsn, default_text, relay):
        self.action, self.klass = action, klass
        self.default_dsn, self.default_text, self.relay = default_dsn, default_text, relay

    def deliver(self, request):
        dsn, text = _reason(request.nexthop, self.klass, self.default_dsn, self.default_text)
        return defer.succeed(DeliveryResult(
            RecipientStatus(r, self.action, dsn, text, self.relay) for r in request.recipients))

    def stop(self):
        return defer.succeed(None)


@implementer(IPlugin, IDeliveryAgentFactory)
class FixedAgentFactory:
    parameters = ()

    def __init__(self, name, description, action, klass, default_dsn, default_text):
        self.name, self.description = name, description
        self._args = (action, klass, default_dsn, default_text, "none")

    def make_agent(self, settings, runtime):
        return FixedAgent(*self._args)


discard = FixedAgentFactory("discard", "report mail delivered and throw it away",
                            "sent", "2", "2.0.0", "discarded")
error = FixedAgentFactory("error", "bounce mail with the nexthop text as reason",
                          "bounced", "5", "5.0.0", "delivery disabled")
retry = FixedAgentFactory("retry", "defer mail with the nexthop text as reason",
                          "deferred", "4", "4.0.0", "delivery temporarily suspended")
