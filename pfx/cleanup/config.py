"""The frozen view of main.cf that cleanup runs on, read once when its service is built."""

import attrs

from pfx.address.rewrite import CanonSettings
from pfx.address.settings import canon_settings, remote_canon_settings
from pfx.cleanup.clients import LocalClients
from pfx.cleanup.mapping import Mappings
from pfx.config.core import own_addresses


@attrs.frozen
class CleanupConfig:
    """What cleanup reads, read once when its service is built (a bad value is a
    ConfigError then, never later)."""

    myhostname: str = "localhost"
    canon: CanonSettings = CanonSettings(myorigin="localhost")  # the "local" context
    always_add_missing_headers: bool = False
    local_clients: LocalClients = LocalClients()  # local_header_rewrite_clients
    drop_headers: frozenset = frozenset({"bcc", "content-length", "resent-bcc", "return-path"})
    duplicate_filter_limit: int = 1000
    header_size_limit: int = 102400
    header_address_token_limit: int = 10240
    hopcount_limit: int = 50
    message_size_limit: int = 10240000  # 0: no limit
    queue_minfree: int = 0  # bytes; 0: no check
    enable_original_recipient: bool = True
    remote_canon: CanonSettings = CanonSettings(enabled=False)  # remote_header_rewrite_domain
    mappings: Mappings = Mappings()
    header_checks: object = None  # tables (ILookupTable) or None
    mime_header_checks: object = None
    nested_header_checks: object = None
    body_checks: object = None
    body_checks_size_limit: int = 51200
    mime_nesting_limit: int = 100
    content_time_limit: float = 10.0

    @classmethod
    def from_settings(cls, settings, tables=None) -> "CleanupConfig":
        """``tables`` is the table registry (context.tables); None: no tables at all."""
        return cls(
            myhostname=settings.get_str("myhostname"),
            canon=canon_settings(settings.get_str),
            always_add_missing_headers=settings.get("always_add_missing_headers"),
            local_clients=_local_clients(settings),
            drop_headers=frozenset(h.lower() for h in settings.get_list("message_drop_headers")),
            duplicate_filter_limit=settings.get("duplicate_filter_limit"),
            header_size_limit=settings.get("header_size_limit"),
            header_address_token_limit=settings.get("header_address_token_limit"),
            hopcount_limit=settings.get("hopcount_limit"),
            message_size_limit=settings.get("message_size_limit"),
            queue_minfree=settings.get("queue_minfree"),
            enable_original_recipient=settings.get("enable_original_recipient"),
            remote_canon=remote_canon_settings(settings.get_str),
            **_tables(settings, tables),
        )


def _local_clients(settings) -> LocalClients:
    rules = [r.lower() for r in settings.get_list("local_header_rewrite_clients")]
    own = [ip for ip, _ in own_addresses(settings)] if "permit_inet_interfaces" in rules else []
    nets = settings.get_list("mynetworks") if "permit_mynetworks" in rules else []
    return LocalClients.build(rules, own, nets)


def _classes(settings, name):
    return frozenset(c.lower() for c in settings.get_list(name))


def _tables(settings, registry) -> dict:
    def maps(name):
        text = settings.get_str(name).strip()
        return registry.open_list(text) if text and registry is not None else None

    local = {d.lower().rstrip(".") for d in settings.get_list("mydestination")}
    local.add(settings.get_str("myorigin").lower())
    mime = not settings.get("disable_mime_input_processing")
    mappings = Mappings(
        canonical_maps=maps("canonical_maps"),
        sender_canonical_maps=maps("sender_canonical_maps"),
        recipient_canonical_maps=maps("recipient_canonical_maps"),
        canonical_classes=_classes(settings, "canonical_classes"),
        sender_canonical_classes=_classes(settings, "sender_canonical_classes"),
        recipient_canonical_classes=_classes(settings, "recipient_canonical_classes"),
        masquerade_domains=tuple(settings.get_list("masquerade_domains")),
        masquerade_exceptions=tuple(settings.get_list("masquerade_exceptions")),
        masquerade_classes=_classes(settings, "masquerade_classes"),
        virtual_alias_maps=maps("virtual_alias_maps"),
        recursion_limit=settings.get("virtual_alias_recursion_limit"),
        expansion_limit=settings.get("virtual_alias_expansion_limit"),
        address_length_limit=settings.get("virtual_alias_address_length_limit"),
        always_bcc=settings.get_str("always_bcc").strip(),
        sender_bcc_maps=maps("sender_bcc_maps"),
        recipient_bcc_maps=maps("recipient_bcc_maps"),
        recipient_delimiter=settings.get_str("recipient_delimiter"),
        propagate=_classes(settings, "propagate_unmatched_extensions"),
        local_domains=frozenset(local),
    )
    return dict(
        mappings=mappings,
        header_checks=maps("header_checks"),
        mime_header_checks=maps("mime_header_checks") if mime else None,
        nested_header_checks=maps("nested_header_checks") if mime else None,
        body_checks=maps("body_checks"),
        body_checks_size_limit=settings.get("body_checks_size_limit"),
        mime_nesting_limit=settings.get("mime_nesting_limit"),
        content_time_limit=float(settings.get("pfx_content_check_time_limit")),
    )
