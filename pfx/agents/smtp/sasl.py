"""Client SASL for relaying through a provider: password lookup per next hop, PLAIN and LOGIN.

smtp_sasl_password_maps is searched with the server's host name, then the next hop as
written (``[smtp.isp.example]:587``, ``isp.example``); the value is ``username:password``.
smtp_sasl_mechanism_filter and smtp_sasl_(tls_)security_options (noplaintext,
noanonymous) narrow what the server offers.

Security: credentials come from the administrator's table and leave this module only
as base64 in the AUTH exchange; no text this module returns, logs or raises contains
them (a failure names the server and quotes only the server's reply).
"""

import base64

import attrs
from twisted.internet import defer

SUPPORTED = ("PLAIN", "LOGIN")  # in order of preference


@attrs.frozen(repr=False)
class Credentials:
    username: str
    password: str

    def __repr__(self):
        return "Credentials(<hidden>)"


async def lookup(tables, maps: str, keys) -> Credentials | None:
    """The first ``user:password`` for ``keys`` in smtp_sasl_password_maps, or None."""
    if not maps or tables is None:
        return None
    table = tables.open_list(maps)
    for key in keys:
        value = await defer.maybeDeferred(table.lookup, key)
        if value is not None:
            user, _, password = value.partition(":")
            return Credentials(user, password)
    return None


def choose(offered: str, mechanism_filter, options) -> str | None:
    """The mechanism to use from the server's AUTH list, or None."""
    words = [w.upper() for w in offered.replace("=", " ").split()]
    allowed = [m for m in SUPPORTED if m in words]
    if mechanism_filter:
        allowed = [m for m in allowed if m in mechanism_filter]
    if "noplaintext" in {o.strip().lower() for o in options}:
        allowed = []  # both PLAIN and LOGIN send the password in the clear
    return allowed[0] if allowed else None


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def plain_initial(creds: Credentials) -> str:
    return b64(f"\0{creds.username}\0{creds.password}")


def login_answer(step: int, creds: Credentials) -> str:
    """The answer to the LOGIN mechanism's first (user name) or second (password) 334."""
    return b64(creds.username if step == 0 else creds.password)
