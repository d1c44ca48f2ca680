"""One delivery: call the agent under a time limit and check its answer (Deferreds only)."""

# In Postfix the agents cross recipients off; in pfx they only answer, and the
# service writes the D records and bounce/defer logs (DESIGN.md's one deviation).
# Everything an agent can get wrong -- an exception, an errback, silence, a result of
# the wrong shape -- becomes the same thing: every recipient of the delivery deferred
# with "unknown mail transport error", as qmgr_deliver.c does when an agent crashes.

import io

import attrs
from twisted.internet import defer

from pfx.dsn import Dsn
from pfx.envelope import DeliveryResult, RecipientStatus
from pfx.qmgr.values import Outcome

UNKNOWN_ERROR = "unknown mail transport error"
UNAVAILABLE = "mail transport unavailable"
CRASH_DSN = Dsn("4.3.0")


class BadAnswer(Exception):
    """The agent's result does not have one status per recipient, in order."""


def call_agent(agent, request, clock, time_limit: float):
    """-> Deferred[DeliveryResult]; fails with defer.TimeoutError after ``time_limit``."""
    d = defer.maybeDeferred(agent.deliver, request)
    if time_limit > 0 and not d.called:
        d.addTimeout(time_limit, clock)
    return d


def check_answer(result, recipients) -> list[RecipientStatus]:
    """The statuses, each carrying our own Recipient (with its record offset)."""
    if not isinstance(result, DeliveryResult):
        raise BadAnswer(f"agent returned {type(result).__name__}, not a DeliveryResult")
    statuses = list(result.statuses)
    if len(statuses) != len(recipients):
        raise BadAnswer(f"agent returned {len(statuses)} statuses for "
                        f"{len(recipients)} recipients")
    out = []
    for ours, status in zip(recipients, statuses):
        if not isinstance(status, RecipientStatus):
            raise BadAnswer(f"agent returned {type(status).__name__} as a status")
        if status.recipient.address.lower() != ours.address.lower():
            raise BadAnswer(f"status for <{status.recipient.address}> where "
                            f"<{ours.address}> was expected")
        out.append(attrs.evolve(status, recipient=ours))  # every other field as answered
    return out


def crash_statuses(recipients, text=UNKNOWN_ERROR, relay="none") -> list[RecipientStatus]:
    return [RecipientStatus(r, "deferred", CRASH_DSN, text, relay) for r in recipients]


def outcome_of(statuses) -> Outcome:
    """Scheduler feedback: a delivery where every recipient got a 4.4.x (network or
    routing: no connection) counts against the destination, anything else for it."""
    # the contract has no "site failed" flag; 4.4.x is what smtp/lmtp give when they
    # cannot connect or the handshake fails, which is when Postfix's agents set it
    if statuses and all(s.action == "deferred" and s.dsn.code.startswith("4.4.")
                        for s in statuses):
        return Outcome.site_failed(statuses[0].dsn, statuses[0].text or "no connection")
    return Outcome.ok()


class _Content(io.RawIOBase):
    """A queue file's content; closing it closes the file."""

    def __init__(self, reader):
        self._reader = reader
        self._stream = reader.open_content()

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._stream.readinto(buffer)

    def close(self):
        if not self.closed:
            self._stream.close()
            self._reader.close()
        super().close()


def content_opener(open_reader):
    """``open_content`` for a DeliveryRequest: each call opens the file afresh."""
    def open_content():
        return io.BufferedReader(_Content(open_reader()), 65536)
    return open_content
