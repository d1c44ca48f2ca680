"""The frozen view of main.cf that cleanup runs on, read once when its service is built."""

import attrs

from pfx.address.rewrite import CanonSettings
from pfx.address.settings import canon_settings
from pfx.cleanup.clients import LocalClients
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
    hopcount_limit: int = 50
    message_size_limit: int = 10240000  # 0: no limit
    queue_minfree: int = 0  # bytes; 0: no check
    enable_original_recipient: bool = True

    @classmethod
    def from_settings(cls, settings) -> "CleanupConfig":
        return cls(
            myhostname=settings.get_str("myhostname"),
            canon=canon_settings(settings.get_str),
            always_add_missing_headers=settings.get("always_add_missing_headers"),
            local_clients=_local_clients(settings),
            drop_headers=frozenset(h.lower() for h in settings.get_list("message_drop_headers")),
            duplicate_filter_limit=settings.get("duplicate_filter_limit"),
            header_size_limit=settings.get("header_size_limit"),
            hopcount_limit=settings.get("hopcount_limit"),
            message_size_limit=settings.get("message_size_limit"),
            queue_minfree=settings.get("queue_minfree"),
            enable_original_recipient=settings.get("enable_original_recipient"),
        )


def _local_clients(settings) -> LocalClients:
    rules = [r.lower() for r in settings.get_list("local_header_rewrite_clients")]
    own = [ip for ip, _ in own_addresses(settings)] if "permit_inet_interfaces" in rules else []
    nets = settings.get_list("mynetworks") if "permit_mynetworks" in rules else []
    return LocalClients.build(rules, own, nets)
