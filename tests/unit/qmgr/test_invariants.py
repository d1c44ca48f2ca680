"""Random workloads (fixed seeds) keep the scheduler's books straight at every step."""

import random
from collections import Counter

import pytest

from pfx.qmgr.policy import TransportPolicy
from pfx.qmgr.values import Outcome, Routed

from qmgr_sim import make_scheduler

TRANSPORTS = (TransportPolicy("smtp", process_limit=7, recipient_limit=4),
              TransportPolicy("lmtp", process_limit=3, concurrency_limit=2),
              TransportPolicy("local", concurrency_limit=2, recipient_limit=1))


@pytest.mark.parametrize("seed", range(8))
def test_every_recipient_is_handed_out_exactly_once(seed):
    rng = random.Random(seed)
    s, clock = make_scheduler(transports=TRANSPORTS, active_limit=30, recipient_limit=200)
    handed, completed, flight = Counter(), Counter(), Counter()
    added = total = deferred = 0
    sick = {f"d{i}.example" for i in range(3)}  # always fail to connect

    def absorb(progress):
        nonlocal deferred
        deferred += len(progress.deferred)
        for d in progress.deferred:
            handed[d.recipient] += 1
        for message_id in progress.completed:
            completed[message_id] += 1
            s.message_finished(message_id)

    def finish(delivery, outcome):
        flight[(delivery.transport, delivery.destination)] -= 1
        absorb(s.delivery_done(delivery, outcome))

    for step in range(400):
        while added < 150 and s.has_room() and rng.random() < 0.5:
            rcpts = []
            for _ in range(rng.randint(1, 9)):
                transport = rng.choice(("smtp", "smtp", "lmtp", "local"))
                nexthop = f"d{rng.randint(0, 9)}.example"
                address = f"u{rng.randint(0, 3)}@{nexthop}"
                rcpts.append(Routed(transport, nexthop, address, (added, len(rcpts))))
            total += len(rcpts)
            absorb(s.add_message(added, clock.seconds(), rcpts))
            added += 1
        for delivery in s.deliveries():
            key = (delivery.transport, delivery.destination)
            flight[key] += 1
            assert flight[key] <= s.window(*key)
            assert s.busy(delivery.transport) <= s.config.policy(delivery.transport).process_limit
            for item in delivery.recipients:
                handed[item] += 1
            if delivery.destination in sick and rng.random() < 0.9:
                outcome = Outcome.site_failed("4.4.1", "connect to x: Connection refused")
            elif rng.random() < 0.01:
                outcome = Outcome.transport_failed()
            else:
                outcome = Outcome.ok()
            clock.callLater(rng.randint(1, 40), finish, delivery, outcome)
        assert s.recipient_count >= 0 and s.in_flight == sum(flight.values())
        clock.advance(rng.randint(1, 20))
        if rng.random() < 0.02:
            s.flush_dead()
    while clock.getDelayedCalls() or s.in_flight:
        clock.advance(10)
        for delivery in s.deliveries():
            for item in delivery.recipients:
                handed[item] += 1
            flight[(delivery.transport, delivery.destination)] += 1
            clock.callLater(1, finish, delivery, Outcome.ok())
    assert added == 150
    assert set(handed.values()) == {1} and len(handed) == total
    assert 0 < deferred < total  # the sick destinations did die
    assert completed == Counter(range(150))
    assert (s.message_count, s.recipient_count, s.in_flight) == (0, 0, 0)
