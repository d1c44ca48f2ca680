"""local_header_rewrite_clients: which submitters get cleanup's local header treatment (pure).

Postfix 2.6 and later add missing From:, Date: and Message-ID: headers (and rewrite
header addresses in the "local" context) only for local submissions and for SMTP
clients this list permits; everyone else gets them only with always_add_missing_headers.
pfx understands permit_inet_interfaces, permit_mynetworks, permit_sasl_authenticated
and static:all; other elements (tables, TLS client certificates) match nothing yet.
"""

import ipaddress

import attrs


def _ip(text):
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _networks(elements):
    nets = []
    for element in elements:
        try:
            nets.append(ipaddress.ip_network(element.strip("[]").replace("]/", "/"),
                                             strict=False))
        except ValueError:
            continue  # a table or a host name: not supported here yet
    return tuple(nets)


@attrs.frozen
class LocalClients:
    rules: tuple = ("permit_inet_interfaces",)
    own_addresses: frozenset = frozenset()  # inet_interfaces, as ip_address values
    mynetworks: tuple = ()  # ip_network values

    @classmethod
    def build(cls, rules, own_addresses, mynetworks) -> "LocalClients":
        return cls(tuple(r.lower() for r in rules), frozenset(own_addresses),
                   _networks(mynetworks))

    def is_local(self, client) -> bool:
        """Whether mail from ``client`` (a pfx.envelope.Client) is a local submission."""
        if client.protocol == "local":
            return True
        addr = _ip(client.addr)
        for rule in self.rules:
            if rule == "static:all":
                return True
            if rule == "permit_sasl_authenticated" and client.sasl_username:
                return True
            if addr is None:
                continue
            if rule == "permit_inet_interfaces" and addr in self.own_addresses:
                return True
            if rule == "permit_mynetworks" and any(addr in net for net in self.mynetworks
                                                   if net.version == addr.version):
                return True
        return False
