"""The IServiceContext a master.cf row's service receives: settings, runtime, and the
shared components the programs offer each other (cleanup's IMailSubmitter, qmgr's
IQueueManager, the delivery agents by transport name)."""

from zope.interface import implementer

from pfx.interfaces import IServiceContext


class Components:
    """One per master: what programs provide, looked up by interface."""

    def __init__(self):
        self._providers = {}
        self.agents = {}  # master.cf service name -> IDeliveryAgent

    def provide(self, interface, provider):
        self._providers[interface] = provider

    def require(self, interface):
        try:
            return self._providers[interface]
        except KeyError:
            raise LookupError(f"no service provides {interface.__name__}: check master.cf")


@implementer(IServiceContext)
class ServiceContext:
    def __init__(self, settings, runtime, config_dir, components, tables=None):
        self.settings = settings
        self.runtime = runtime
        self.config_dir = config_dir
        self.tables = tables
        self._components = components

    def provide(self, interface, provider):
        self._components.provide(interface, provider)

    def require(self, interface):
        return self._components.require(interface)

    def agent_for(self, transport):
        return self._components.agents.get(transport)

    def logger(self, program):
        """A MailLog tagged with this row's syslog_name (master.cf -o syslog_name=...)."""
        return self.runtime.log.child(program, self.settings.get_str("syslog_name"))
