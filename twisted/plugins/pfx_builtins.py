"""pfx's built-in plugins, registered exactly as a third party registers its own."""

from pfx.agents.local.plugin import LocalAgentFactory
from pfx.agents.pipe import PipeAgentFactory
from pfx.agents.simple import discard, error, retry
from pfx.agents.virtual import VirtualAgentFactory

local = LocalAgentFactory()
pipe = PipeAgentFactory()
virtual = VirtualAgentFactory()

__all__ = ["discard", "error", "retry", "local", "pipe", "virtual"]
