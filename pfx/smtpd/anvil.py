"""Per-client event rates, anvil(8)'s job in Postfix: counters of recent events per
client address, and the message and recipient rate limits smtpd enforces with them.

smtpd_client_message_rate_limit counts MAIL FROM commands and
smtpd_client_recipient_rate_limit RCPT TO commands per client address in the last
anvil_rate_time_unit, whether or not they are accepted (as Postfix counts them); past
the limit the command gets Postfix's 450 4.7.1 and a warning is logged. Clients in
smtpd_client_event_limit_exceptions are not limited. The counters live in the smtpd
service's factory, so they span that service's connections as anvil's do
(per service, per client address). The connection count and rate are counted by the
factory itself (service.py); the AUTH rate by sasl.py with a RateCounter.

Security: the keys are client addresses (not client text); memory stays bounded by the
clients seen in one time unit (RateCounter forgets idle ones past 10000 clients).
"""

import collections

from pfx.dsn import Dsn, Reply


class RateCounter:
    """Events per client address in the last ``unit`` seconds."""

    def __init__(self, clock, unit: float):
        self.clock, self.unit = clock, unit
        self._times = collections.defaultdict(collections.deque)

    def hit(self, addr: str) -> int:
        """Count one event now -> the events of the last ``unit`` seconds, this one included."""
        now, times = self.clock.seconds(), self._times[addr]
        times.append(now)
        while times and times[0] <= now - self.unit:
            times.popleft()
        if len(self._times) > 10000:  # bounded memory: forget clients with nothing recent
            for a in [a for a, t in self._times.items() if not t or t[-1] <= now - self.unit]:
                del self._times[a]
        return len(times)


class EventLimits:
    """The message and recipient rate limits of one smtpd service (0: no limit)."""

    def __init__(self, clock, unit: float, message_limit: int, recipient_limit: int, exceptions, service: str):
        self.message_limit, self.recipient_limit = message_limit, recipient_limit
        self.exceptions, self.service = exceptions, service
        self._mail = RateCounter(clock, unit)
        self._rcpt = RateCounter(clock, unit)

    def mail(self, name: str, addr: str, log) -> Reply | None:
        """A MAIL FROM from ``name[addr]``: None, or the refusal when it is over the message rate."""
        count = self._over(self._mail, self.message_limit, name, addr)
        if count is None:
            return None
        log.warning(f"Message delivery request rate limit exceeded: {count} from {name}[{addr}] "
                    f"for service {self.service}")
        return Reply(450, Dsn("4.7.1"), f"Error: too much mail from {addr}")

    def rcpt(self, name: str, addr: str, log) -> Reply | None:
        """A RCPT TO from ``name[addr]``: None, or the refusal when it is over the recipient rate."""
        count = self._over(self._rcpt, self.recipient_limit, name, addr)
        if count is None:
            return None
        log.warning(f"Recipient address rate limit exceeded: {count} from {name}[{addr}] for service {self.service}")
        return Reply(450, Dsn("4.7.1"), f"Error: too many recipients from {addr}")

    def _over(self, counter, limit, name, addr):
        if not limit or self.exceptions.match(addr, name):
            return None
        count = counter.hit(addr)
        return count if count > limit else None
