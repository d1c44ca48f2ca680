"""pfx's built-in plugins, registered exactly as a third party registers its own."""

from pfx.agents.simple import discard, error, retry
from pfx.agents.smtp.plugin import lmtp, smtp

__all__ = ["discard", "error", "retry", "smtp", "lmtp"]
