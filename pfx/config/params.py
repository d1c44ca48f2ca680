"""The parameter registry and the value types (Postfix's mail_conf_{str,int,bool,time}.c).

Every parameter pfx supports is declared once, as a pfx.plugin.Param, by the module or
plugin that reads it; the registry gathers them, refuses two declarations of one name
with different defaults, and converts text to typed values with range checks.
"""

import re

from pfx.plugin import Param, ParamTemplate

_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TIME_RE = re.compile(r"^(\d+)([smhdw]?)$")
_INT_RE = re.compile(r"^[-+]?\d+$")
_LIST_SPLIT = " \t\r\n,"


class BadValue(ValueError):
    """A value that does not fit its parameter's type or range."""


def to_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in ("yes", "true", "on", "1"):
        return True
    if word in ("no", "false", "off", "0"):
        return False
    raise BadValue(f'bad boolean value: "{text}" (specify "yes" or "no")')


def to_int(text: str) -> int:
    if not _INT_RE.match(text.strip()):
        raise BadValue(f'bad numerical value: "{text}"')
    return int(text)


def to_time(text: str, unit: str = "s") -> int:
    """"300s", "5m", "1d", or a bare number in ``unit`` -> seconds."""
    m = _TIME_RE.match(text.strip())
    if not m:
        raise BadValue(f'bad time value: "{text}" (use a number with an optional '
                          f"unit s, m, h, d or w)")
    return int(m.group(1)) * _TIME_UNITS[m.group(2) or unit]


def split_list(text: str) -> list[str]:
    """Postfix's mystrtok with grouping: separators are comma and whitespace, and
    ``{ ... }`` keeps its contents (with separators) together as one element."""
    out, cur, depth = [], [], 0
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        if depth == 0 and ch in _LIST_SPLIT:
            if cur:
                out.append("".join(cur))
                cur = []
            continue
        cur.append(ch)
    if depth:
        raise BadValue(f'missing "}}" in "{text}"')
    if cur:
        out.append("".join(cur))
    return out


def convert(param: Param, text: str):
    """Expanded text -> the typed value for ``param``; raises BadValue with the reason."""
    kind = param.kind
    if kind in ("str", "raw"):
        return text
    if kind == "list":
        return split_list(text)
    if kind == "bool":
        return to_bool(text)
    if kind == "time":
        value = to_time(text, param.unit)
    else:  # int, size
        value = to_int(text)
    if param.min is not None and value < param.min:
        raise BadValue(f"invalid value: {text} < {param.min}")
    if param.max is not None and value > param.max:
        raise BadValue(f"invalid value: {text} > {param.max}")
    return value


class ParamRegistry:
    """Declared parameters by name, plus per-service templates made concrete."""

    def __init__(self, params=(), templates=()):
        self._params: dict[str, Param] = {}
        self._templates: list[ParamTemplate] = []
        for p in params:
            self.add(p)
        for t in templates:
            self.add_template(t)

    def add(self, param: Param) -> None:
        old = self._params.get(param.name)
        if old is not None and old != param and not (old.computed and param.computed):
            raise ValueError(f"parameter {param.name} declared twice with different "
                             f"definitions: {old!r} and {param!r}")
        self._params.setdefault(param.name, param)

    def add_template(self, template: ParamTemplate) -> None:
        if template not in self._templates:
            self._templates.append(template)

    def add_declarations(self, declarations) -> None:
        """A plugin's ``parameters`` tuple: Params and ParamTemplates mixed."""
        for d in declarations:
            (self.add_template if isinstance(d, ParamTemplate) else self.add)(d)

    def for_services(self, services) -> "ParamRegistry":
        """A copy with each template instantiated for each master.cf service name."""
        new = ParamRegistry(self._params.values(), self._templates)
        for service in services:
            for t in self._templates:
                param = t.for_service(service)
                if param.name not in new:  # a concrete declaration wins (local_..._limit = 1)
                    new.add(param)
        return new

    def get(self, name: str) -> Param | None:
        return self._params.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self._params

    def names(self) -> list[str]:
        return sorted(self._params)
