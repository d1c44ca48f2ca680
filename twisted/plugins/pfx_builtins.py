"""pfx's built-in plugins, registered exactly as a third party registers its own."""

from pfx.agents.local.plugin import LocalAgentFactory
from pfx.agents.pipe import PipeAgentFactory
from pfx.agents.simple import discard, error, retry
from pfx.agents.smtp.plugin import lmtp, smtp
from pfx.agents.virtual import VirtualAgentFactory
from pfx.bounce.plugin import BounceFactory
from pfx.cleanup.plugin import CleanupFactory
from pfx.pickup.plugin import PickupFactory
from pfx.qmgr.plugin import QmgrFactory
from pfx.smtpd.plugin import SmtpdServiceFactory

bounce = BounceFactory()
cleanup = CleanupFactory()
pickup = PickupFactory()
qmgr = QmgrFactory()
local = LocalAgentFactory()
pipe = PipeAgentFactory()
smtpd = SmtpdServiceFactory()
virtual = VirtualAgentFactory()

__all__ = ["bounce", "cleanup", "discard", "error", "lmtp", "local", "pickup", "pipe", "qmgr",
           "retry", "smtp", "smtpd", "virtual"]
