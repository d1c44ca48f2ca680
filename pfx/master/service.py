"""MasterService: master.cf rows as named child services, started in order, reloaded by diff.

Each row's command names a plugin: a service factory (smtpd, pickup, cleanup, qmgr,
...) makes an IService; a delivery-agent factory makes an IDeliveryAgent, which is
registered under the row's service name for qmgr and wrapped in a small service that
stops it. Children start by the factory's start_order (shared components first) and
stop in reverse. Reload builds the new rows first; if any fails, the old configuration
keeps running. Only rows whose columns, arguments or effective parameter values changed
are rebuilt, so unchanged listeners stay bound and their connections stay open.

Security: master.cf and main.cf are trusted (root- or owner-written); nothing here
reads client input.
"""

import attrs
from twisted.application.service import MultiService, Service
from twisted.internet import defer

from pfx.config.core import CORE_PARAMS
from pfx.errors import ConfigError
from pfx.interfaces import IDeliveryAgentFactory, IServiceFactory
from pfx.plugin import ParamTemplate
from pfx.runtime.context import Components, ServiceContext

AGENT_ORDER = 10  # agents are ready before qmgr can hand them mail


class AgentService(Service):
    """Holds one delivery agent for its master.cf row; stopping it stops the agent."""

    def __init__(self, agent):
        self.agent = agent

    def stopService(self):
        super().stopService()
        return defer.maybeDeferred(self.agent.stop)


@attrs.frozen
class Row:
    entry: object
    fingerprint: tuple
    order: int
    service: object = attrs.field(eq=False)
    agent: object = attrs.field(default=None, eq=False)


def _declared_names(factory, service_name):
    names = [p.name for p in CORE_PARAMS]
    for p in getattr(factory, "parameters", ()):
        names.append(p.for_service(service_name).name if isinstance(p, ParamTemplate)
                     else p.name)
    return names


class MasterService(MultiService):
    """The service tree of one pfx instance."""

    def __init__(self, config, installed, runtime, log, tables=None, components=None):
        super().__init__()
        self.config = config
        self.installed = installed
        self.runtime = runtime
        self.log = log
        self.tables = tables  # the one pfx.tables.registry.Registry, shared by all rows
        # shared with runtime.require, so that agents can find cleanup's submitter
        self.components = Components() if components is None else components
        self._rows = {}
        for row in sorted(self._build(config).values(), key=lambda r: (r.order, r.entry.line)):
            self._attach(row)

    # -- building -------------------------------------------------------------------

    def _build(self, config) -> dict:
        rows = {}
        for entry in config.entries:
            factory = self.installed.command(entry.command)
            if factory is None:
                raise ConfigError(self.installed.unknown_command(entry.command),
                                  entry.file, entry.line)
            settings = config.service_settings(entry)
            fingerprint = (entry, tuple((n, settings.get_str(n))
                                        for n in _declared_names(factory, entry.service)))
            old = self._rows.get(entry.key)
            if old is not None and old.fingerprint == fingerprint:
                rows[entry.key] = old
                continue
            rows[entry.key] = self._make_row(entry, factory, settings, fingerprint)
        return rows

    def _make_row(self, entry, factory, settings, fingerprint):
        if IServiceFactory.providedBy(factory):
            context = ServiceContext(settings, self.runtime, self.config.config_dir,
                                     self.components, self.tables)
            service = factory.make_service(entry, context)
            return Row(entry, fingerprint, getattr(factory, "start_order", 50), service)
        if IDeliveryAgentFactory.providedBy(factory):
            agent = factory.make_agent(settings, self.runtime)
            return Row(entry, fingerprint, AGENT_ORDER, AgentService(agent), agent)
        raise ConfigError(f'plugin "{entry.command}" is neither a service nor a delivery '
                          f"agent", entry.file, entry.line)

    def _attach(self, row):
        row.service.setName(row.entry.key)
        row.service.setServiceParent(self)
        if row.agent is not None:
            self.components.agents[row.entry.service] = row.agent
        self._rows[row.entry.key] = row

    # -- lifecycle ------------------------------------------------------------------

    def startService(self):
        super().startService()
        self.log.info(f"daemon started -- version {self._version()}, configuration "
                      f"{self.config.config_dir}")

    def stopService(self):
        return super().stopService()

    def _version(self):
        return self.config.settings.get_str("mail_version")

    def row_services(self) -> dict:
        """master.cf key -> running child service (for status and tests)."""
        return {key: row.service for key, row in self._rows.items()}

    @defer.inlineCallbacks
    def reload(self, config):
        """Switch to ``config``. Raises ConfigError (old config untouched) if a row
        cannot be built. Fires when changed rows are stopped and the new ones started."""
        new_rows = self._build(config)  # may raise: nothing changed yet
        self.config = config
        stale = [r for k, r in self._rows.items() if new_rows.get(k) is not r]
        for row in sorted(stale, key=lambda r: r.order, reverse=True):
            del self._rows[row.entry.key]
            if row.agent is not None and \
                    self.components.agents.get(row.entry.service) is row.agent:
                del self.components.agents[row.entry.service]
            yield defer.maybeDeferred(row.service.disownServiceParent)
        fresh = [r for k, r in new_rows.items() if k not in self._rows]
        for row in sorted(fresh, key=lambda r: (r.order, r.entry.line)):
            self._attach(row)  # setServiceParent starts it when we are running
        self.log.info(f"reload -- version {self._version()}, configuration "
                      f"{config.config_dir}")
        return (len(stale), len(fresh))
