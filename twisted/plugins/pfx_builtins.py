"""pfx's built-in plugins, registered exactly as a third party registers its own."""

from pfx.agents.simple import discard, error, retry
from pfx.cleanup.plugin import CleanupFactory
from pfx.pickup.plugin import PickupFactory
from pfx.smtpd.plugin import SmtpdServiceFactory

cleanup = CleanupFactory()
pickup = PickupFactory()
smtpd = SmtpdServiceFactory()

__all__ = ["cleanup", "discard", "error", "pickup", "retry", "smtpd"]
