"""``unix:passwd.byname`` and ``unix:group.byname`` (Postfix's dict_unix), via pwd/grp."""

from zope.interface import implementer

from pfx.errors import TableConfigError
from pfx.interfaces import ILookupTable
from pfx.tables.base import flags_or_default, fold_key


@implementer(ILookupTable)
class PasswdTable:
    def __init__(self, fold=True):
        self.fold = fold

    def lookup(self, key):
        import pwd

        try:
            pw = pwd.getpwnam(fold_key(key) if self.fold else key)
        except (KeyError, ValueError):
            return None
        return ":".join([pw.pw_name, pw.pw_passwd, str(pw.pw_uid), str(pw.pw_gid),
                         pw.pw_gecos, pw.pw_dir, pw.pw_shell])


@implementer(ILookupTable)
class GroupTable:
    def __init__(self, fold=True):
        self.fold = fold

    def lookup(self, key):
        import grp

        try:
            gr = grp.getgrnam(fold_key(key) if self.fold else key)
        except (KeyError, ValueError):
            return None
        return ":".join([gr.gr_name, gr.gr_passwd, str(gr.gr_gid), ",".join(gr.gr_mem)])


_MAPS = {"passwd.byname": PasswdTable, "group.byname": GroupTable}


def open_unix(name, flags):
    cls = _MAPS.get(name)
    if cls is None:
        raise TableConfigError(f"unknown table: unix:{name}")
    return cls(fold=flags_or_default(flags).fold)
