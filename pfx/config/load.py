"""Read a configuration directory: DIR/main.cf and DIR/master.cf into one Config."""

import os

import attrs

from pfx.config import maincf, mastercf
from pfx.config.settings import Settings


@attrs.frozen
class Config:
    config_dir: str
    maincf: maincf.MainCf
    entries: tuple
    settings: Settings  # the global view (main.cf only)

    def service_settings(self, entry) -> Settings:
        # process_name is the program (Postfix: basename of argv[0], the command column);
        # service_name is the row's first column.
        return self.settings.for_service(entry.service, entry.overrides,
                                         process_name=os.path.basename(entry.command) or None,
                                         master_args=entry.args)

    def warnings(self) -> list[str]:
        """Postfix's start-up warnings: overriding entries and unused parameters."""
        out = list(self.maincf.warnings)
        texts = [s.value for e in self.entries for _, s in e.overrides]
        for name, setting in self.settings.unused(texts):
            out.append(f"{self.maincf.path}: unused parameter: {name}={setting.value}")
        return out

    def errors(self) -> list:
        """Every bad value in main.cf and in master.cf -o overrides, as ConfigErrors."""
        errors = self.settings.check()
        for entry in self.entries:
            errors += [e for e in self.service_settings(entry).check()
                       if e.file == entry.file and e not in errors]
        return errors


def load(config_dir: str, registry) -> Config:
    """Parse both files; ``registry`` is the base ParamRegistry (templates get made
    concrete for the master.cf service names). Raises ConfigError for syntax errors."""
    config_dir = os.path.abspath(config_dir)
    main = maincf.read(os.path.join(config_dir, "main.cf"))
    entries = tuple(mastercf.read(os.path.join(config_dir, "master.cf")))
    registry = registry.for_services(e.service for e in entries)
    return Config(config_dir, main, entries, Settings.from_maincf(registry, main, config_dir))
