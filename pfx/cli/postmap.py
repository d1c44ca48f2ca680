"""``pfx postmap``: build, query, list, update and delete lookup tables, with postmap(1)'s flags.

    postmap [-NbfhimnoprsuUvw] [-c config_dir] [-d key] [-q key] [type:]file ...

``main(argv)`` takes the arguments after the program name and returns the exit status:
0 when a query/delete found something (or a build succeeded), 1 when nothing was
found or a source file has a syntax error, 2 for any other fatal error. Messages go to
stderr as ``postmap: fatal: ...`` / ``postmap: warning: ...``.

Deliberate difference from Postfix: a source line without a value is fatal here (file
and line named, exit 1) and the previous ``.db`` stays in place; Postfix warns and
skips the line. ``hash`` and ``btree`` files are SQLite (see pfx/tables/indexed.py), so
a ``.db`` built by the real postmap must be rebuilt by ``pfx postmap``. The flags -N,
-n, -o, -m, -u and -U are accepted and have no effect; -F is refused.
"""

import functools
import getopt
import os
import sys

from pfx.errors import TableConfigError, TableRetry
from pfx.tables import indexed
from pfx.tables.base import TableFlags, fold_key, parse_source, read_text

BUILDABLE = ("hash", "btree")
OPTIONS = "Nbc:d:fhimnopq:rsuUvwF"


class Fatal(Exception):
    """Stop with ``program: fatal: message`` and this exit status."""

    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


def config_value(config_dir, name, default):
    """Read one main.cf parameter directly (no $expansion).

    A stop-gap until pfx.config is available; the only function here that reads main.cf.
    """
    config_dir = config_dir or os.environ.get("MAIL_CONFIG") or "/etc/pfx"
    path = os.path.join(config_dir, "main.cf")
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError:
        return default
    from pfx.tables.base import logical_lines

    value = default
    for _, line in logical_lines(text):
        key, sep, rest = line.partition("=")
        if sep and key.strip() == name:
            value = rest.strip()
    return value


@functools.lru_cache(maxsize=1)
def installed_types():
    """{name: ITableType} from twisted.plugin discovery, as the daemon sees them."""
    from twisted.plugin import getPlugins

    import twisted.plugins
    from pfx.interfaces import ITableType
    from pfx.tables.registry import types_by_name

    return types_by_name(getPlugins(ITableType, twisted.plugins))


class Program:
    """What postmap and postalias share; postalias overrides the source parser and output."""

    name = "postmap"
    kv_separator = "\t"

    def __init__(self, stdin=None, stdout=None, stderr=None, types=None):
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self._types = types
        self.verbose = 0

    # -- messages -----------------------------------------------------------------
    def warn(self, message):
        self.stderr.write(f"{self.name}: warning: {message}\n")

    def info(self, message):
        if self.verbose:
            self.stderr.write(f"{self.name}: {message}\n")

    # -- table access ---------------------------------------------------------------
    def registry(self, fold):
        from pfx.tables.registry import Registry

        types = self._types if self._types is not None else installed_types()
        return Registry(types, warn=self.warn, fold=fold)

    def split(self, spec, default_type):
        kind, sep, name = spec.partition(":")
        if not sep or kind.startswith("/") or not kind:
            return default_type, spec
        return kind, name

    def open(self, registry, kind, name, fold):
        self.info(f"open {kind}:{name}")
        try:
            return registry.open_strict(f"{kind}:{name}", TableFlags(fold=fold))
        except TableConfigError as e:
            raise Fatal(str(e)) from e

    def parse(self, text, path, fold):
        return parse_source(text, path, fold)

    def source_name(self, name):
        return name

    # -- operations ---------------------------------------------------------------
    def build(self, kind, name, opts):
        if kind not in BUILDABLE:
            raise Fatal(f"unsupported map type for this operation: {kind}")
        source = self.source_name(name)
        try:
            text = read_text(source)
        except TableConfigError as e:
            raise Fatal(str(e)) from e
        try:
            entries = self.parse(text, source, not opts.no_fold)
        except TableConfigError as e:
            # Exit 1 and leave the old .db untouched: nothing has been written yet.
            raise Fatal(str(e), status=1) from e
        mode = None if opts.default_mode else os.stat(source).st_mode & 0o777
        dup = "replace" if opts.replace else "ignore" if opts.ignore_dups else "warn"
        count = indexed.build(indexed.db_path(source), ((k, v) for _, k, v in entries),
                              kind, mode=mode, dup=dup, warn=self.warn)
        self.info(f"{kind}:{indexed.db_path(source)}: {count} entries")

    def incremental(self, kind, name, opts):
        if kind not in BUILDABLE:
            raise Fatal(f"unsupported map type for this operation: {kind}")
        try:
            entries = self.parse(self.stdin.read(), "stdin", not opts.no_fold)
        except TableConfigError as e:
            raise Fatal(str(e), status=1) from e
        dup = "replace" if opts.replace else "ignore" if opts.ignore_dups else "warn"
        indexed.update(indexed.db_path(self.source_name(name)),
                       [(k, v) for _, k, v in entries], kind, dup=dup, warn=self.warn)

    def dump(self, registry, kind, name, opts):
        table = self.open(registry, kind, name, not opts.no_fold)
        if not hasattr(table, "items"):
            raise Fatal(f"table {kind}:{name}: sequence operation is not supported")
        for key, value in table.items():
            self.stdout.write(f"{key}{self.kv_separator}{value}\n")

    def delete(self, maps, keys, opts):
        found = False
        for kind, name in maps:
            if kind not in BUILDABLE:
                raise Fatal(f"unsupported map type for this operation: {kind}")
            folded = [k if opts.no_fold else fold_key(k) for k in keys]
            try:
                removed = indexed.delete(indexed.db_path(self.source_name(name)), folded, kind)
            except TableConfigError as e:
                raise Fatal(str(e)) from e
            found = found or bool(removed)
        return found

    def query(self, registry, maps, keys, opts, print_key):
        tables = [(kind, name, self.open(registry, kind, name, not opts.no_fold))
                  for kind, name in maps]
        found = False
        for key in keys:
            for kind, name, table in tables:
                try:
                    value = table.lookup(key)
                except TableRetry as e:
                    reason = str(e).removeprefix(f"{kind}:{name}: ")
                    raise Fatal(f"table {kind}:{name}: query error: {reason}") from e
                if value is None:
                    continue
                if value == "":  # a regexp rule without replacement text, say
                    self.warn(f"table {kind}:{name}: key {key}: empty string result is not allowed")
                    self.warn(f"table {kind}:{name} should return NO RESULT in case of NOT FOUND")
                found = True
                line = f"{key}{self.kv_separator}{value}" if print_key else value
                self.stdout.write(line + "\n")
                break
        return found

    def stdin_keys(self, opts):
        lines = self.stdin.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        lines = [line.rstrip("\r") for line in lines]
        if not (opts.body or opts.header):
            return lines
        head, body = message_parts(lines)
        return (head if opts.header else []) + (body if opts.body else [])

    # -- the command -------------------------------------------------------------
    def run(self, argv):
        try:
            return self._run(argv)
        except Fatal as e:
            self.stderr.write(f"{self.name}: fatal: {e}\n")
            return e.status
        except OSError as e:
            self.stderr.write(f"{self.name}: fatal: {e.filename or ''}: {e.strerror}\n")
            return 2

    def _run(self, argv):
        try:
            pairs, args = getopt.getopt(argv, OPTIONS)
        except getopt.GetoptError as e:
            raise Fatal(f"{e}; usage: {self.name} [-NbfhimnoprsuUvw] [-c config_dir] "
                        f"[-d key] [-q key] [map_type:]file...") from e
        opts = Options()
        for flag, value in pairs:
            opts.set(flag, value)
            if flag == "-v":
                self.verbose += 1
        if opts.base64:
            raise Fatal("-F (base64 values) is not supported")
        if sum(bool(x) for x in (opts.query is not None, opts.delete is not None,
                                 opts.show, opts.incremental)) > 1:
            raise Fatal("specify only one of -d, -i, -q or -s")
        if not args:
            raise Fatal(f"usage: {self.name} [options] [map_type:]file...")
        default_type = config_value(opts.config_dir, "default_database_type", "hash")
        maps = [self.split(arg, default_type) for arg in args]
        fold = not opts.no_fold
        if opts.query is not None:
            if opts.query == "-":
                found = self.query(self.registry(fold), maps, self.stdin_keys(opts), opts, True)
            else:
                found = self.query(self.registry(fold), maps, [opts.query], opts, False)
            return 0 if found else 1
        if opts.delete is not None:
            keys = self.stdin_keys(opts) if opts.delete == "-" else [opts.delete]
            return 0 if self.delete(maps, keys, opts) else 1
        if opts.show:
            registry = self.registry(fold)
            for kind, name in maps:
                self.dump(registry, kind, name, opts)
            return 0
        if opts.incremental:
            if len(maps) != 1:
                raise Fatal("-i requires exactly one table")
            self.incremental(*maps[0], opts)
            return 0
        for kind, name in maps:
            self.build(kind, name, opts)
        return 0


class Options:
    """The parsed command-line flags."""

    def __init__(self):
        self.config_dir = None
        self.query = self.delete = None
        self.no_fold = self.show = self.incremental = self.replace = False
        self.ignore_dups = self.default_mode = self.body = self.header = False
        self.base64 = False

    def set(self, flag, value):
        simple = {"-f": "no_fold", "-s": "show", "-i": "incremental", "-r": "replace",
                  "-w": "ignore_dups", "-p": "default_mode", "-b": "body", "-h": "header",
                  "-F": "base64"}
        if flag in simple:
            setattr(self, simple[flag], True)
        elif flag == "-c":
            self.config_dir = value
        elif flag == "-q":
            self.query = value
        elif flag == "-d":
            self.delete = value
        # -N -n -o -m -u -U -v: accepted, no effect (see the module docstring).


def message_parts(lines):
    """An RFC 5322 message as lines -> (logical header lines, body lines), for -h and -b.

    A header that continues on following lines is one key with embedded newlines.
    """
    headers, body, i = [], [], 0
    while i < len(lines):
        line = lines[i]
        if line == "":
            body = lines[i + 1:]
            break
        if line[0] in " \t" and headers:
            headers[-1] += "\n" + line
        elif ":" in line and not line[0].isspace():
            headers.append(line)
        else:
            body = lines[i:]  # not a header: the message has no (more) headers
            break
        i += 1
    return headers, body


def main(argv):
    """Entry point: ``argv`` without the program name; returns the exit status."""
    return Program().run(list(argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
