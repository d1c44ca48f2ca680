"""The main.cf parameters the queue manager reads, with Postfix's names and defaults."""

from pfx.plugin import Param, ParamTemplate

_DEF = "$default_"

QMGR_PARAMETERS = (
    # deferred mail and retries (qmgr_active.c, qmgr_message.c)
    Param("minimal_backoff_time", "300s", "time", min=1),
    Param("maximal_backoff_time", "4000s", "time", min=1),
    Param("queue_run_delay", "300s", "time", min=1),
    Param("maximal_queue_lifetime", "5d", "time", min=0, unit="d"),
    Param("bounce_queue_lifetime", "5d", "time", min=0, unit="d"),
    Param("delay_warning_time", "0h", "time", min=0, unit="h"),
    Param("transport_retry_time", "60s", "time", min=1),
    Param("defer_transports", "", "list"),
    # the active queue (leaky bucket)
    Param("qmgr_message_active_limit", "20000", "int", min=1),
    Param("qmgr_message_recipient_limit", "20000", "int", min=1),
    Param("qmgr_message_recipient_minimum", "10", "int", min=1),
    Param("qmgr_clog_warn_time", "300s", "time", min=0),
    # destination concurrency (slow start and feedback)
    Param("initial_destination_concurrency", "5", "int", min=1),
    Param("default_destination_concurrency_limit", "20", "int", min=0),
    Param("default_destination_concurrency_positive_feedback", "1"),
    Param("default_destination_concurrency_negative_feedback", "1"),
    Param("default_destination_concurrency_failed_cohort_limit", "1", "int", min=0),
    Param("default_destination_rate_delay", "0s", "time", min=0),
    Param("default_transport_rate_delay", "0s", "time", min=0),
    # recipients per delivery and per transport, message preemption
    Param("default_destination_recipient_limit", "50", "int", min=0),
    Param("default_recipient_limit", "20000", "int", min=1),
    Param("default_extra_recipient_limit", "1000", "int", min=1),
    Param("default_recipient_refill_limit", "100", "int", min=1),
    Param("default_recipient_refill_delay", "5s", "time", min=1),
    Param("default_delivery_slot_cost", "5", "int", min=0),
    Param("default_minimum_delivery_slots", "3", "int", min=0),
    Param("default_delivery_slot_discount", "50", "int", min=0, max=100),
    Param("default_delivery_slot_loan", "3", "int", min=0),
    # Postfix gives local its own defaults (one recipient per delivery, two at a time)
    Param("local_destination_concurrency_limit", "2", "int", min=0),
    Param("local_destination_recipient_limit", "1", "int", min=0),
    # per-transport overrides: one parameter per master.cf service name
    ParamTemplate("{service}_initial_destination_concurrency",
                  "$initial_destination_concurrency", "int", min=1),
    ParamTemplate("{service}_destination_concurrency_limit",
                  _DEF + "destination_concurrency_limit", "int", min=0),
    ParamTemplate("{service}_destination_concurrency_positive_feedback",
                  _DEF + "destination_concurrency_positive_feedback"),
    ParamTemplate("{service}_destination_concurrency_negative_feedback",
                  _DEF + "destination_concurrency_negative_feedback"),
    ParamTemplate("{service}_destination_concurrency_failed_cohort_limit",
                  _DEF + "destination_concurrency_failed_cohort_limit", "int", min=0),
    ParamTemplate("{service}_destination_rate_delay",
                  _DEF + "destination_rate_delay", "time", min=0),
    ParamTemplate("{service}_transport_rate_delay",
                  _DEF + "transport_rate_delay", "time", min=0),
    ParamTemplate("{service}_destination_recipient_limit",
                  _DEF + "destination_recipient_limit", "int", min=0),
    ParamTemplate("{service}_recipient_limit", _DEF + "recipient_limit", "int", min=1),
    ParamTemplate("{service}_extra_recipient_limit",
                  _DEF + "extra_recipient_limit", "int", min=1),
    ParamTemplate("{service}_recipient_refill_limit",
                  _DEF + "recipient_refill_limit", "int", min=1),
    ParamTemplate("{service}_recipient_refill_delay",
                  _DEF + "recipient_refill_delay", "time", min=1),
    ParamTemplate("{service}_delivery_slot_cost", _DEF + "delivery_slot_cost", "int", min=0),
    ParamTemplate("{service}_minimum_delivery_slots",
                  _DEF + "minimum_delivery_slots", "int", min=0),
    ParamTemplate("{service}_delivery_slot_discount",
                  _DEF + "delivery_slot_discount", "int", min=0, max=100),
    ParamTemplate("{service}_delivery_slot_loan", _DEF + "delivery_slot_loan", "int", min=0),
)
