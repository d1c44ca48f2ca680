"""``hash:`` and ``btree:`` tables: ``name.db`` beside the source, an SQLite file built by postmap.

Python's standard library has no Berkeley DB, so pfx keeps Postfix's file name but not
its format. The ``.db`` is an SQLite 3 database with two tables:

    meta(name TEXT PRIMARY KEY, value TEXT)       -- format=pfx-table, version=1, type=hash|btree
    map(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID

Keys and values are UTF-8 bytes (undecodable source bytes round-trip through
surrogateescape), without Postfix's trailing NUL; keys are stored already folded to
lower case unless postmap ran with ``-f``. ``hash`` and ``btree`` share the format
(``btree`` simply promises key order to ``postmap -s``). A Berkeley DB file that the real
postmap wrote under the same name is refused with a clear message.

A rebuild writes a temporary file in the same directory, fsyncs it and renames it over
the old one, so a reader sees the old table or the new one, never half of either. An
open table stats its file on each lookup (about a microsecond) and reopens it when the
inode changed. Incremental updates (``postmap -i``, ``-d``) change the file in place in
one SQLite transaction, which readers also never see half-done.
"""

import os
import sqlite3
import tempfile

from zope.interface import implementer

from pfx.errors import TableConfigError, TableRetry
from pfx.interfaces import ILookupTable
from pfx.tables.base import FileStamp, flags_or_default, fold_key, warn

FORMAT = "pfx-table"
VERSION = "1"
_SE = "surrogateescape"


def db_path(source):
    return source + ".db"


def _enc(text):
    return text.encode("utf-8", _SE)


def _dec(data):
    return bytes(data).decode("utf-8", _SE)


def _check_format(conn, path):
    try:
        meta = dict(conn.execute("SELECT name, value FROM meta"))
    except sqlite3.DatabaseError as e:
        raise TableConfigError(
            f"open database {path}: not a pfx table ({e}); rebuild it with pfx postmap") from e
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise TableConfigError(f"open database {path}: unsupported table format {meta!r}")
    return meta


def _connect_ro(path):
    if not os.path.exists(path):
        raise TableConfigError(f"open database {path}: No such file or directory")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        _check_format(conn, path)
        # Map the file: lookups then read pages without a system call each.
        conn.execute("PRAGMA mmap_size=1073741824")
    except sqlite3.Error as e:
        raise TableConfigError(f"open database {path}: {e}") from e
    return conn


@implementer(ILookupTable)
class IndexedTable:
    """A read-only view of ``path`` (the .db) that follows postmap's renames."""

    def __init__(self, path, kind, fold=True):
        self.path, self.kind, self.fold = path, kind, fold
        self.stamp = FileStamp(path)
        self._conn = _connect_ro(path)

    def _reopen_if_changed(self):
        if self.stamp.changed():
            try:
                conn = _connect_ro(self.path)
            except TableConfigError:
                return  # keep answering from the old file until a good one appears
            self._conn.close()
            self._conn = conn

    def lookup(self, key):
        self._reopen_if_changed()
        if self.fold:
            key = fold_key(key)
        try:
            row = self._conn.execute("SELECT value FROM map WHERE key = ?", (_enc(key),)).fetchone()
        except sqlite3.Error as e:
            raise TableRetry(f"{self.kind}:{self.path}: lookup error: {e}") from e
        return None if row is None else _dec(row[0])

    def items(self):
        self._reopen_if_changed()
        for key, value in self._conn.execute("SELECT key, value FROM map ORDER BY key"):
            yield _dec(key), _dec(value)

    def close(self):
        self._conn.close()


def open_indexed(kind):
    def opener(name, flags):
        table = IndexedTable(db_path(name), kind, flags_or_default(flags).fold)
        try:
            if os.stat(name).st_mtime > os.stat(table.path).st_mtime:
                # Postfix's warning: someone edited the source and forgot postmap.
                warn(flags, f"database {table.path} is older than source file {name}")
        except OSError:
            pass  # a .db without its source is fine
        return table
    return opener


open_hash = open_indexed("hash")
open_btree = open_indexed("btree")


def _create_schema(conn, kind):
    conn.execute("CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT)")
    conn.execute("CREATE TABLE map(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID")
    conn.executemany("INSERT INTO meta VALUES (?, ?)",
                     [("format", FORMAT), ("version", VERSION), ("type", kind)])


def collect(entries, dup="warn", warn=None, label=""):
    """(key, value) pairs -> {key_bytes: value_bytes} under Postfix's duplicate policy.

    ``dup``: "warn" (keep the first, warn: postmap's default), "ignore" (keep the first:
    -w), "replace" (keep the last: -r).
    """
    table = {}
    for key, value in entries:
        k = key.encode("utf-8", _SE)
        if k in table:
            if dup == "replace":
                table[k] = value.encode("utf-8", _SE)
            elif dup == "warn" and warn is not None:
                warn(f'{label}: duplicate entry: "{key}"')
            continue
        table[k] = value.encode("utf-8", _SE)
    return table


def build(path, entries, kind="hash", mode=None, dup="warn", warn=None):
    """Write a fresh ``path`` from (key, value) pairs, atomically. Returns the entry count."""
    table = collect(entries, dup, warn, path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".pfx-postmap.", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp)
        try:
            # No journal and no syncs while filling a private temp file; one fsync at the end.
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA cache_size=-65536")
            _create_schema(conn, kind)
            # Inserting in key order keeps the b-tree append-only: about 3x faster.
            conn.executemany("INSERT INTO map VALUES (?, ?)", sorted(table.items()))
            conn.commit()
        finally:
            conn.close()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644 if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return len(table)


def _connect_rw(path, kind):
    """Open ``path`` for an in-place update, creating an empty table if it is missing."""
    fresh = not os.path.exists(path)
    if fresh:
        build(path, [], kind)
    conn = sqlite3.connect(path)
    _check_format(conn, path)
    return conn


def update(path, entries, kind="hash", dup="warn", warn=None):
    """Add (key, value) pairs in place, one transaction (``postmap -i``)."""
    conn = _connect_rw(path, kind)
    try:
        with conn:
            for key, value in entries:
                k, v = _enc(key), _enc(value)
                if dup == "replace":
                    conn.execute("INSERT OR REPLACE INTO map VALUES (?, ?)", (k, v))
                    continue
                if conn.execute("SELECT 1 FROM map WHERE key = ?", (k,)).fetchone():
                    if dup == "warn" and warn is not None:
                        warn(f'{path}: duplicate entry: "{key}"')
                    continue
                conn.execute("INSERT INTO map VALUES (?, ?)", (k, v))
    finally:
        conn.close()


def delete(path, keys, kind="hash"):
    """Remove each key in place (``postmap -d``); returns the keys that were present."""
    if not os.path.exists(path):
        raise TableConfigError(f"open database {path}: No such file or directory")
    conn = sqlite3.connect(path)
    try:
        _check_format(conn, path)
        removed = []
        with conn:
            for key in keys:
                if conn.execute("DELETE FROM map WHERE key = ?", (_enc(key),)).rowcount:
                    removed.append(key)
        return removed
    finally:
        conn.close()
