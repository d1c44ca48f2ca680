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

# Address resolution (trivial-rewrite's parameters; pfx.address.settings.RESOLVE_PARAMETERS
# lists them). The values are Postfix 3.7's as ``postconf -x`` prints them at
# compatibility_level 3.6; the ones already in pfx.config.core are not repeated.
RESOLVE_PARAMS = (
    Param("append_at_myorigin", "yes", "bool"),
    # Postfix: ${{$compatibility_level} <level {1} ? {yes} : {no}} (as cleanup declares it)
    Param("append_dot_mydomain", "no", "bool"),
    Param("swap_bangpath", "yes", "bool"),
    Param("allow_percent_hack", "yes", "bool"),
    Param("remote_header_rewrite_domain", ""),
    Param("virtual_maps", ""),
    Param("virtual_alias_maps", "$virtual_maps"),
    Param("virtual_mailbox_maps", ""),
    Param("virtual_alias_domains", "$virtual_alias_maps", "list"),
    Param("virtual_mailbox_domains", "$virtual_mailbox_maps", "list"),
    Param("local_transport", "local:$myhostname"),
    Param("virtual_transport", "virtual"),
    Param("relay_transport", "relay"),
    Param("default_transport", "smtp"),
    Param("relayhost", ""),
    Param("sender_dependent_relayhost_maps", ""),
    Param("sender_dependent_default_transport_maps", ""),
    Param("empty_address_relayhost_maps_lookup_key", "<>"),
    Param("empty_address_default_transport_maps_lookup_key", "<>"),
    Param("transport_maps", ""),
    Param("relocated_maps", ""),
    Param("empty_address_recipient", "MAILER-DAEMON"),
    Param("show_user_unknown_table_name", "yes", "bool"),
    Param("resolve_dequoted_address", "yes", "bool"),
    Param("resolve_null_domain", "no", "bool"),
    Param("resolve_numeric_domain", "no", "bool"),
    Param("allow_min_user", "no", "bool"),
)

# What the delivery side of qmgr reads: how long an agent may take, and who is never
# mailed. In Postfix every delivery agent process is ended by its daemon_timeout
# watchdog (18000s); {service}_time_limit (default $command_time_limit) only limits the
# external commands of pipe(8), which the pipe agent enforces itself. pfx gives each
# deliver() call the larger of the two, so a slow 50 MB SMTP transfer is not cut at
# 1000s and a pipe command's own limit fires first, with its own text.
DELIVERY_PARAMS = (
    Param("daemon_timeout", "18000s", "time", min=1),
    Param("command_time_limit", "1000s", "time", min=1),
    ParamTemplate("{service}_time_limit", "$command_time_limit", "time", min=1),
    Param("double_bounce_sender", "double-bounce"),
    # where a content_filter without a destination sends mail (empty: the recipient's
    # domain, else $myhostname)
    Param("default_filter_nexthop", ""),
)
