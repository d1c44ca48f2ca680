"""Postfix's client match lists (mynetworks, smtpd_client_event_limit_exceptions, ...): pure.

Elements are matched in order and ``!element`` negates (match_list.c): networks
(``192.0.2.0/24``, ``[2001:db8::]/32``, bare addresses), host name patterns
(``example.com``, ``.example.com``), ``/file`` (more elements, one or more a line,
read once when the list is built) and ``type:table`` (looked up with the client name,
then its address, through the table registry given; any value is a match).
"""

import ipaddress


def _is_table(element: str) -> bool:
    return ":" in element and not element.startswith("[") and parse_network(element) is None


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


def _file_elements(path: str) -> list[str]:
    elements = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0]
            elements.extend(w for w in line.replace(",", " ").split() if w)
    return elements


class AddressList:
    """A client list: ``match(addr, name)`` says whether the client is listed."""

    def __init__(self, items, parent_matches: bool = True, unsupported=()):
        self.items = list(items)  # (negate, ip_network | pattern str | ILookupTable)
        self.parent = parent_matches
        self.unsupported = list(unsupported)  # table elements without a registry

    @classmethod
    def parse(cls, elements, parent_matches: bool = True, tables=None) -> "AddressList":
        """Raises OSError for a ``/file`` that cannot be read (the caller names the parameter)."""
        items, unsupported = [], []
        pending = list(elements)
        while pending:
            element = pending.pop(0)
            negate = element.startswith("!")
            text = element.lstrip("!")
            if not text:
                continue
            net = parse_network(text)
            if net is not None:
                items.append((negate, net))
            elif text.startswith("/"):
                pending[:0] = [("!" if negate else "") + e for e in _file_elements(text)]
            elif _is_table(text):
                if tables is None:
                    unsupported.append(text)
                else:
                    items.append((negate, tables.open(text)))
            else:
                items.append((negate, text))
        return cls(items, parent_matches, unsupported)

    def match(self, addr: str, name: str = "") -> bool:
        try:
            ip = ipaddress.ip_address(addr.split("%")[0])
        except ValueError:
            ip = None
        if ip is not None and ip.version == 6 and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        known_name = bool(name) and name != "unknown"
        for negate, item in self.items:
            if isinstance(item, str):
                hit = known_name and domain_matches(name, item, self.parent)
            elif isinstance(item, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
                hit = ip is not None and ip.version == item.version and ip in item
            else:
                keys = ([name] if known_name else []) + ([str(ip)] if ip is not None else [])
                hit = any(_found(item, key) for key in keys)
            if hit:
                return not negate
        return False

    def __eq__(self, other):
        return isinstance(other, AddressList) and self.items == other.items

    def __repr__(self):
        return f"AddressList({self.items!r})"


def _found(table, key) -> bool:
    # A network table answering with a Deferred cannot be waited for here: not listed.
    value = table.lookup(key)
    return value is not None and not hasattr(value, "addCallback")
