"""The main.cf parameters the bounce program reads, with Postfix 3.7's names and defaults."""

from pfx.plugin import Param

PARAMETERS = (
    Param("bounce_size_limit", "50000", "int", min=1),
    Param("bounce_template_file", ""),
    Param("notify_classes", "resource, software", "list"),
    Param("bounce_notice_recipient", "postmaster"),
    Param("2bounce_notice_recipient", "postmaster"),
    Param("delay_notice_recipient", "postmaster"),
    Param("double_bounce_sender", "double-bounce"),
    # which master.cf row provides the notifier (the other two are Postfix's aliases)
    Param("bounce_service_name", "bounce"),
    Param("defer_service_name", "defer"),
    Param("trace_service_name", "trace"),
)
