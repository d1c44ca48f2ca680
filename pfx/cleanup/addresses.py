"""cleanup's envelope pass: canonical addresses, duplicate recipients folded (pure).

Envelope addresses always get trivial-rewrite's "local" context (pfx.address.rewrite:
``bob`` -> ``bob@$myorigin``, ``site!bob`` -> ``bob@site``, ...). canonical_maps,
masquerading and header rewriting are not done yet.
"""

import attrs

from pfx.address.rewrite import CanonSettings, canonicalize
from pfx.envelope import Envelope


class DuplicateFilter:
    """Postfix's been_here for recipients: case-folded, remembers at most ``limit``
    distinct recipients (0: no limit); past the limit, duplicates get through."""

    def __init__(self, limit: int):
        self.limit = limit
        self._seen = set()

    def first_time(self, rcpt) -> bool:
        # DSN settings are part of the key, as in cleanup_out_recipient(): the same
        # address with different NOTIFY or ORCPT is a different request.
        key = (rcpt.address.lower(), rcpt.orcpt, rcpt.notify)
        if key in self._seen:
            return False
        if not self.limit or len(self._seen) < self.limit:
            self._seen.add(key)
        return True


def rewrite_envelope(envelope: Envelope, canon: CanonSettings, *, keep_original: bool = True,
                     duplicate_limit: int = 1000) -> Envelope:
    """The envelope as it goes into the queue file: qualified, without duplicates.

    A recipient whose address changes keeps the address it arrived with as ``orig``
    (enable_original_recipient), unless it already carries one.
    """
    dups = DuplicateFilter(duplicate_limit)
    recipients = []
    for rcpt in envelope.recipients:
        address = canonicalize(rcpt.address, canon)
        if address != rcpt.address:
            orig = rcpt.orig if rcpt.orig is not None or not keep_original else rcpt.address
            rcpt = attrs.evolve(rcpt, address=address, orig=orig)
        if dups.first_time(rcpt):
            recipients.append(rcpt)
    return attrs.evolve(envelope, sender=canonicalize(envelope.sender, canon),
                        recipients=tuple(recipients))
