"""Opening connections for the smtp/lmtp agent: TCP (v4/v6) and unix endpoints, TLS contexts.

The only module of the agent besides protocol.py that touches the reactor. The TLS
context verifies the chain (at verify/secure, against smtp_tls_CAfile/CApath or the
system store) but not the name: the session matches names itself, so that Postfix's
``nexthop, dot-nexthop`` and ``hostname`` rules apply.

Security: the certificate files are the administrator's; nothing from the peer
chooses where we connect.
"""

import os

from OpenSSL import SSL
from twisted.internet import endpoints, ssl
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.python.failure import Failure
from zope.interface import implementer

from pfx.agents.smtp.protocol import SmtpClientProtocol

_TLS_VERSION = {"TLSv1": ssl.TLSVersion.TLSv1_0, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
                "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3,
                "SSLv3": ssl.TLSVersion.SSLv3}
_CIPHERS = {"high": "HIGH:!aNULL:!eNULL", "medium": "HIGH:MEDIUM:!aNULL:!eNULL",
            "low": "ALL:!eNULL", "export": "ALL:!eNULL", "null": "eNULL"}


def open_connection(reactor, target, timeout, lmtp=False, line_limit=2048):
    """-> Deferred[SmtpClientProtocol]; fails with the endpoint's connect error."""
    limit = timeout or 3600  # 0 (lmtp_connect_timeout's default) means the OS decides
    if target.kind == "unix":
        ep = endpoints.UNIXClientEndpoint(reactor, target.path or target.addr, timeout=limit)
    elif target.ipv6:
        ep = endpoints.TCP6ClientEndpoint(reactor, target.addr, target.port, timeout=limit)
    else:
        ep = endpoints.TCP4ClientEndpoint(reactor, target.addr, target.port, timeout=limit)
    return endpoints.connectProtocol(ep, SmtpClientProtocol(reactor, lmtp, line_limit))


def connect_error_text(failure: Failure) -> str:
    """Postfix's words for a failed connect: "Connection refused", "Connection timed out"."""
    from twisted.internet import error

    if failure.check(error.ConnectionRefusedError):
        return "Connection refused"
    if failure.check(error.TimeoutError, error.TCPTimedOutError):
        return "Connection timed out"
    value = failure.value
    err = getattr(value, "osError", None)
    if isinstance(err, int):
        return os.strerror(err)
    if isinstance(err, OSError) and err.errno:
        return os.strerror(err.errno)
    text = failure.getErrorMessage()
    for n in range(1, 134):  # "... 2: No such file or directory." -> the strerror
        if os.strerror(n) in text:
            return os.strerror(n)
    return text.strip().rstrip(".")


def _trust(policy):
    certs = []
    files = [policy.cafile] if policy.cafile else []
    if policy.capath and os.path.isdir(policy.capath):
        files += [os.path.join(policy.capath, n) for n in sorted(os.listdir(policy.capath))]
    for path in files:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for block in data.split(b"-----END CERTIFICATE-----")[:-1]:
            start = block.find(b"-----BEGIN CERTIFICATE-----")
            if start >= 0:
                pem = block[start:] + b"-----END CERTIFICATE-----\n"
                certs.append(ssl.Certificate.loadPEM(pem).original)
    return certs


@implementer(IOpenSSLClientConnectionCreator)
class _Creator:
    def __init__(self, context, servername):
        self.context, self.servername = context, servername

    def clientConnectionForTLS(self, tls_protocol):
        conn = SSL.Connection(self.context, None)
        conn.set_app_data(tls_protocol)
        if self.servername:
            conn.set_tlsext_host_name(self.servername.encode("idna"))
        conn.set_connect_state()
        return conn


def client_tls(policy):
    """An IOpenSSLClientConnectionCreator for ``policy`` (pure TLS settings, no names)."""
    low, high = policy.protocols
    kwargs = {}
    if low in _TLS_VERSION:
        kwargs["raiseMinimumTo"] = _TLS_VERSION[low]
    if high in _TLS_VERSION:
        kwargs["lowerMaximumSecurityTo"] = _TLS_VERSION[high]
    cipher = _CIPHERS.get(policy.ciphers, policy.ciphers)
    kwargs["acceptableCiphers"] = ssl.AcceptableCiphers.fromOpenSSLCipherString(cipher)
    if policy.verify:
        certs = _trust(policy)
        if certs:
            options = ssl.CertificateOptions(verify=True, caCerts=certs, **kwargs)
        else:
            options = ssl.CertificateOptions(trustRoot=ssl.platformTrust(), **kwargs)
    else:
        options = ssl.CertificateOptions(verify=False, **kwargs)
    return _Creator(options.getContext(), policy.servername)
