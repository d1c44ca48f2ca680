"""ServerConfig: the smtpd parameters the SMTP server machine enforces, with Postfix's names and defaults."""

import attrs

from pfx.smtp.dotstuff import MODES


def _positive(value):
    def check(instance, attribute, v):
        if v < value:
            raise ValueError(f"{attribute.name} must be >= {value}")
    return check


@attrs.frozen
class ServerConfig:
    """The smtpd parameters the protocol machine enforces (Postfix names and defaults)."""

    hostname: str = "localhost"  # myhostname, for 421 texts
    line_length_limit: int = attrs.field(default=2048, validator=_positive(16))
    message_size_limit: int = attrs.field(default=10240000, validator=_positive(0))  # 0 = none
    smtpd_recipient_limit: int = attrs.field(default=1000, validator=_positive(0))  # 0 = none
    smtpd_recipient_overshoot_limit: int = attrs.field(default=1000, validator=_positive(0))
    smtpd_soft_error_limit: int = 10
    smtpd_hard_error_limit: int = attrs.field(default=20, validator=_positive(1))
    smtpd_junk_command_limit: int = 100
    smtpd_error_sleep_time: float = 1.0
    smtpd_forbid_bare_newline: str = attrs.field(default="normalize", validator=attrs.validators.in_(MODES))
    smtpd_forbid_bare_newline_reject_code: int = 550
    smtpd_forbidden_commands: frozenset[str] = frozenset({"CONNECT", "GET", "POST"})
    smtpd_helo_required: bool = False
    disable_vrfy_command: bool = False
    smtpd_discard_ehlo_keywords: frozenset[str] = frozenset()  # lower case, see ehlo.discard_set
    smtputf8_enable: bool = True
    soft_bounce: bool = False  # every 5xx goes out as 4xx (smtpd_chat.c), the machine's own too
    smtpd_forbid_unauth_pipelining: bool = False  # Postfix 3.9 default: yes
    tls_required: bool = False  # smtpd_tls_security_level = encrypt, before TLS is up
    tls_available: bool = False  # STARTTLS may be offered (smtpd_tls_security_level != none)
    sasl_enabled: bool = False  # smtpd_sasl_auth_enable
    smtpd_sasl_response_limit: int = attrs.field(default=12288, validator=_positive(16))
    chunk_size: int = attrs.field(default=65536, validator=_positive(1))  # bytes per DataChunk, about
    input_high_water: int = 256 * 1024  # should_pause above this
    max_input_buffer: int = attrs.field(default=4 * 1024 * 1024, validator=_positive(1))  # then 421 and close

    def offers(self, keyword: str) -> bool:
        return keyword not in self.smtpd_discard_ehlo_keywords
