"""cleanup's main.cf parameters, Postfix's names and defaults (cheap: the plugin imports it)."""

from pfx.plugin import Param

PARAMETERS = (
    Param("always_add_missing_headers", "no", "bool"),
    Param("local_header_rewrite_clients", "permit_inet_interfaces", "list"),
    Param("message_drop_headers", "bcc, content-length, resent-bcc, return-path", "list"),
    Param("duplicate_filter_limit", "1000", "int", min=0),
    Param("header_size_limit", "102400", "int", min=1),
    Param("hopcount_limit", "50", "int", min=1),
    Param("queue_minfree", "0", "size", min=0),
    Param("append_at_myorigin", "yes", "bool"),
    # Postfix: ${{$compatibility_level} <level {1} ? {yes} : {no}}, "no" from level 1 on;
    # pfx's $-expansion has no such expressions and pfx starts at level 3.6.
    Param("append_dot_mydomain", "no", "bool"),
    Param("swap_bangpath", "yes", "bool"),
    Param("allow_percent_hack", "yes", "bool"),
    Param("enable_original_recipient", "yes", "bool"),
)
