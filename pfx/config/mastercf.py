"""master.cf parsing (Postfix's master_ent.c): one MasterEntry per service row.

Columns: service, type, private, unpriv, chroot, wakeup, maxproc, command + args.
Logical lines follow main.cf's rules. Arguments may be grouped with ``{ ... }`` to keep
spaces; ``-o name=value`` and ``-o { name = value }`` become per-service overrides
visible to that service only.
"""

import re

import attrs

from pfx.config.maincf import logical_lines, read_text
from pfx.config.settings import Setting
from pfx.errors import ConfigError

TYPES = ("inet", "unix", "unix-dgram", "fifo", "pass")
_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")


@attrs.frozen
class MasterEntry:
    service: str
    type: str
    private: bool = True
    unpriv: bool = True
    chroot: bool = False
    wakeup: int = 0
    wakeup_if_used: bool = False  # "60?": wake only when the service was used
    maxproc: int | None = None  # None: $default_process_limit; 0: no limit
    command: str = ""
    args: tuple = ()  # arguments other than -o, groups unwrapped
    overrides: tuple = ()  # ((name, Setting), ...) in file order
    columns: tuple = attrs.field(default=(), eq=False)  # the 7 columns as written
    file: str | None = attrs.field(default=None, eq=False)
    line: int | None = attrs.field(default=None, eq=False)

    @property
    def key(self) -> str:
        """service/type, as ``postconf -M`` names a row."""
        return f"{self.service}/{self.type}"

    def maxproc_or(self, default: int) -> int:
        return default if self.maxproc is None else self.maxproc


def split_args(text: str, path: str, line: int) -> list:
    """Whitespace-separated words; ``{ a b }`` is one word "a b" (outer braces and the
    whitespace just inside them removed), as Postfix 3.0's extract_clean_arg."""
    words, i, n = [], 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] == "{":
            depth, j = 0, i
            while j < n:
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            if depth:
                raise ConfigError(f'missing "}}" in "{text[i:]}"', path, line)
            if j + 1 < n and not text[j + 1].isspace():
                raise ConfigError(f'syntax error after "}}" in "{text[i:j + 2]}"', path, line)
            words.append(text[i + 1:j].strip())
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace():
                j += 1
            words.append(text[i:j])
            i = j
    return words


def _flag(value, column, default, path, line):
    if value == "-":
        return default
    if value in ("y", "n"):
        return value == "y"
    raise ConfigError(f'bad {column} field "{value}" (specify "y", "n" or "-")', path, line)


def _number(value, column, path, line):
    if not value.isdigit():
        raise ConfigError(f'bad {column} field "{value}"', path, line)
    return int(value)


def _override(word, path, line):
    name, eq, value = word.partition("=")
    name, value = name.strip(), value.strip()
    if not eq or not _NAME_RE.match(name):
        raise ConfigError(f'-o option requires "name=value", found "{word}"', path, line)
    return name, Setting(value, path, line)


def parse_row(text: str, path: str, line: int) -> MasterEntry:
    words = split_args(text, path, line)
    if len(words) < 8:
        raise ConfigError(f'missing command name field in "{text}"'
                          if len(words) == 7 else f'too few fields in "{text}"', path, line)
    service, type_, private, unpriv, chroot, wakeup, maxproc, command = words[:8]
    if type_ not in TYPES:
        raise ConfigError(f'bad transport type "{type_}" (expected one of '
                          f'{", ".join(TYPES)})', path, line)
    if type_ == "inet" and ":" not in service and not service.isdigit() \
            and not _NAME_RE.match(service):
        raise ConfigError(f'bad inet service "{service}"', path, line)
    wake_used = wakeup.endswith("?")
    wake = 0 if wakeup == "-" else _number(wakeup.rstrip("?"), "wakeup", path, line)
    args, overrides = [], []
    rest = iter(words[8:])
    for word in rest:
        if word == "-o":
            value = next(rest, None)
            if value is None:
                raise ConfigError('"-o" option requires a "name=value" argument', path, line)
            overrides.append(_override(value, path, line))
        elif word.startswith("-o") and "=" in word:
            overrides.append(_override(word[2:], path, line))
        else:
            args.append(word)
    return MasterEntry(
        service=service, type=type_,
        private=_flag(private, "private", True, path, line),
        unpriv=_flag(unpriv, "unprivileged", True, path, line),
        chroot=_flag(chroot, "chroot", False, path, line),
        wakeup=wake, wakeup_if_used=wake_used,
        maxproc=None if maxproc == "-" else _number(maxproc, "process limit", path, line),
        command=command, args=tuple(args), overrides=tuple(overrides),
        columns=tuple(words[:7]), file=path, line=line)


def parse(text: str, path: str = "master.cf") -> list[MasterEntry]:
    entries, seen = [], {}
    for line, logical in logical_lines(text):
        if logical[:1].isspace():
            raise ConfigError(f'logical line must not start with whitespace: '
                              f'"{logical.strip()}"', path, line)
        entry = parse_row(logical, path, line)
        if entry.key in seen:
            raise ConfigError(f"duplicate service name/type entry \"{entry.key}\" (first at "
                              f"line {seen[entry.key]})", path, line)
        seen[entry.key] = line
        entries.append(entry)
    return entries


def read(path: str) -> list[MasterEntry]:
    return parse(read_text(path), path)
