"""Registers the example agent: master.cf rows with command ``example`` use it."""

from pfx_example_agent.agent import ExampleAgentFactory

example = ExampleAgentFactory()
