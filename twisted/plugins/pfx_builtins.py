"""pfx's built-in plugins, registered exactly as a third party registers its own."""

from pfx.agents.simple import discard, error, retry
from pfx.smtpd.plugin import SmtpdServiceFactory

smtpd = SmtpdServiceFactory()

__all__ = ["discard", "error", "retry", "smtpd"]
