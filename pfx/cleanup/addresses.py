"""cleanup's envelope pass: canonical addresses, duplicate recipients folded (pure).

Envelope addresses always get trivial-rewrite's "local" context (pfx.address.rewrite:
``bob`` -> ``bob@$myorigin``, ``site!bob`` -> ``bob@site``, ...), then, as in
cleanup_envelope.c and cleanup_out_recipient(): sender/recipient canonical maps,
canonical_maps and masquerading (per their classes), recipient_bcc_maps on the
rewritten recipient, virtual alias expansion, and de-duplication. sender_bcc_maps and
always_bcc recipients come last, with NOTIFY=NEVER (Postfix's cleanup_addr_bcc).
mapping.MappingError (a table that failed soft, a loop) reaches the caller.
"""

import attrs

from pfx.address.rewrite import CanonSettings, canonicalize
from pfx.cleanup.mapping import (
    Mappings, bcc_lookup, expand_virtual, rewrite_recipient, rewrite_sender,
)
from pfx.envelope import Envelope, Recipient


class DuplicateFilter:
    """Postfix's been_here for recipients: case-folded, remembers at most ``limit``
    distinct recipients (0: no limit); past the limit, duplicates get through."""

    def __init__(self, limit: int):
        self.limit = limit
        self._seen = set()

    def first_time(self, rcpt) -> bool:
        # DSN settings and the original recipient are part of the key, as in
        # cleanup_out_recipient(): the same address with different NOTIFY, ORCPT or
        # original recipient (two aliases that expand to it) is a different request.
        orig = rcpt.orig if rcpt.orig is not None else rcpt.address
        key = (rcpt.address.lower(), orig.lower(), rcpt.orcpt, rcpt.notify)
        if key in self._seen:
            return False
        if not self.limit or len(self._seen) < self.limit:
            self._seen.add(key)
        return True


def rewrite_envelope(envelope: Envelope, canon: CanonSettings, *, keep_original: bool = True,
                     duplicate_limit: int = 1000, mappings: Mappings = Mappings(),
                     queue_id: str = "NOQUEUE", warn=None) -> Envelope:
    """The envelope as it goes into the queue file: qualified, mapped, without duplicates.

    A recipient whose address changes keeps the address it arrived with as ``orig``
    (enable_original_recipient), unless it already carries one; every address a
    virtual alias expands to shares that ``orig`` (X-Original-To, DSN).
    """
    dups = DuplicateFilter(duplicate_limit)
    recipients, bccs = [], []

    def out(rcpt, address):
        for new in expand_virtual(address, mappings, queue_id):
            if new != rcpt.address:
                orig = rcpt.orig if rcpt.orig is not None or not keep_original else rcpt.address
                new_rcpt = attrs.evolve(rcpt, address=new, orig=orig)
            else:
                new_rcpt = rcpt
            if dups.first_time(new_rcpt):
                recipients.append(new_rcpt)

    sender = canonicalize(envelope.sender, canon)
    sender = rewrite_sender(sender, mappings, queue_id, warn=warn)
    for rcpt in envelope.recipients:
        address = canonicalize(rcpt.address, canon)
        address = rewrite_recipient(address, mappings, queue_id, warn=warn)
        bcc = bcc_lookup(mappings.recipient_bcc_maps, address, mappings,
                         "recipient_bcc_maps", queue_id)
        if bcc:
            bccs.append(bcc)
        out(rcpt, address)
    bcc = bcc_lookup(mappings.sender_bcc_maps, sender, mappings, "sender_bcc_maps", queue_id)
    if bcc:
        bccs.append(bcc)
    if mappings.always_bcc:
        bccs.append(mappings.always_bcc)
    for bcc in bccs:
        add_bcc(bcc, canon, mappings, queue_id, out, warn)
    return attrs.evolve(envelope, sender=sender, recipients=tuple(recipients))


def add_bcc(address, canon, mappings, queue_id, out, warn=None):
    """One bcc recipient: rewritten like a recipient, expanded, NOTIFY=NEVER."""
    bcc = canonicalize(address, canon)
    bcc = rewrite_recipient(bcc, mappings, queue_id, warn=warn)
    out(Recipient(bcc, notify=frozenset({"NEVER"})), bcc)
