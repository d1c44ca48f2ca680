"""pfx's built-in plugins, registered exactly as a third party registers its own."""

from pfx.agents.local.plugin import LocalAgentFactory
from pfx.agents.pipe import PipeAgentFactory
from pfx.agents.simple import discard, error, retry

local = LocalAgentFactory()
pipe = PipeAgentFactory()

__all__ = ["discard", "error", "retry", "local", "pipe"]
