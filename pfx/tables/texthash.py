"""``texthash:/file``: a postmap source file read straight into memory, no .db needed."""

from zope.interface import implementer

from pfx.errors import TableConfigError
from pfx.interfaces import ILookupTable
from pfx.tables.base import (FileStamp, flags_or_default, fold_key, logical_lines, read_text,
                             split_key_value, warn)


def load_texthash(path, flags):
    """Like Postfix's dict_thash: bad lines and duplicates are warnings, first entry wins."""
    fold = flags_or_default(flags).fold
    entries = {}
    for number, line in logical_lines(read_text(path)):
        key, value = split_key_value(line)
        if not value:
            warn(flags, f"{path}, line {number}: expected format: key whitespace value")
            continue
        if fold:
            key = fold_key(key)
        if key in entries:
            warn(flags, f'{path}, line {number}: duplicate entry: "{key}"')
            continue
        entries[key] = value
    return entries


@implementer(ILookupTable)
class TexthashTable:
    def __init__(self, path, flags):
        self.path = path
        self.flags = flags_or_default(flags)
        self.stamp = FileStamp(path)
        self.entries = load_texthash(path, self.flags)

    def lookup(self, key):
        if self.stamp.changed():
            # Reload after an edit; keep the old contents if the new file is unreadable.
            try:
                self.entries = load_texthash(self.path, self.flags)
            except TableConfigError as e:
                warn(self.flags, f"texthash:{self.path}: reload failed: {e}")
        return self.entries.get(fold_key(key) if self.flags.fold else key)

    def items(self):
        return self.entries.items()


def open_texthash(name, flags):
    return TexthashTable(name, flags)
