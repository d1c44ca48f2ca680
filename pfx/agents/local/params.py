"""The main.cf parameters local(8) reads, declared once, and the frozen LocalConfig built from them."""

import attrs

from pfx.delivery.lock import KINDS, LockPolicy
from pfx.errors import ConfigError
from pfx.plugin import Param

FILTER = "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

PARAMETERS = (
    Param("alias_maps", "hash:/etc/aliases"),  # Postfix adds nis:mail.aliases; pfx has no NIS
    Param("alias_database", "hash:/etc/aliases"),  # what pfx newaliases builds
    Param("allow_mail_to_commands", "alias, forward", "list"),
    Param("allow_mail_to_files", "alias, forward", "list"),
    Param("command_expansion_filter", FILTER, "raw"),
    Param("forward_expansion_filter", FILTER, "raw"),
    Param("command_time_limit", "1000s", "time", min=1),
    Param("local_command_shell", "", "raw"),
    Param("forward_path", "$home/.forward${recipient_delimiter}${extension}, $home/.forward",
          "raw"),
    Param("home_mailbox", ""),
    Param("mail_spool_directory", "/var/mail"),
    Param("mailbox_command", "", "raw"),
    Param("mailbox_command_maps", ""),
    Param("mailbox_transport", ""),
    Param("mailbox_transport_maps", ""),
    Param("fallback_transport", ""),
    Param("fallback_transport_maps", ""),
    Param("luser_relay", "", "raw"),
    Param("mailbox_delivery_lock", "fcntl, dotlock", "list"),
    Param("mailbox_size_limit", "51200000", "size", min=0),
    Param("prepend_delivered_header", "command, file, forward", "list"),
    Param("owner_request_special", "yes", "bool"),
    Param("expand_owner_alias", "no", "bool"),
    Param("deliver_lock_attempts", "20", "int", min=1),
    Param("deliver_lock_delay", "1s", "time", min=1),
    Param("stale_lock_time", "500s", "time", min=1),
    Param("duplicate_filter_limit", "1000", "int", min=0),
)


@attrs.frozen
class LocalConfig:
    """Everything local(8) reads, typed; tests build one directly."""

    alias_maps: str = ""
    mydestination: tuple = ("localhost",)
    myorigin: str = "localhost"
    recipient_delimiter: str = ""
    allow_commands: tuple = ("alias", "forward")
    allow_files: tuple = ("alias", "forward")
    command_filter: str = FILTER
    forward_filter: str = FILTER
    command_time_limit: float = 1000
    command_shell: str = ""
    forward_path: tuple = ("$home/.forward${recipient_delimiter}${extension}",
                           "$home/.forward")
    home_mailbox: str = ""
    spool_directory: str = "/var/mail"
    mailbox_command: str = ""
    mailbox_command_maps: str = ""
    mailbox_transport: str = ""
    mailbox_transport_maps: str = ""
    fallback_transport: str = ""
    fallback_transport_maps: str = ""
    luser_relay: str = ""
    lock: LockPolicy = LockPolicy()
    size_limit: int = 51200000
    delivered_header: tuple = ("command", "file", "forward")
    owner_request_special: bool = True
    expand_owner_alias: bool = False
    duplicate_limit: int = 1000
    queue_directory: str = ""
    default_privs: str = "nobody"
    export_environment: tuple = ("TZ", "MAIL_CONFIG", "LANG")
    params: object = attrs.field(default=None, eq=False)  # name -> text, for luser_relay

    @classmethod
    def from_settings(cls, s):
        locks = tuple(k.lower() for k in s.get_list("mailbox_delivery_lock"))
        bad = [k for k in locks if k not in KINDS]
        if bad or not locks:
            raise ConfigError(f'invalid mailbox lock method "{(bad or [""])[0]}" '
                              f"(choose from {', '.join(KINDS)})",
                              param="mailbox_delivery_lock")
        paths = tuple(p for p in (x.strip() for x in s.get_str("forward_path").split(","))
                      if p)
        mydest = tuple(d.lower() for d in s.get_list("mydestination")
                       if ":" not in d and "/" not in d)
        return cls(
            alias_maps=s.get_str("alias_maps"), mydestination=mydest,
            myorigin=s.get_str("myorigin"),
            recipient_delimiter=s.get_str("recipient_delimiter"),
            allow_commands=_words(s.get_list("allow_mail_to_commands")),
            allow_files=_words(s.get_list("allow_mail_to_files")),
            command_filter=s.get_str("command_expansion_filter"),
            forward_filter=s.get_str("forward_expansion_filter"),
            command_time_limit=s.get("command_time_limit"),
            command_shell=s.get_str("local_command_shell"),
            forward_path=paths, home_mailbox=s.get_str("home_mailbox"),
            spool_directory=s.get_str("mail_spool_directory"),
            mailbox_command=s.get_str("mailbox_command"),
            mailbox_command_maps=s.get_str("mailbox_command_maps"),
            mailbox_transport=s.get_str("mailbox_transport"),
            mailbox_transport_maps=s.get_str("mailbox_transport_maps"),
            fallback_transport=s.get_str("fallback_transport"),
            fallback_transport_maps=s.get_str("fallback_transport_maps"),
            luser_relay=s.get_str("luser_relay"),
            lock=LockPolicy(locks, s.get("deliver_lock_attempts"),
                            s.get("deliver_lock_delay"), s.get("stale_lock_time")),
            size_limit=s.get("mailbox_size_limit"),
            delivered_header=_words(s.get_list("prepend_delivered_header")),
            owner_request_special=s.get("owner_request_special"),
            expand_owner_alias=s.get("expand_owner_alias"),
            duplicate_limit=s.get("duplicate_filter_limit"),
            queue_directory=s.get_str("queue_directory"),
            default_privs=s.get_str("default_privs"),
            export_environment=tuple(s.get_list("export_environment")),
            params=s.get_str)


def _words(values):
    return tuple(v.lower() for v in values)


def apply_filter(text, allowed):
    """Replace every character not in ``allowed`` with ``_`` (Postfix's expansion filters)."""
    return "".join(c if c in allowed else "_" for c in text)
