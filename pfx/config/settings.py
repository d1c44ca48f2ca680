"""A read-only view of the configuration for one service: main.cf plus -o overrides.

Values are expanded lazily, when a service reads them, as Postfix does; a bad value is
a ConfigError naming the parameter and the file and line that set it. Settings are
immutable: reload builds new ones.
"""

import re

import attrs

from pfx.config.params import BadValue, ParamRegistry, convert, split_list
from pfx.errors import ConfigError
from pfx.util.expand import ExpansionError, expand, references


@attrs.frozen
class Setting:
    """An explicit value and where it was set."""

    value: str
    file: str | None = None
    line: int | None = None


class Settings:
    """Typed, expanded access to parameters; ``get(name)`` follows the declaration."""

    def __init__(self, registry: ParamRegistry, explicit=None, config_dir=None,
                 service_name=None, process_name=None, master_args=()):
        self.registry = registry
        self.config_dir = config_dir
        self.service_name = service_name
        # the master.cf row's arguments other than -o (pipe's flags=... argv=...)
        self.master_args = tuple(master_args)
        self._explicit: dict[str, Setting] = dict(explicit or {})
        if service_name is not None:
            self._explicit.setdefault("service_name", Setting(service_name))
            self._explicit.setdefault("process_name", Setting(process_name or service_name))
        self._raw_cache: dict[str, str] = {}
        self._cache: dict[str, object] = {}

    @classmethod
    def from_maincf(cls, registry, maincf, config_dir=None):
        explicit = {e.name: Setting(e.value, maincf.path, e.line) for e in maincf.entries.values()}
        return cls(registry, explicit, config_dir)

    def for_service(self, service_name, overrides=(), process_name=None,
                    master_args=()) -> "Settings":
        """A view with master.cf ``-o name=value`` overrides: ((name, Setting), ...),
        and the row's other arguments as ``master_args``."""
        explicit = dict(self._explicit)
        explicit.update(dict(overrides))
        return Settings(self.registry, explicit, self.config_dir, service_name, process_name,
                        master_args)

    # -- raw access -----------------------------------------------------------------

    def is_set(self, name: str) -> bool:
        return name in self._explicit

    def origin(self, name: str) -> Setting | None:
        return self._explicit.get(name)

    def explicit_names(self) -> list[str]:
        return list(self._explicit)

    def raw(self, name: str) -> str | None:
        """The unexpanded value: explicit, else the declared default; None if unknown."""
        if name in self._explicit:
            return self._explicit[name].value
        if name in self._raw_cache:
            return self._raw_cache[name]
        param = self.registry.get(name)
        if param is None:
            return None
        if param.computed:
            self._raw_cache[name] = ""  # a computed default that refers to itself sees ""
            value = param.default(self)
        else:
            value = param.default
        self._raw_cache[name] = value
        return value

    def default_text(self, name: str) -> str | None:
        """The declared default, as ``postconf -d`` shows it."""
        param = self.registry.get(name)
        if param is None:
            return None
        return param.default(self) if param.computed else param.default

    # -- typed access ---------------------------------------------------------------

    def get_str(self, name: str) -> str:
        """The $-expanded text (raw parameters are returned as written)."""
        key = ("str", name)
        if key not in self._cache:
            raw = self.raw(name)
            param = self.registry.get(name)
            if raw is None:
                value = ""
            elif param is not None and param.kind == "raw":
                value = raw
            else:
                try:
                    value = expand(raw, self.raw)
                except ExpansionError as e:
                    raise self._error(name, str(e)) from None
            self._cache[key] = value
        return self._cache[key]

    def get(self, name: str):
        """The value converted per the parameter's declaration (unknown -> text)."""
        if name not in self._cache:
            param = self.registry.get(name)
            text = self.get_str(name)
            if param is None:
                self._cache[name] = text
            else:
                try:
                    self._cache[name] = convert(param, text)
                except BadValue as e:
                    raise self._error(name, str(e)) from None
        return self._cache[name]

    get_bool = get_int = get_time = get_size = get

    def get_list(self, name: str) -> list[str]:
        value = self.get(name)
        return value if isinstance(value, list) else split_list(str(value))

    def _error(self, name, message):
        where = self._explicit.get(name)
        if where is None:
            return ConfigError(message, param=name)
        return ConfigError(message, where.file, where.line, name)

    # -- checks ---------------------------------------------------------------------

    def check(self) -> list[ConfigError]:
        """Convert every explicitly set, declared parameter; return the errors."""
        errors = []
        for name in self._explicit:
            if name in self.registry:
                try:
                    self.get(name)
                except ConfigError as e:
                    errors.append(e)
        return errors

    def unused(self, other_texts=()) -> list[tuple[str, Setting]]:
        """Explicit parameters nobody declares and no value (here or in ``other_texts``,
        e.g. master.cf overrides) refers to: Postfix's ``unused parameter`` warning."""
        referenced = set()
        for text in other_texts:
            referenced |= references(text)
        for setting in self._explicit.values():
            referenced |= references(setting.value)
        # user-defined parameters, as postconf knows them: restriction class names
        classes = self._explicit.get("smtpd_restriction_classes")
        if classes is not None:
            referenced |= set(w for w in re.split(r"[\s,]+", classes.value) if w)
        return [(n, s) for n, s in self._explicit.items()
                if n not in self.registry and n not in referenced
                and n not in ("service_name", "process_name")]
