"""pfx's built-in plugins, registered exactly as a third party registers its own."""

from pfx.agents.simple import discard, error, retry
from pfx.bounce.plugin import BounceFactory
from pfx.cleanup.plugin import CleanupFactory
from pfx.pickup.plugin import PickupFactory

bounce = BounceFactory()
cleanup = CleanupFactory()
pickup = PickupFactory()

__all__ = ["bounce", "cleanup", "discard", "error", "pickup", "retry"]
