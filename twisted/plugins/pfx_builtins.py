"""pfx's built-in plugins, registered exactly as a third party registers its own."""

from pfx.agents.simple import discard, error, retry

__all__ = ["discard", "error", "retry"]
