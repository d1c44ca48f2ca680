"""The parameters every part of pfx reads: names, identity, networks, logging, limits.

Defaults are Postfix's at compatibility_level 3.6 (mynetworks_style = host, empty
relay_domains, ...), written as the values rather than Postfix's compatibility
expressions. Deliberate differences, each for pfx's own identity or install layout:
mail_name, mail_version, syslog_name, compatibility_level and the directories.
"""

import ipaddress
import socket

from pfx import __version__
from pfx.plugin import Param
from pfx.util import ifaddrs

# Paths of an installed pfx (the embedded default in etc/ overrides them).
QUEUE_DIRECTORY = "/var/spool/pfx"
CONFIG_DIRECTORY = "/etc/pfx"


def _myhostname(settings):
    host = socket.gethostname()
    if "." in host:
        return host
    domain = settings.get_str("mydomain") if settings.is_set("mydomain") else "localdomain"
    return f"{host}.{domain}"


def _mydomain(settings):
    _, dot, rest = settings.get_str("myhostname").partition(".")
    return rest if dot and rest else "localdomain"


def own_addresses(settings):
    """inet_interfaces as [(ip, prefixlen)], filtered by inet_protocols (own_inet_addr)."""
    protocols = set(settings.get_list("inet_protocols"))
    if "all" in protocols:
        protocols = {"ipv4", "ipv6"}
    wanted = {4 if p == "ipv4" else 6 for p in protocols if p in ("ipv4", "ipv6")}
    names = settings.get_list("inet_interfaces")
    if "all" in names:
        found = ifaddrs.interfaces()
    elif "loopback-only" in names:
        found = [(ipaddress.ip_address("127.0.0.1"), 8), (ipaddress.ip_address("::1"), 128)]
    else:
        found = []
        local = {str(a): p for a, p in ifaddrs.interfaces()}
        for name in names:
            for ip in _addresses_of(name.strip("[]")):
                found.append((ip, local.get(str(ip), ip.max_prefixlen)))
    seen, out = set(), []
    for ip, prefix in found:
        if ip.version in wanted and ip not in seen:
            seen.add(ip)
            out.append((ip, prefix))
    return out


def _addresses_of(name):
    try:
        return [ipaddress.ip_address(name)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _net_text(net):
    return f"{net.network_address}/{net.prefixlen}" if net.version == 4 \
        else f"[{net.network_address}]/{net.prefixlen}"


def _mynetworks(settings):
    style = settings.get_str("mynetworks_style").strip().lower()
    nets = []
    for ip, prefix in own_addresses(settings):
        if style == "host":
            prefix = ip.max_prefixlen
        elif style == "class" and ip.version == 4:
            first = int(ip) >> 24
            prefix = 8 if first < 128 else 16 if first < 192 else 24
        net = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
        if net not in nets:
            nets.append(net)
    nets.sort(key=lambda n: n.version)  # Postfix lists IPv4 before IPv6
    return " ".join(_net_text(n) for n in nets)


def _config_directory(settings):
    return settings.config_dir or CONFIG_DIRECTORY


CORE_PARAMS = (
    Param("config_directory", _config_directory, doc="where main.cf and master.cf live"),
    Param("queue_directory", QUEUE_DIRECTORY),
    Param("data_directory", "/var/lib/pfx"),
    Param("command_directory", "/usr/sbin"),
    Param("mail_owner", "postfix"),
    Param("default_privs", "nobody"),
    Param("setgid_group", "postdrop"),
    Param("myhostname", _myhostname),
    Param("mydomain", _mydomain),
    Param("myorigin", "$myhostname"),
    Param("mydestination", "$myhostname, localhost.$mydomain, localhost", "list"),
    Param("mynetworks", _mynetworks, "list"),
    Param("mynetworks_style", "host"),
    Param("inet_interfaces", "all", "list"),
    Param("inet_protocols", "all", "list"),
    Param("proxy_interfaces", "", "list"),
    Param("relay_domains", "", "list"),
    Param("parent_domain_matches_subdomains",
          "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,"
          "qmqpd_authorized_clients,relay_domains,smtpd_access_maps", "list"),
    Param("recipient_delimiter", ""),
    Param("mail_name", "pfx"),
    Param("mail_version", __version__),
    Param("compatibility_level", "3.6"),
    Param("syslog_name", "pfx"),
    Param("syslog_facility", "mail"),
    Param("maillog_file", ""),
    Param("maillog_file_prefixes", "/var, /dev/stdout", "list"),
    Param("default_process_limit", "100", "int", min=1),
    Param("service_throttle_time", "60s", "time", min=1),
    Param("process_id_directory", "pid"),
    Param("import_environment", "MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ XAUTHORITY DISPLAY "
          "LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME", "list"),
    Param("export_environment", "TZ MAIL_CONFIG LANG", "list"),
    Param("message_size_limit", "10240000", "size", min=0),
    Param("line_length_limit", "2048", "int", min=1),
    Param("smtputf8_enable", "yes", "bool"),
    Param("soft_bounce", "no", "bool"),
    # read by the submitters (smtpd, pickup), which hand it to cleanup with each
    # message, so master.cf's -o content_filter= on one of them lifts it (Postfix)
    Param("content_filter", ""),
    Param("default_database_type", "hash"),
    Param("delay_logging_resolution_limit", "2", "int", min=0, max=6),
)
