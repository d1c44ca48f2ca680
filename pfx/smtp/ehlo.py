"""The EHLO reply in Postfix's keyword order, honouring smtpd_discard_ehlo_keywords."""

from collections.abc import Iterable

from pfx.dsn import Reply

# Postfix's order (smtpd.c ehlo_cmd); names as smtpd_discard_ehlo_keywords spells them.
KEYWORDS = ("pipelining", "size", "vrfy", "etrn", "starttls", "auth", "enhancedstatuscodes",
            "8bitmime", "dsn", "smtputf8", "chunking")


def discard_set(value: str | Iterable[str]) -> frozenset[str]:
    """'silent-discard, dsn' -> {'silent-discard', 'dsn'} (case-insensitive, like Postfix)."""
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return frozenset(v.lower() for v in value)


def ehlo_reply(hostname: str, *, message_size_limit: int = 10240000, vrfy: bool = True,
               etrn: bool = True, starttls: bool = False, auth_mechanisms: Iterable[str] = (),
               broken_auth_clients: bool = False, dsn: bool = True, smtputf8: bool = True,
               chunking: bool = True, discard: Iterable[str] = ()) -> Reply:
    """``250-host`` then the keywords this session offers, in Postfix's order.

    vrfy=False is disable_vrfy_command; starttls says whether TLS may start now (not yet
    active); auth_mechanisms empty means no AUTH line (SASL off, or auth only after TLS).
    """
    gone = discard_set(discard)
    mechs = " ".join(auth_mechanisms)
    offer = {
        "pipelining": ["PIPELINING"],
        "size": [f"SIZE {message_size_limit}" if message_size_limit else "SIZE"],
        "vrfy": ["VRFY"] if vrfy else [],
        "etrn": ["ETRN"] if etrn else [],
        "starttls": ["STARTTLS"] if starttls else [],
        "auth": ([f"AUTH {mechs}"] + ([f"AUTH={mechs}"] if broken_auth_clients else [])) if mechs else [],
        "enhancedstatuscodes": ["ENHANCEDSTATUSCODES"],
        "8bitmime": ["8BITMIME"],
        "dsn": ["DSN"] if dsn else [],
        "smtputf8": ["SMTPUTF8"] if smtputf8 else [],
        "chunking": ["CHUNKING"] if chunking else [],
    }
    lines = [hostname]
    for key in KEYWORDS:
        if key not in gone:
            lines.extend(offer[key])
    return Reply(250, None, "\n".join(lines))
