"""The DNS resolver all programs share: twisted.names, asking pfx_dns_servers or resolv.conf's.

We build ``twisted.names.client.Resolver(servers=...)`` ourselves rather than calling
``createResolver``: that one also merges /etc/resolv.conf into an explicit server list
(so test queries could leak to the host's name server), reads /etc/hosts, and starts a
60 s re-read timer. resolv.conf is read once, at start (as libc's res_init does for a
Postfix process); ``pfx reload`` does not re-read it.

Parameters: pfx_dns_servers (``host[:port]`` or ``[v6addr]:port`` list; empty means the
``nameserver`` lines of resolv.conf), pfx_dns_timeout (per try; two tries per query).
"""

import ipaddress

from pfx.errors import ConfigError
from pfx.plugin import Param

RESOLV_CONF = "/etc/resolv.conf"

DNS_PARAMS = (
    Param("pfx_dns_servers", "", "list",
          doc="DNS servers as host[:port]; empty: the nameserver lines of resolv.conf"),
    Param("pfx_dns_timeout", "5s", "time", min=1,
          doc="how long one DNS try waits for an answer (two tries per query)"),
)


def parse_server(text: str, default_port: int = 53) -> tuple[str, int]:
    """``192.0.2.1``, ``192.0.2.1:5353``, ``::1``, ``[::1]:5353`` -> (address, port)."""
    host, port = text, str(default_port)
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad DNS server: {text!r}")
        port = rest[1:] or port
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ValueError(f"bad DNS server: {text!r} (use an IP address and optional port)") \
            from None
    if not 0 < number < 65536:
        raise ValueError(f"bad DNS server port: {text!r}")
    return host, number


def resolv_conf_servers(path: str = RESOLV_CONF) -> list[tuple[str, int]]:
    """The ``nameserver`` lines of resolv.conf; 127.0.0.1 when there are none (as libc)."""
    servers = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                words = line.split()
                if len(words) >= 2 and words[0] == "nameserver":
                    try:
                        servers.append(parse_server(words[1].split("%")[0]))
                    except ValueError:
                        continue  # libc skips what it cannot parse, so do we
    except OSError:
        pass
    return servers or [("127.0.0.1", 53)]


def _declared(settings) -> bool:
    # the smtp and lmtp agents declare DNS_PARAMS; without them the defaults apply
    return "pfx_dns_timeout" in settings.registry


def dns_servers(settings, resolv_conf: str = RESOLV_CONF) -> list[tuple[str, int]]:
    """The configured servers, or resolv.conf's; ConfigError for a bad pfx_dns_servers."""
    items = settings.get_list("pfx_dns_servers") if _declared(settings) else []
    if not items:
        return resolv_conf_servers(resolv_conf)
    try:
        return [parse_server(item) for item in items]
    except ValueError as e:
        raise ConfigError(str(e), param="pfx_dns_servers") from None


def make_resolver(settings, reactor, resolv_conf: str = RESOLV_CONF):
    """A twisted.names IResolver talking to exactly the configured servers."""
    from twisted.names import client  # not at import: plugin discovery reads DNS_PARAMS

    timeout = settings.get("pfx_dns_timeout") if _declared(settings) else 5
    return client.Resolver(servers=dns_servers(settings, resolv_conf),
                           timeout=(timeout, timeout), reactor=reactor)
