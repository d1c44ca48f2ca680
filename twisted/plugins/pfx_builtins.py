"""pfx's built-in plugins, registered exactly as a third party registers its own."""

from pfx.agents.simple import discard, error, retry
from pfx.agents.smtp.plugin import lmtp, smtp
from pfx.cleanup.plugin import CleanupFactory
from pfx.pickup.plugin import PickupFactory

cleanup = CleanupFactory()
pickup = PickupFactory()

__all__ = ["cleanup", "discard", "error", "lmtp", "pickup", "retry", "smtp"]
