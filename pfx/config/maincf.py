"""main.cf parsing (Postfix's mail_conf.c and readlline.c), keeping file:line per value.

A logical line starts with non-whitespace; a line starting with whitespace continues
it; empty lines and lines whose first non-whitespace character is ``#`` are ignored
everywhere, even inside a continuation. Continuation lines are appended verbatim,
leading whitespace included (readlline.c). The last of two entries for a name wins,
with Postfix's "overriding earlier entry" warning.
"""

import re

import attrs

from pfx.errors import ConfigError

_NAME_END = re.compile(r"[\s=]")


@attrs.frozen
class Entry:
    name: str
    value: str
    line: int


@attrs.frozen
class MainCf:
    """The parsed file: entries by name in file order, plus warnings to report."""

    path: str
    entries: dict = attrs.field(factory=dict)  # name -> Entry
    warnings: tuple = ()

    def value(self, name):
        entry = self.entries.get(name)
        return None if entry is None else entry.value


def logical_lines(text: str):
    """Yield (first_line_number, joined_text) for each logical line of ``text``."""
    start, parts = None, []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0].isspace():
            if start is None:
                # A continuation before any logical line: the caller reports it.
                yield number, line
                continue
            parts.append(line)
            continue
        if start is not None:
            yield start, "".join(parts)
        start, parts = number, [line]
    if start is not None:
        yield start, "".join(parts)


def parse_assignment(text: str, path: str, line: int):
    """``name = value`` -> (name, value); raises ConfigError as Postfix words it."""
    # As split_nameval(): the name ends at whitespace or "="; any other character is
    # allowed (Postfix reports "a-b = x" as an unused parameter, not a syntax error).
    if text[:1].isspace():
        raise ConfigError(f'logical line must not start with whitespace: "{text.strip()}"',
                          path, line)
    m = _NAME_END.search(text)
    name = text[:m.start()] if m else text
    rest = text[len(name):].lstrip()
    if not rest.startswith("="):
        raise ConfigError(f"missing '=' after attribute name: \"{text.strip()}\"", path, line)
    if not name:
        raise ConfigError(f'missing attribute name: "{text.strip()}"', path, line)
    return name, rest[1:].strip()


def parse(text: str, path: str = "main.cf") -> MainCf:
    entries, warnings = {}, []
    for line, logical in logical_lines(text):
        if logical[:1].isspace():  # a continuation before any logical line: Postfix warns
            warnings.append(f'{path}: logical line must not start with whitespace: '
                            f'"{logical}"')
            continue
        name, value = parse_assignment(logical, path, line)
        old = entries.pop(name, None)
        if old is not None:
            warnings.append(f"{path}, line {line}: overriding earlier entry: {name}={old.value}")
        entries[name] = Entry(name, value, line)
    return MainCf(path, entries, tuple(warnings))


def read_text(path: str) -> str:
    """A configuration file's text; a missing or unreadable file is a ConfigError."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError as e:
        raise ConfigError(f"open: {e.strerror}", path) from None


def read(path: str) -> MainCf:
    return parse(read_text(path), path)
