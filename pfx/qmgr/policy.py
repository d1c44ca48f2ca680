"""Frozen scheduler settings built once from main.cf values and master.cf maxproc (pure)."""

from collections.abc import Callable, Mapping

import attrs

from pfx.qmgr.window import Feedback


@attrs.frozen
class TransportPolicy:
    """What the scheduler needs to know about one master.cf transport."""

    name: str
    process_limit: int = 100  # master.cf maxproc; 0 means no limit
    initial_concurrency: int = 5
    concurrency_limit: int = 20  # per destination; 0 means no limit
    positive_feedback: Feedback = Feedback(1)
    negative_feedback: Feedback = Feedback(1)
    failed_cohort_limit: int = 1
    recipient_limit: int = 50  # per delivery; 1 makes each recipient its own destination
    slot_cost: int = 5  # 0 turns message preemption off
    minimum_slots: int = 3
    destination_rate_delay: float = 0  # seconds between deliveries to one destination
    transport_rate_delay: float = 0  # seconds between deliveries over the transport

    @classmethod
    def from_settings(cls, get: Callable, name: str, process_limit: int) -> "TransportPolicy":
        """Read ``<name>_...`` parameters through ``get(name) -> typed value``."""
        def p(suffix):
            return get(f"{name}_{suffix}")
        return cls(
            name=name,
            process_limit=process_limit,
            initial_concurrency=int(p("initial_destination_concurrency")),
            concurrency_limit=int(p("destination_concurrency_limit")),
            positive_feedback=Feedback.parse(p("destination_concurrency_positive_feedback")),
            negative_feedback=Feedback.parse(p("destination_concurrency_negative_feedback")),
            failed_cohort_limit=int(p("destination_concurrency_failed_cohort_limit")),
            recipient_limit=int(p("destination_recipient_limit")),
            slot_cost=int(p("delivery_slot_cost")),
            minimum_slots=int(p("minimum_delivery_slots")),
            destination_rate_delay=int(p("destination_rate_delay")),
            transport_rate_delay=int(p("transport_rate_delay")),
        )


@attrs.frozen
class SchedulerConfig:
    """Active-queue bounds plus one TransportPolicy per transport."""

    active_limit: int = 20000  # qmgr_message_active_limit
    recipient_limit: int = 20000  # qmgr_message_recipient_limit
    recipient_minimum: int = 10  # qmgr_message_recipient_minimum
    defer_transports: frozenset = attrs.field(default=frozenset(), converter=frozenset)
    recipient_delimiter: str = ""  # local queues group user+ext with user
    # a dead destination rests minimal_backoff_time (qmgr_queue_throttle), a dead
    # transport transport_retry_time (qmgr_transport_throttle)
    dead_destination_time: int = 300
    transport_retry_time: int = 60
    transports: Mapping[str, TransportPolicy] = attrs.field(factory=dict, eq=False)
    default_policy: TransportPolicy = TransportPolicy("default")

    def policy(self, transport: str) -> TransportPolicy:
        """A transport's policy; one not in master.cf gets the defaults under its name."""
        found = self.transports.get(transport)
        return found if found is not None else attrs.evolve(self.default_policy, name=transport)

    @classmethod
    def from_settings(cls, get: Callable, maxprocs: Mapping[str, int]) -> "SchedulerConfig":
        """``maxprocs`` maps each master.cf transport name to its maxproc (0: unlimited)."""
        transports = {name: TransportPolicy.from_settings(get, name, limit)
                      for name, limit in maxprocs.items()}
        return cls(
            active_limit=int(get("qmgr_message_active_limit")),
            recipient_limit=int(get("qmgr_message_recipient_limit")),
            recipient_minimum=int(get("qmgr_message_recipient_minimum")),
            defer_transports=frozenset(get("defer_transports")),
            dead_destination_time=int(get("minimal_backoff_time")),
            transport_retry_time=int(get("transport_retry_time")),
            # declared by the address layer; Settings.get gives "" for an unknown name
            recipient_delimiter=str(get("recipient_delimiter") or ""),
            transports=transports,
        )

