"""Postfix match lists without tables: networks (mynetworks) and domains (mydestination, relay_domains).

Pure. Elements are matched in order and ``!element`` negates (match_list.c). ``/file``
and ``type:table`` elements need pfx.tables and are skipped here with a note in
``unsupported``, so a caller can warn once; they never match.
"""

import ipaddress


def _is_table_or_file(element: str) -> bool:
    return element.startswith("/") or (":" in element and not element.startswith("[")
                                      and not _looks_like_ip(element))


def _looks_like_ip(text: str) -> bool:
    try:
        ipaddress.ip_network(text.strip("[]").replace("]/", "/"), strict=False)
        return True
    except ValueError:
        return False


def parse_network(element: str):
    """``1.2.3.0/24``, ``1.2.3.4``, ``[::1]/128``, ``[::1]`` -> ip_network, or None."""
    text = element.replace("[", "").replace("]", "")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def domain_matches(domain: str, pattern: str, parent: bool) -> bool:
    """``example.com`` matches itself, and its subdomains when ``parent``; ``.example.com``
    matches the subdomains only (Postfix's match_hostname)."""
    domain, pattern = domain.lower().rstrip("."), pattern.lower()
    if pattern.startswith("."):
        return domain.endswith(pattern)
    return domain == pattern or (parent and domain.endswith("." + pattern))


class DomainList:
    """A domain list such as mydestination or relay_domains."""

    def __init__(self, elements, parent_matches: bool = False):
        self.elements = [e for e in elements if e]
        self.parent = parent_matches
        self.unsupported = [e.lstrip("!") for e in self.elements if _is_table_or_file(e.lstrip("!"))]

    def match(self, domain: str) -> bool:
        if not domain:
            return False
        for element in self.elements:
            negate = element.startswith("!")
            pattern = element.lstrip("!")
            if _is_table_or_file(pattern):
                continue
            if domain_matches(domain, pattern, self.parent):
                return not negate
        return False

    def __eq__(self, other):
        return isinstance(other, DomainList) and (self.elements, self.parent) == (other.elements, other.parent)

    def __repr__(self):
        return f"DomainList({self.elements!r})"


class AddressList:
    """A client list such as mynetworks: networks, bare addresses, host name patterns."""

    def __init__(self, items, parent_matches: bool = True, unsupported=()):
        self.items = list(items)  # (negate, ip_network | str)
        self.parent = parent_matches
        self.unsupported = list(unsupported)

    @classmethod
    def parse(cls, elements, parent_matches: bool = True) -> "AddressList":
        items, unsupported = [], []
        for element in elements:
            negate = element.startswith("!")
            text = element.lstrip("!")
            net = parse_network(text) if ("/" in text and not text.startswith("/")) or _looks_like_ip(text) \
                else None
            if net is not None:
                items.append((negate, net))
            elif _is_table_or_file(text):
                unsupported.append(text)
            elif text:
                items.append((negate, text))
        return cls(items, parent_matches, unsupported)

    def match(self, addr: str, name: str = "") -> bool:
        try:
            ip = ipaddress.ip_address(addr.split("%")[0])
        except ValueError:
            ip = None
        if ip is not None and ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        for negate, item in self.items:
            if isinstance(item, str):
                hit = bool(name) and name != "unknown" and domain_matches(name, item, self.parent)
            else:
                hit = ip is not None and ip.version == item.version and ip in item
            if hit:
                return not negate
        return False

    def __eq__(self, other):
        return isinstance(other, AddressList) and self.items == other.items

    def __repr__(self):
        return f"AddressList({self.items!r})"
