"""cleanup's main.cf parameters, Postfix's names and defaults (cheap: the plugin imports it)."""

from pfx.plugin import Param

PARAMETERS = (
    Param("always_add_missing_headers", "no", "bool"),
    Param("local_header_rewrite_clients", "permit_inet_interfaces", "list"),
    Param("message_drop_headers", "bcc, content-length, resent-bcc, return-path", "list"),
    Param("duplicate_filter_limit", "1000", "int", min=0),
    Param("header_size_limit", "102400", "int", min=1),
    Param("header_address_token_limit", "10240", "int", min=1),
    Param("hopcount_limit", "50", "int", min=1),
    Param("queue_minfree", "0", "size", min=0),
    Param("append_at_myorigin", "yes", "bool"),
    # Postfix: ${{$compatibility_level} <level {1} ? {yes} : {no}}, "no" from level 1 on;
    # pfx's $-expansion has no such expressions and pfx starts at level 3.6.
    Param("append_dot_mydomain", "no", "bool"),
    Param("swap_bangpath", "yes", "bool"),
    Param("allow_percent_hack", "yes", "bool"),
    Param("enable_original_recipient", "yes", "bool"),
    # address mappings (cleanup_init.c); virtual_alias_maps is declared with the resolver's
    Param("virtual_maps", ""),
    Param("virtual_alias_maps", "$virtual_maps"),
    Param("canonical_maps", ""),
    Param("sender_canonical_maps", ""),
    Param("recipient_canonical_maps", ""),
    Param("canonical_classes", "envelope_sender, envelope_recipient, header_sender, header_recipient", "list"),
    Param("sender_canonical_classes", "envelope_sender, header_sender", "list"),
    Param("recipient_canonical_classes", "envelope_recipient, header_recipient", "list"),
    Param("masquerade_domains", "", "list"),
    Param("masquerade_exceptions", "", "list"),
    Param("masquerade_classes", "envelope_sender, header_sender, header_recipient", "list"),
    Param("propagate_unmatched_extensions", "canonical, virtual", "list"),
    Param("virtual_alias_recursion_limit", "1000", "int", min=1),
    Param("virtual_alias_expansion_limit", "1000", "int", min=1),
    Param("virtual_alias_address_length_limit", "1000", "int", min=1),
    Param("always_bcc", ""),
    Param("sender_bcc_maps", ""),
    Param("recipient_bcc_maps", ""),
    Param("remote_header_rewrite_domain", ""),
    # content inspection (cleanup_init.c, header_checks(5))
    Param("header_checks", ""),
    Param("mime_header_checks", "$header_checks"),
    Param("nested_header_checks", "$header_checks"),
    Param("body_checks", ""),
    Param("body_checks_size_limit", "51200", "int", min=0),
    Param("mime_nesting_limit", "100", "int", min=1),
    Param("disable_mime_input_processing", "no", "bool"),
    Param("pfx_content_check_time_limit", "10s", "time", min=0),
)
