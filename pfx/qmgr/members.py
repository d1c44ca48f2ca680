"""A request recipient's final deliveries: itself, or the members its expansion reached (pure).

local(8) may turn one queue-file recipient (an alias, an :include: list, a .forward)
into several final deliveries. Postfix logs one line per delivery, ``to=<member>,
orig_to=<alias>``, writes a bounce or defer log entry per failed member (so the notice
lists each member, "expanded from" the alias), and crosses the queue-file recipient off
only when no member deferred; if one did, the whole recipient is tried again later.
An agent reports this through RecipientStatus.members; without members a status
stands for itself, so agents that never expand need nothing.
"""

import attrs


def entries(status) -> tuple:
    """What to log and record for one request recipient's status: the members, each
    carrying the request recipient's orig, ORCPT, NOTIFY and queue-file offset, or
    the status itself."""
    members = getattr(status, "members", ())
    if not members:
        return (status,)
    parent = status.recipient
    orig = parent.orig or parent.address
    return tuple(attrs.evolve(m, recipient=attrs.evolve(parent, address=m.recipient.address,
                                                        orig=orig))
                 for m in members)


def expand(statuses) -> list:
    """[(status, entries(status)), ...] in order."""
    return [(status, entries(status)) for status in statuses]


def done(parts, recorded) -> bool:
    """Whether the request recipient may be crossed off: every entry delivered, or
    bounced with its bounce-log entry on disk (``recorded(entry)``)."""
    return all(e.action == "sent" or (e.action == "bounced" and recorded(e)) for e in parts)
