"""Just enough RFC 5321 address handling for smtpd until pfx.address lands (pure).

Splits quoted local parts correctly, strips source routes as Postfix does, and
unwinds the routing tricks (``user%foreign@local``, ``foreign!user@local``,
``"user@foreign"@local``) to the address they would really go to.
"""

import ipaddress
import re

_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def strip_source_route(address: str) -> str:
    """``@a,@b:user@dom`` -> ``user@dom`` (RFC 5321 4.1.2: receivers should ignore routes)."""
    if address.startswith("@") and ":" in address:
        return address.split(":", 1)[1]
    return address


def unquote_local(local: str) -> str:
    """``"a b"`` -> ``a b``; backslash escapes inside quotes are undone."""
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        return re.sub(r"\\(.)", r"\1", local[1:-1])
    return local


def split(address: str) -> tuple[str, str]:
    """-> (local part unquoted, domain or ""), splitting at the last @ outside quotes."""
    address = strip_source_route(address)
    quoted, escaped, at = False, False, -1
    for i, c in enumerate(address):
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif c == "@" and not quoted:
            at = i
    if at < 0:
        return unquote_local(address), ""
    return unquote_local(address[:at]), address[at + 1:]


def internal(address: str) -> str:
    """The unquoted internal form Postfix keeps in the queue file: local@domain."""
    local, domain = split(address)
    return f"{local}@{domain}" if domain else local


def has_routing(local: str) -> bool:
    return any(c in local for c in "@!%")


def unwind(local: str) -> str:
    """The address a routed local part really names: ``user%foreign`` -> ``user@foreign``,
    ``foreign!user`` -> ``user@foreign``, ``user@foreign`` as is."""
    if "@" in local:
        return local
    if "!" in local:
        host, _, user = local.partition("!")
        return f"{user}@{host}"
    user, _, host = local.rpartition("%")
    return f"{user}@{host}"


def is_fqdn(domain: str) -> bool:
    """A valid host name with at least one dot, or an address literal."""
    if domain.startswith("[") and domain.endswith("]"):
        return True
    return valid_hostname(domain) and "." in domain.strip(".")


def valid_hostname(name: str) -> bool:
    """Postfix's valid_hostname(): letters, digits and hyphens in labels of <= 63, total <= 255,
    not all numeric."""
    name = name[:-1] if name.endswith(".") else name
    if not name or len(name) > 255:
        return False
    labels = name.split(".")
    if not all(_LABEL.match(label) for label in labels):
        return False
    return not all(label.isdigit() for label in labels)


def valid_address_literal(text: str) -> bool:
    if not (text.startswith("[") and text.endswith("]")):
        return False
    inner = text[1:-1]
    if inner.lower().startswith("ipv6:"):
        inner = inner[5:]
    try:
        ipaddress.ip_address(inner)
        return True
    except ValueError:
        return False
