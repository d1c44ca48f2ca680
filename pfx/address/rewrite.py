"""Canonical address form: trivial-rewrite's "local" and "remote" rewriting contexts.

Pure: every knob (append_at_myorigin, append_dot_mydomain, swap_bangpath,
allow_percent_hack, myorigin, mydomain) is a field of a frozen CanonSettings, so the
config layer only has to build one. The steps and their order follow rewrite_tree():
strip a source route; if there is no '@', swap site!user or promote user%domain or
append @myorigin; append .mydomain to a dotless domain; strip one trailing dot.
"""

import functools

import attrs

from pfx.address.parse import DOMLIT, QSTRING, Token, internalize, scan
from pfx.address.quote import quote_local


@attrs.frozen
class CanonSettings:
    """The main.cf knobs one rewriting context reads."""

    myorigin: str = ""
    mydomain: str = ""
    append_at_myorigin: bool = True
    append_dot_mydomain: bool = False
    swap_bangpath: bool = True
    allow_percent_hack: bool = True
    enabled: bool = True  # False: leave addresses exactly as they are

    @classmethod
    def remote(cls, remote_header_rewrite_domain, **knobs):
        """The "remote" context: both appended domains are remote_header_rewrite_domain.

        An empty domain means "leave remote headers alone", as in Postfix.
        """
        if not remote_header_rewrite_domain:
            return cls(enabled=False)
        return cls(myorigin=remote_header_rewrite_domain,
                   mydomain=remote_header_rewrite_domain, **knobs)


def find(tokens, kind):
    """Index of the first token of ``kind``, or -1."""
    return next((k for k, t in enumerate(tokens) if t.kind == kind), -1)


def rfind(tokens, kind):
    """Index of the last token of ``kind``, or -1."""
    return next((k for k in range(len(tokens) - 1, -1, -1) if tokens[k].kind == kind), -1)


def _at():
    return Token("@", "@")


def rewrite_tokens(tokens, settings):
    """Rewrite one address's tokens to canonical form; returns a new list."""
    toks = list(tokens)
    if not toks:
        return toks
    if len(toks) == 1 and toks[0].kind == QSTRING and toks[0].text == "":
        return toks  # the null address stays null
    if len(toks) == 1 and toks[0].kind == "@":
        return [Token(QSTRING, "")]  # a lone "@" is the null address too
    if toks[0].kind == "@":
        colon = find(toks, ":")
        if 0 <= colon < len(toks) - 1:
            toks = toks[colon + 1 :]  # @a,@b:user@dom -> user@dom
    if rfind(toks, "@") < 0:
        bang = find(toks, "!")
        percent = rfind(toks, "%")
        if settings.swap_bangpath and bang >= 0:
            # site!rest -> rest@site (only the first '!'; the resolver loops for the rest)
            rest = toks[bang + 1 :]
            if bang == 0:  # "!rest": Postfix prints the moved tokens without spaces
                rest = [attrs.evolve(t, glued=True) for t in rest]
            toks = rest + [_at()] + toks[:bang]
        elif settings.allow_percent_hack and percent >= 0:
            toks[percent] = _at()
        elif settings.append_at_myorigin and settings.myorigin:
            toks = toks + [_at()] + scan(settings.myorigin)
    at = rfind(toks, "@")
    if (settings.append_dot_mydomain and settings.mydomain and 0 <= at < len(toks) - 1
            and not any(t.kind in (DOMLIT, ".") for t in toks[at + 1 :])):
        toks = toks + [Token(".", ".")] + scan(settings.mydomain)
    # Strip one trailing dot, but leave "x@y.." and "x@." alone for clearer errors.
    if len(toks) > 1 and toks[-1].kind == "." and toks[-2].kind not in (".", "@"):
        toks = toks[:-1]
    return toks


# Pure functions of (address, settings), asked about the same few addresses for every
# message (sender, recipient, From:, To:): remember the latest answers.
@functools.lru_cache(maxsize=4096)
def canonicalize(address, settings):
    """Internal form in, internal form out (what cleanup does to envelope addresses)."""
    if address == "" or not settings.enabled:
        return address
    toks = rewrite_tokens(scan(quote_local(address)), settings)
    return internalize(toks)


@functools.lru_cache(maxsize=4096)
def canonicalize_external(address, settings):
    """External (quoted) form in and out (what cleanup does to header addresses)."""
    if address == "" or not settings.enabled:
        return address
    toks = rewrite_tokens(scan(address), settings)
    return quote_local(internalize(toks))


def masquerade(address, domains, *, exceptions=()):
    """masquerade_domains: strip host detail, e.g. user@host.sub.example.com -> user@example.com.

    ``domains`` is the masquerade_domains list in order; a "!domain" entry stops
    masquerading for that domain. ``exceptions`` are local parts that are never
    masqueraded (masquerade_exceptions). Internal form in and out.
    """
    at = address.rfind("@")
    if at < 0:
        return address
    local, domain = address[:at], address[at + 1 :]
    if local.lower() in {e.lower() for e in exceptions}:
        return address
    lower = domain.lower().rstrip(".")
    for entry in domains:
        negate = entry.startswith("!")
        masq = entry[1:].lower() if negate else entry.lower()
        if not masq:
            continue
        if lower == masq:
            return address  # already the masquerade domain (or excluded as itself)
        if lower.endswith("." + masq):
            return address if negate else f"{local}@{entry}"
    return address
