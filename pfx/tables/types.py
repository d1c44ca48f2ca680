"""The built-in ITableType providers: cheap to import, each loads its module in open().

twisted/plugins/pfx_tables.py makes one module-level instance per type; a third-party
type can use the same class.
"""

import importlib

from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.interfaces import ITableType


@implementer(IPlugin, ITableType)
class LazyTableType:
    """A table type whose code lives in ``module``; ``factory(name, flags)`` opens a table."""

    def __init__(self, name, description, module, factory):
        self.name = name
        self.description = description
        self._module = module
        self._factory = factory

    def open(self, name, flags):
        opener = getattr(importlib.import_module(self._module), self._factory)
        return opener(name, flags)

    def __repr__(self):
        return f"<table type {self.name}: {self._module}.{self._factory}>"


# (name, description, module, factory): the single list of built-in types.
BUILTIN = (
    ("hash", "indexed file name.db built by postmap (SQLite format)",
     "pfx.tables.indexed", "open_hash"),
    ("btree", "indexed file name.db built by postmap, key order (SQLite format)",
     "pfx.tables.indexed", "open_btree"),
    ("texthash", "postmap source file read into memory",
     "pfx.tables.texthash", "open_texthash"),
    ("inline", "inline:{ key=value, ... } written in main.cf",
     "pfx.tables.inline", "open_inline"),
    ("static", "static:value, the same answer for every key",
     "pfx.tables.static", "open_static"),
    ("regexp", "POSIX regular expression table, regexp_table(5)",
     "pfx.tables.regexp", "open_regexp"),
    ("pcre", "Perl-compatible regular expression table, pcre_table(5)",
     "pfx.tables.pcre", "open_pcre"),
    ("cidr", "IPv4/IPv6 network table, cidr_table(5)",
     "pfx.tables.cidr", "open_cidr"),
    ("environ", "this process's environment",
     "pfx.tables.environ", "open_environ"),
    ("unix", "unix:passwd.byname and unix:group.byname",
     "pfx.tables.unix", "open_unix"),
    ("fail", "a table whose lookups always fail soft",
     "pfx.tables.fail", "open_fail"),
    ("unionmap", "unionmap:{t1, t2}: all answers, comma-joined",
     "pfx.tables.unionmap", "open_unionmap"),
    ("pipemap", "pipemap:{t1, t2}: each answer is the next key",
     "pfx.tables.unionmap", "open_pipemap"),
    ("proxy", "proxy:type:name, passed through to the inner table",
     "pfx.tables.proxy", "open_proxy"),
    ("sqlite", "SQLite query table, sqlite_table(5)",
     "pfx.tables.sqlite", "open_sqlite"),
)


def builtin_types():
    """{name: provider} for every built-in type, without going through twisted.plugin."""
    return {name: LazyTableType(name, desc, module, factory)
            for name, desc, module, factory in BUILTIN}
