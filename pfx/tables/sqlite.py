"""``sqlite:/etc/pfx/file.cf`` tables (sqlite_table(5)): a config file naming a query.

The file has ``name = value`` lines: ``dbpath``, ``query`` (or the legacy ``table``,
``select_field``, ``where_field``, ``additional_conditions``), ``result_format``,
``domain`` (a list of domain names; files and tables in that list are not supported
yet) and ``expansion_limit``. Query expansion: ``%%``, ``%s``, ``%u``, ``%d``,
``%1``..``%9``, each SQL-quoted (``'`` doubled) as sqlite3_mprintf("%q") does; a key
that cannot supply ``%d``/``%1``.. suppresses the query (not found). The database is
opened read-only; a failing query is a soft error.
"""

import sqlite3

from zope.interface import implementer

from pfx.errors import TableConfigError, TableRetry
from pfx.interfaces import ILookupTable
from pfx.tables.base import flags_or_default, fold_key, logical_lines, read_text


class _Suppressed(Exception):
    """The key cannot fill the template: no query, no result."""


def read_cf(path):
    """Postfix cfg_parser format -> {name: value}; the last setting wins."""
    settings = {}
    for number, line in logical_lines(read_text(path)):
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise TableConfigError(f"{path}, line {number}: missing '=' after attribute name")
        settings[name.strip()] = value.strip()
    return settings


def _split(key):
    local, at, domain = key.rpartition("@")
    return (local, domain) if at else (key, None)


def expand(template, key, quote, upper_key=None):
    """Expand %-escapes of ``template`` against ``key`` (see the module docstring).

    ``upper_key``: for result_format, where %S/%U/%D/%1.. name the lookup key and
    %s/%u/%d the result value.
    """
    out, i = [], 0
    while i < len(template):
        ch = template[i]
        if ch != "%" or i + 1 >= len(template):
            out.append(ch)
            i += 1
            continue
        code, i = template[i + 1], i + 2
        source = key
        if upper_key is not None and (code in "SUD" or code.isdigit()):
            source, code = upper_key, code.lower()
        local, domain = _split(source)
        if code == "%":
            out.append("%")
        elif code == "s":
            out.append(quote(source))
        elif code == "u":
            if domain is not None and not local:
                raise _Suppressed()
            out.append(quote(local))
        elif code == "d":
            if not domain:
                raise _Suppressed()
            out.append(quote(domain))
        elif code in "123456789":
            labels = (domain or "").split(".") if domain else []
            n = int(code)
            if n > len(labels):
                raise _Suppressed()
            out.append(quote(labels[-n]))
        else:
            raise TableConfigError(f'invalid expansion "%{code}" in "{template}"')
    return "".join(out)


def _sql_quote(text):
    return text.replace("'", "''")


@implementer(ILookupTable)
class SqliteTable:
    def __init__(self, path, flags):
        settings = read_cf(path)
        self.path = path
        self.fold = flags_or_default(flags).fold
        self.dbpath = settings.get("dbpath")
        if not self.dbpath:
            raise TableConfigError(f"{path}: missing dbpath")
        self.query = settings.get("query") or self._legacy_query(settings)
        self.result_format = settings.get("result_format", "%s")
        self.domains = {d.lower() for d in settings.get("domain", "").replace(",", " ").split()}
        try:
            self.limit = int(settings.get("expansion_limit", "0"))
        except ValueError:
            raise TableConfigError(f"{path}: bad expansion_limit") from None
        for template in (self.query, self.result_format):
            try:
                # Refuse a bad %-escape now, not at the first lookup.
                expand(template, "u@a.b.c.d.e.f.g.h.i", str, upper_key="u@a.b.c.d.e.f.g.h.i")
            except _Suppressed:
                pass
        try:
            self.conn = sqlite3.connect(f"file:{self.dbpath}?mode=ro", uri=True,
                                        check_same_thread=False)
        except sqlite3.Error as e:
            raise TableConfigError(f"{path}: open database {self.dbpath}: {e}") from e

    def _legacy_query(self, settings):
        try:
            query = (f"SELECT {settings['select_field']} FROM {settings['table']} "
                     f"WHERE {settings['where_field']} = '%s'")
        except KeyError as e:
            raise TableConfigError(f"{self.path}: missing query (or legacy {e.args[0]})") from None
        extra = settings.get("additional_conditions")
        return f"{query} {extra}" if extra else query

    def lookup(self, key):
        if self.fold:
            key = fold_key(key)
        if self.domains:
            local, domain = _split(key)
            if not local or domain is None or domain.lower() not in self.domains:
                return None
        try:
            sql = expand(self.query, key, _sql_quote)
        except _Suppressed:
            return None
        try:
            rows = self.conn.execute(sql).fetchall()
        except sqlite3.Error as e:
            raise TableRetry(f"sqlite:{self.path}: query failed: {e}") from e
        results = []
        for row in rows:
            for value in row:
                if value is None:
                    continue
                try:
                    results.append(expand(self.result_format, str(value), str, upper_key=key))
                except _Suppressed:
                    continue
                if self.limit and len(results) > self.limit:
                    raise TableRetry(f"sqlite:{self.path}: expansion limit exceeded for {key!r}")
        return ",".join(results) if results else None


def open_sqlite(name, flags):
    return SqliteTable(name, flags)
