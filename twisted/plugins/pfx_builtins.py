"""pfx's built-in plugins, registered exactly as a third party registers its own."""

from pfx.agents.simple import discard, error, retry
from pfx.bounce.plugin import BounceFactory

bounce = BounceFactory()

__all__ = ["bounce", "discard", "error", "retry"]
