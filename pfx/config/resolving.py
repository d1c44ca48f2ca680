"""ResolveSettings from main.cf values and the table registry: the one builder that
smtpd's recipient checks, qmgr and ``pfx resolve`` share, so that all three resolve an
address alike (Postfix has one trivial-rewrite for them).

Domain lists (mydestination, relay_domains, virtual_*_domains) are searched in order,
as domain_list.c does: a pattern, a ``/file`` of patterns or a ``type:table`` element
(looked up with the domain, then its parents when parent_domain_matches_subdomains
lists the parameter); ``!`` negates a pattern or a table. The resolver is synchronous:
a table that answers with a Deferred is a soft error (TableRetry), so the mail waits.
"""

import attrs

from pfx.address import domains
from pfx.address.settings import resolve_settings
from pfx.config.core import _addresses_of, own_addresses
from pfx.config.params import split_list
from pfx.errors import TableRetry


def _sync(lookup, name):
    """A table lookup for the (synchronous) resolver: a Deferred answer is a soft error."""
    def find(key):
        value = lookup(key)
        if hasattr(value, "addCallback"):
            value.addErrback(lambda _: None)
            raise TableRetry(f"{name}: asynchronous table not usable for address resolution")
        return value
    return find


@attrs.frozen
class DomainListMatcher:
    """A domain list whose entries may be ``type:table`` (domain_list.c semantics)."""

    items: tuple  # ("pattern", text) or ("table", negate, lookup)
    parent_matches: bool

    def __call__(self, domain):
        name = domain.lower().rstrip(".")
        for item in self.items:
            if item[0] == "pattern":
                text = item[1]
                negate = text.startswith("!")
                if domains.DomainList((text.lstrip("!"),), self.parent_matches)(name):
                    return not negate
                continue
            _, negate, lookup = item
            probe = name
            while probe:
                if lookup(probe) is not None:
                    return not negate
                if not self.parent_matches:
                    break
                probe = probe.partition(".")[2]
        return False


def _is_table(word):
    return ":" in word and not word.startswith("[")  # [::1] is an address literal


def build_resolve_settings(param, tables, interface_addresses=frozenset()):
    """ResolveSettings from ``param`` (name -> expanded value) and a pfx.tables Registry
    (None: no tables; table elements and maps are then left out)."""
    def table(name, value):
        if tables is None:
            return None
        return _sync(tables.open_list(value).lookup, name)

    def domain_list(name, value, parent_matches):
        items = []
        for word in split_list(value):  # "inline:{ { a = b, c } }" is one element
            bare = word[1:] if word.startswith("!") else word
            if _is_table(bare):
                if tables is not None:
                    items.append(("table", bare is not word, _sync(tables.open(bare).lookup, bare)))
            elif word.startswith("/"):
                # a file of patterns, one per line or space-separated
                items += [("pattern", w.lower()) for w in _read_words(word)]
            else:
                items.append(("pattern", word.lower()))
        return DomainListMatcher(tuple(items), parent_matches)

    return resolve_settings(param, table=table, domain_list=domain_list,
                            interface_addresses=interface_addresses)


def _read_words(path):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return [w for line in f for w in line.split("#", 1)[0].replace(",", " ").split()]
    except OSError as exc:
        raise TableRetry(f"open {path}: {exc.strerror}") from None


def interface_addresses(settings, param):
    """inet_interfaces and proxy_interfaces addresses (for user@[ip] as local mail).
    Blocking (names are resolved): call once per configuration."""
    try:
        found = {ip for ip, _ in own_addresses(settings)}
    except Exception:  # an unusable inet_interfaces is reported where it is bound
        found = set()
    for name in split_list(param("proxy_interfaces")):
        found.update(_addresses_of(name.strip("[]")))
    return frozenset(found)


def make_resolve_settings(settings, tables, param=None):
    """The ResolveSettings of one service: ``param`` reads a parameter (default
    settings.get_str; smtpd passes one with the address layer's defaults)."""
    param = param or settings.get_str
    return build_resolve_settings(param, tables, interface_addresses(settings, param))
