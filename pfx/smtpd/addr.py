"""smtpd's small address helpers over pfx.address: envelope addresses to internal form, FQDN checks (pure)."""

from pfx.address import domains
from pfx.address.quote import unquote_local


def strip_source_route(address: str) -> str:
    """``@a,@b:user@dom`` -> ``user@dom``: RFC 5321 4.1.2 says ignore routes, and Postfix does."""
    if address.startswith("@") and ":" in address:
        return address.split(":", 1)[1]
    return address


def internal(address: str) -> str:
    """A MAIL/RCPT address (the text inside <>) in the unquoted form queue files keep."""
    return unquote_local(strip_source_route(address))


def split(internal_address: str) -> tuple[str, str]:
    """-> (local part, domain or ""), at the last @ (internal form: the local part may hold @)."""
    local, at, domain = internal_address.rpartition("@")
    return (local, domain) if at else (internal_address, "")


def valid_hostname(name: str) -> bool:
    """Postfix's valid_hostname(), a trailing dot allowed as in a HELO name."""
    return domains.valid_hostname(name[:-1] if name.endswith(".") else name)


def valid_address_literal(text: str) -> bool:
    return domains.literal_address(text) is not None


def is_fqdn(domain: str) -> bool:
    """A valid host name with at least one dot, or an address literal."""
    if domain.startswith("["):
        return True
    return valid_hostname(domain) and "." in domain.strip(".")
