"""What every table type shares: open flags, key folding, source-file reading, warnings."""

import logging
import os


from pfx.errors import TableConfigError
from pfx.plugin import TableFlags  # noqa: F401  (re-exported: tables import it from here)

log = logging.getLogger("pfx.tables")


DEFAULT_FLAGS = TableFlags()  # TableFlags lives in the public API, pfx.plugin


def flags_or_default(flags):
    return DEFAULT_FLAGS if flags is None else flags


def warn(flags, message):
    """Report a non-fatal table problem the way the caller asked to see it."""
    sink = flags_or_default(flags).warn
    if sink is None:
        log.warning("%s", message)
    else:
        sink(message)


def fold_key(key):
    """Postfix's lowercase folding; non-ASCII keys get full Unicode case folding
    (Postfix uses ICU's casefold for SMTPUTF8 keys)."""
    return key.lower() if key.isascii() else key.casefold()


def read_text(path):
    """The file's text; bytes that are not UTF-8 survive a round trip (surrogateescape)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TableConfigError(f"open {path}: {e.strerror}") from e
    return data.decode("utf-8", "surrogateescape")


def logical_lines(text):
    """Yield (line_number, text) per logical line, as Postfix's readllines() does.

    A line starting with whitespace continues the previous one; the newline is dropped
    and the continuation's leading whitespace kept (Postfix gives "a\\n  b" as "a  b").
    Blank lines and lines whose first non-blank character is ``#`` are skipped, even
    inside a continuation. The line number is that of the first physical line.
    """
    start, parts = 0, []
    for number, line in enumerate(text.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        first = line[:1]
        if not first or first == "#":
            continue
        if first in " \t":
            stripped = line.strip()
            if not stripped or stripped[0] == "#":
                continue
            if parts:
                parts.append(line)
                continue
        if parts:
            yield start, "".join(parts).strip()
        # A first line that starts with whitespace has nothing to continue:
        # Postfix treats it as a line of its own.
        start, parts = number, [line]
    if parts:
        yield start, "".join(parts).strip()


def split_key_value(line):
    """``key whitespace value`` -> (key, value); value is "" when missing."""
    fields = line.split(None, 1)
    if len(fields) == 1:
        return fields[0], ""
    return fields[0], fields[1].strip()


def parse_source(text, path, fold=True):
    """Postmap source text -> list of (line, key, value); raises on bad syntax.

    Postfix only warns for a line without a value; pfx refuses the whole file so that
    ``postmap`` leaves the previous ``.db`` in place (see pfx/cli/postmap.py).
    """
    entries = []
    append = entries.append  # a million-line source spends its time in this loop
    for number, line in logical_lines(text):
        fields = line.split(None, 1)
        if len(fields) < 2:
            raise TableConfigError(f"{path}, line {number}: expected format: key whitespace value")
        key = fields[0]
        if fold:
            key = key.lower() if key.isascii() else key.casefold()
        append((number, key, fields[1]))
    return entries


class FileStamp:
    """Remembers a file's identity so a table can reopen it after postmap renames a new one in."""

    def __init__(self, path):
        self.path = path
        self.stamp = self.current()

    def current(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def changed(self):
        now = self.current()
        if now is not None and now != self.stamp:
            self.stamp = now
            return True
        return False


def brace_content(name, what):
    """``{ text }`` -> ``text`` stripped; anything else is a config error."""
    name = name.strip()
    if not (name.startswith("{") and name.endswith("}")):
        raise TableConfigError(f"{what}: missing '{{' or '}}' in \"{name}\"")
    return name[1:-1].strip()


def split_braced_list(text):
    """Split on commas/whitespace outside braces, as Postfix's mystrtokq(CHARS_COMMA_SP, "{}")."""
    items, depth, current = [], 0, []
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise TableConfigError(f"unbalanced '}}' in \"{text}\"")
        if depth == 0 and ch in ", \t\r\n":
            if current:
                items.append("".join(current))
                current = []
            continue
        current.append(ch)
    if depth != 0:
        raise TableConfigError(f"unbalanced '{{' in \"{text}\"")
    if current:
        items.append("".join(current))
    return items
