"""The composition root: configuration -> plugins -> runtime -> MasterService.

This is the one place that builds objects from configuration and wires them together
(``twistd -n pfx -c DIR`` calls makeService). Everything else receives what it needs.
"""

import os
import signal
import sys

from twisted.application.service import MultiService
from twisted.logger import globalLogPublisher
from twisted.python import usage

from pfx.config.core import CONFIG_DIRECTORY
from pfx.config.load import load
from pfx.discover import discover
from pfx.errors import ConfigError
from pfx.master.service import MasterService
from pfx.runtime.build import make_runtime
from pfx.runtime.context import Components
from pfx.runtime.dns import make_resolver
from pfx.tables.registry import Registry
from pfx.runtime.logging import (MailLog, MaillogObserver, SyslogObserver,
                                 add_sink, check_maillog_path, remove_sink)


class Options(usage.Options):
    synopsis = "[-c config_directory]"
    optParameters = [
        ["config", "c", os.environ.get("MAIL_CONFIG", CONFIG_DIRECTORY),
         "configuration directory holding main.cf and master.cf"],
    ]


def load_checked(config_dir, installed=None):
    """(config, installed) or ConfigError: syntax, bad values, unknown commands."""
    installed = installed or discover()
    config = load(config_dir, installed.registry())
    errors = config.errors()
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigError(
            "; ".join(str(e) for e in errors))
    for entry in config.entries:
        if installed.command(entry.command) is None:
            raise ConfigError(installed.unknown_command(entry.command), entry.file, entry.line)
    return config, installed


def log_observer(settings):
    """The observer for maillog_file, or syslog when maillog_file is empty."""
    tag = f"{settings.get_str('syslog_name')}/master"
    path = settings.get_str("maillog_file")
    if not path:
        return SyslogObserver(settings.get_str("syslog_facility"), tag)
    problem = check_maillog_path(path, settings.get_list("maillog_file_prefixes"))
    if problem:
        raise ConfigError(problem, param="maillog_file")
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    return MaillogObserver(path, tag)


class PfxService(MultiService):
    """The top of the tree: owns the mail log observer and turns SIGHUP into reload."""

    def __init__(self, config, installed, reactor):
        super().__init__()
        self.reactor = reactor
        self.observer = log_observer(config.settings)
        name = config.settings.get_str("syslog_name")
        self.log = MailLog(name, "master")
        tables = Registry(installed.tables, warn=self.log.warning, clock=reactor.seconds)
        components = Components()
        runtime = make_runtime(reactor, MailLog(name, "pfx"), tables=tables,
                               require=components.require,
                               resolver=make_resolver(config.settings, reactor),
                               agent_for=components.agents.get)
        self.master = MasterService(config, installed, runtime, self.log, tables, components)
        self.master.setServiceParent(self)
        self._warnings = config.warnings()

    def startService(self):
        add_sink(self.observer)  # mail lines
        globalLogPublisher.addObserver(self.observer)  # Twisted's own errors
        for text in self._warnings:
            self.log.warning(text)
        signal.signal(signal.SIGHUP, lambda *_: self.reactor.callFromThread(self.reload))
        super().startService()

    def stopService(self):
        self.log.info("terminating")
        d = super().stopService()

        def detach(result):
            globalLogPublisher.removeObserver(self.observer)
            remove_sink(self.observer)
            return result
        return d.addBoth(detach)

    def reload(self):
        """Re-read main.cf and master.cf; on any error keep the running configuration."""
        if hasattr(self.observer, "check_rotation"):
            self.observer.check_rotation()  # a rotated maillog_file is reopened at once
        try:
            config, _ = load_checked(self.master.config.config_dir, self.master.installed)
            for text in config.warnings():
                self.log.warning(text)
            d = self.master.reload(config)
        except ConfigError as e:
            self.log.warning(f"reload failed, keeping the running configuration: {e}")
            return None
        d.addErrback(lambda f: self.log.error(f"reload failed: {f.getErrorMessage()}"))
        return d


def makeService(options):
    from twisted.internet import reactor
    try:
        config, installed = load_checked(options["config"])
        return PfxService(config, installed, reactor)
    except ConfigError as e:
        sys.stderr.write(f"pfx/master: fatal: {e}\n")
        raise SystemExit(1)
