"""What plugin authors use besides the interfaces: Param declarations and the Runtime.

A plugin declares each main.cf parameter it reads once, as a Param in its
``parameters`` tuple; pfx builds ``postconf -d``, the unknown-parameter warnings and
the type and range checks from those declarations.
"""

from typing import Any, Callable

import attrs
from attrs import field
from attrs.validators import in_

#: The value types a parameter can have (Postfix's mail_conf_*.c families).
#: str: $-expanded text; raw: text taken literally (no $ expansion, e.g. command lines);
#: bool: yes/no; int: integer; time: a number with an optional unit s m h d w;
#: size: a byte count; list: comma/space separated elements, kept as text.
KINDS = ("str", "raw", "bool", "int", "time", "size", "list")


@attrs.frozen
class Param:
    """One main.cf parameter.

    ``default`` is the text Postfix documents (it may contain $references), or a callable
    ``f(lookup) -> str`` for values computed from the host, where ``lookup(name)`` returns
    another parameter's expanded value (myhostname from the host's FQDN, mydomain from
    myhostname, mynetworks from the interfaces).
    """

    name: str
    default: Any = ""
    kind: str = field(default="str", validator=in_(KINDS))
    min: int | None = None
    max: int | None = None
    unit: str = "s"  # the default unit of a time value
    doc: str = ""

    @property
    def computed(self) -> bool:
        return callable(self.default)


@attrs.frozen
class ParamTemplate:
    """A family of parameters named after master.cf services, e.g.
    ``{service}_destination_concurrency_limit`` whose default is
    ``$default_destination_concurrency_limit``. One Param exists per service name."""

    pattern: str
    default: str
    kind: str = field(default="str", validator=in_(KINDS))
    min: int | None = None
    max: int | None = None
    unit: str = "s"

    def for_service(self, service: str) -> Param:
        return Param(self.pattern.format(service=service), self.default, self.kind,
                     self.min, self.max, self.unit)


@attrs.frozen
class Runtime:
    """The reactor-facing collaborators a service or agent receives, built once by the
    application (pfx.runtime.build) and by tests from task.Clock and friends.

    reactor: provides IReactorTime/IReactorTCP/...; clock: IReactorTime (usually the
    reactor); resolver: twisted.names IResolver or None; run_blocking(f, *a, **kw) ->
    Deferred that runs blocking file work off the reactor thread; log: a
    pfx.runtime.logging.MailLog; tables: the lookup-table registry
    (``tables.open("hash:/etc/pfx/aliases")``); require(interface): the shared
    component offered for an interface (cleanup's IMailSubmitter, for an agent that
    forwards mail), raising LookupError when no master.cf row offers it;
    agent_for(service): the IDeliveryAgent of a master.cf service, or None (local's
    mailbox_transport hands recipients to another agent this way).
    """

    reactor: Any
    clock: Any
    resolver: Any = None
    run_blocking: Callable | None = None
    log: Any = None
    tables: Any = None
    require: Callable | None = None
    agent_for: Callable | None = None


@attrs.frozen
class TableFlags:
    """How a table is opened (the parts of Postfix's DICT_FLAG_* that pfx honours).

    ``fold``: fold lookup keys to lower case in the types that fold (hash, btree,
    texthash, inline, unix, environ); pattern tables ignore it. ``opener``: the registry's
    ``open_table`` bound to its installed types, for unionmap/pipemap/proxy, which
    open other tables. ``warn``: where syntax warnings go (default: logging).
    """

    fold: bool = True
    opener: object = None
    warn: object = None
