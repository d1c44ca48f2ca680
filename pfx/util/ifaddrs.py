"""The host's interface addresses with their prefix lengths, via libc getifaddrs().

Postfix builds mynetworks and inet_interfaces = all from getifaddrs(); so do we, in the
same order, so that ``postconf -x mynetworks`` agrees with Postfix's on the same host.
"""

import ctypes
import ctypes.util
import ipaddress
import socket


class _Sockaddr(ctypes.Structure):
    _fields_ = [("family", ctypes.c_ushort), ("data", ctypes.c_ubyte * 26)]


class _Ifaddrs(ctypes.Structure):
    pass


_Ifaddrs._fields_ = [
    ("next", ctypes.POINTER(_Ifaddrs)),
    ("name", ctypes.c_char_p),
    ("flags", ctypes.c_uint),
    ("addr", ctypes.POINTER(_Sockaddr)),
    ("netmask", ctypes.POINTER(_Sockaddr)),
    ("ifu", ctypes.c_void_p),
    ("data", ctypes.c_void_p),
]


def _ip(sa):
    if not sa:
        return None
    fam = sa.contents.family
    raw = bytes(sa.contents.data)
    if fam == socket.AF_INET:
        return ipaddress.IPv4Address(raw[2:6])
    if fam == socket.AF_INET6:
        return ipaddress.IPv6Address(raw[6:22])
    return None


def interfaces():
    """[(ip_address, prefixlen)] for every configured address, IPv4 and IPv6."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    head = ctypes.POINTER(_Ifaddrs)()
    if libc.getifaddrs(ctypes.byref(head)) != 0:
        return [(ipaddress.ip_address("127.0.0.1"), 8)]
    out = []
    try:
        node = head
        while node:
            ifa = node.contents
            addr, mask = _ip(ifa.addr), _ip(ifa.netmask)
            if addr is not None:
                prefix = bin(int(mask)).count("1") if mask is not None else addr.max_prefixlen
                out.append((addr, prefix))
            node = ifa.next
    finally:
        libc.freeifaddrs(head)
    return out
