"""Find the installed plugins (twisted.plugin) and say what failed to load.

twisted.plugin only logs a plugin module that fails to import and leaves it out, so a
typo in a third-party agent would otherwise show up as "no such command". We listen to
the log while scanning and keep those failures to name them in error messages.
"""

import attrs
from twisted.logger import globalLogBeginner, globalLogPublisher
from twisted.plugin import getPlugins

from pfx.config.core import CORE_PARAMS
from pfx.config.params import ParamRegistry
from pfx.interfaces import IDeliveryAgentFactory, IServiceFactory, ITableType


@attrs.frozen
class Installed:
    services: dict
    agents: dict
    tables: dict
    failures: tuple = ()  # one line per plugin module that failed to import

    def command(self, name):
        """The service or agent factory for a master.cf command, or None."""
        return self.services.get(name) or self.agents.get(name)

    def command_names(self) -> list[str]:
        return sorted(set(self.services) | set(self.agents))

    def registry(self) -> ParamRegistry:
        """Every declared parameter: the core ones and each plugin's."""
        registry = ParamRegistry(CORE_PARAMS)
        for factory in [*self.services.values(), *self.agents.values(), *self.tables.values()]:
            registry.add_declarations(getattr(factory, "parameters", ()))
        return registry

    def unknown_command(self, name) -> str:
        text = (f'unknown command "{name}": installed services and delivery agents: '
                f'{", ".join(self.command_names()) or "none"}')
        if self.failures:
            text += "; plugin modules that failed to load: " + "; ".join(self.failures)
        return text


def _describe(event) -> str | None:
    # twisted.plugin reports through the legacy log: its events carry "failure"
    failure = event.get("log_failure") or event.get("failure")
    if failure is None:
        return None
    frames = failure.frames
    where = frames[-1][1] if frames else "?"
    return f"{failure.type.__name__}: {failure.getErrorMessage()} ({where})"


def _collect(interface, failures):
    found = {}
    for plugin in getPlugins(interface):
        name = plugin.name
        if name in found and found[name] is not plugin:
            failures.append(f'two plugins named "{name}" provide {interface.__name__}')
            continue
        found[name] = plugin
    return found


def quiet_logging() -> None:
    """For command-line tools: begin Twisted logging to nowhere, so that a plugin module
    failing to import is reported once by discover(), not as a traceback on stderr (before
    logging begins, Twisted writes critical events there)."""
    global _quiet
    if not _quiet:
        _quiet = True
        globalLogBeginner.beginLoggingTo([lambda event: None], discardBuffer=True,
                                         redirectStandardIO=False)


_quiet = False


def discover() -> Installed:
    failures: list[str] = []

    def observer(event):
        text = _describe(event)
        if text and text not in failures:
            failures.append(text)

    globalLogPublisher.addObserver(observer)
    try:
        services = _collect(IServiceFactory, failures)
        agents = _collect(IDeliveryAgentFactory, failures)
        tables = _collect(ITableType, failures)
    finally:
        globalLogPublisher.removeObserver(observer)
    for name in set(services) & set(agents):
        failures.append(f'"{name}" is both a service and a delivery agent')
    return Installed(services, agents, tables, tuple(failures))
