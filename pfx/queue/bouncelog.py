"""Per-message delivery logs in defer/, bounce/ and trace/: the entry format and its reader.

The bounce service (a later issue) owns writing these files; this module fixes what they
look like so that postqueue can show deferral reasons today. One file per message, named
by its queue ID and hashed like the queue (QueueStore.path("defer", qid)). As in
Postfix's bounce logs (bounce_log.c), a file is a sequence of entries separated by an
empty line; an entry is lines of ``name=value`` (name: lowercase letters, digits and
``_``; the value runs to the end of the line). Lines of another shape, such as
Postfix's human-readable ``<rcpt>: text`` line, are ignored, so the writer may add
them. An entry names one recipient (``recipient=``) and usually says why
(``reason=``); the other attributes (``offset``, ``dsn_orig_rcpt``, ``status``,
``action`` ...) are kept for whoever needs them. Text is UTF-8; stray bytes survive
through surrogateescape. A value cannot hold a newline: encode_entry refuses one.
"""

import re

import attrs

_ATTR_LINE = re.compile(r"([a-z][a-z0-9_]*)=(.*)")
MAX_LINE = 8192  # a reader bound: longer lines are cut, never held whole


@attrs.frozen
class LogEntry:
    """One recipient's line in a delivery log."""

    recipient: str
    reason: str = ""
    attributes: tuple = ()  # every (name, value) pair of the entry, in file order

    def get(self, name, default=None):
        for key, value in self.attributes:
            if key == name:
                return value
        return default


def parse_entries(lines):
    """Yield the LogEntry of each entry that names a recipient, in order."""
    pairs = []
    for line in [*lines, ""]:
        line = line.rstrip("\n")
        if not line.strip():
            if pairs:
                values = dict(pairs)
                if "recipient" in values:
                    yield LogEntry(values["recipient"], values.get("reason", ""), tuple(pairs))
                pairs = []
            continue
        match = _ATTR_LINE.fullmatch(line)
        if match:
            pairs.append((match.group(1), match.group(2)))


def read_log(path) -> list:
    """The entries of one log file; [] when there is none (FileNotFoundError is normal)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return list(parse_entries(line[:MAX_LINE] for line in f))
    except FileNotFoundError:
        return []


def encode_entry(recipient: str, reason: str = "", **attributes) -> str:
    """One entry as text (ending in its blank line), for the writer and for tests."""
    pairs = [("recipient", recipient), *attributes.items()] + [("reason", reason)] * bool(reason)
    for name, value in pairs:
        if not _ATTR_LINE.fullmatch(f"{name}=x") or "\n" in str(value) or "\r" in str(value):
            raise ValueError(f"cannot log {name}={value!r}")
    return "".join(f"{name}={value}\n" for name, value in pairs) + "\n"
