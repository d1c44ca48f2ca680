"""The smtpd service: master.cf inet rows -> listening endpoints, connection caps, TLS options.

Security: binds in privilegedStartService (port 25 as root, before privileges drop);
accepts untrusted connections and hands them to the sans-IO machine through
SMTPServerProtocol. Reads the certificate and key files once, at make_service time; a
file that cannot be loaded is a ConfigError naming its parameter. maxproc caps the
concurrent connections: at the cap the listener stops accepting (new clients wait in
the kernel's listen queue, as with Postfix's process limit) and resumes below it.
Outgoing: the client's reverse name (system resolver, off the reactor thread) and
policy servers named by check_policy_service (their answers are untrusted text, parsed
as access(5) results). Parameters read: inet_interfaces, inet_protocols,
default_process_limit, smtpd_peername_lookup, smtpd_client_connection_count_limit,
smtpd_client_connection_rate_limit, anvil_rate_time_unit (and, through anvil.py,
smtpd_client_message_rate_limit and smtpd_client_recipient_rate_limit), smtpd_tls_* and
smtpd_policy_service_timeout below, and every other smtpd parameter in
pfx.smtpd.params through pfx.smtpd.config.
"""

import collections
import ipaddress
import os
import re
import socket
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from twisted.application.service import Service
from twisted.internet import defer, endpoints, protocol, ssl
from twisted.plugin import getPlugins
from twisted.protocols.tls import TLSMemoryBIOFactory

from pfx.envelope import Client
from pfx.errors import ConfigError
from pfx.interfaces import IMailSubmitter, ITableType
from pfx.smtp.server import ServerConnection
from pfx.smtpd.checks import validate
from pfx.smtpd.policy import encode_request, parse_response
from pfx.smtpd.config import from_settings
from pfx.smtpd.protocol import SMTPServerProtocol
from pfx.smtpd.anvil import EventLimits, RateCounter
from pfx.smtpd.sasl import AuthDialogue
from pfx.smtpd.sasl_dovecot import DovecotAuthConnection, DovecotBackend
from pfx.smtpd.sasl_pfx import PfxBackend
from pfx.smtpd.session import Session


# -- listening addresses ----------------------------------------------------------

def listen_addresses(service: str, settings) -> list[tuple[str, int]]:
    """master.cf service column -> [(host, port)]: ``host:port``, ``[v6]:port``, ``port``,
    or a service name; without a host, every inet_interfaces address."""
    host, sep, port_text = service.rpartition(":")
    if not sep:
        host, port_text = "", service
    host = host.strip("[]")
    try:
        port = int(port_text) if port_text.isdigit() else socket.getservbyname(port_text, "tcp")
    except OSError:
        raise ConfigError(f'unknown service "{port_text}"', param="master.cf") from None
    if host:
        return [(host, port)]
    protocols = set(settings.get_list("inet_protocols"))
    v6 = "all" in protocols or "ipv6" in protocols
    v4 = "all" in protocols or "ipv4" in protocols
    names = settings.get_list("inet_interfaces")
    if "all" in names:
        return [("::", port)] if v6 and socket.has_ipv6 else [("0.0.0.0", port)]
    if "loopback-only" in names:
        names = (["127.0.0.1"] if v4 else []) + (["::1"] if v6 else [])
    return [(n.strip("[]"), port) for n in names]


def _endpoint(reactor, host, port, backlog=100):
    try:
        v6 = ipaddress.ip_address(host).version == 6
    except ValueError:
        v6 = False
    cls = endpoints.TCP6ServerEndpoint if v6 else endpoints.TCP4ServerEndpoint
    return cls(reactor, port, backlog=backlog, interface=host)


# -- TLS --------------------------------------------------------------------------

_ORDER = list(ssl.TLSVersion.iterconstants())
_VERSIONS = {"tlsv1": ssl.TLSVersion.TLSv1_0, "tlsv1.1": ssl.TLSVersion.TLSv1_1,
             "tlsv1.2": ssl.TLSVersion.TLSv1_2, "tlsv1.3": ssl.TLSVersion.TLSv1_3}


def _error(settings, param, message):
    where = settings.origin(param)
    return ConfigError(message, where and where.file, where and where.line, param)


def _read(settings, path, param):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise _error(settings, param, f"cannot load {path}: {e.strerror}") from None


def tls_options(settings):
    """CertificateOptions for smtpd_tls_security_level may/encrypt, or None.

    Protocol floors only raise Twisted's own default minimum, never lower it.
    """
    level = settings.get_str("smtpd_tls_security_level").strip().lower()
    wrapper = settings.get("smtpd_tls_wrappermode")
    if level in ("", "none") and not wrapper:
        return None
    chain = settings.get_list("smtpd_tls_chain_files")
    if chain:
        cert_param = key_param = "smtpd_tls_chain_files"
        key_pem = cert_pem = b"".join(_read(settings, p, cert_param) for p in chain)
    else:
        cert_param, key_param = "smtpd_tls_cert_file", "smtpd_tls_key_file"
        cert_file = settings.get_str(cert_param)
        if not cert_file:
            raise _error(settings, cert_param, f"TLS level {level or 'wrappermode'} needs a certificate")
        cert_pem = _read(settings, cert_file, cert_param)
        key_pem = _read(settings, settings.get_str(key_param), key_param)
    try:
        key = serialization.load_pem_private_key(_pem_key(key_pem), None)
    except Exception as e:
        raise _error(settings, key_param, f"cannot load the private key: {e or type(e).__name__}") from None
    try:
        certs = x509.load_pem_x509_certificates(cert_pem)
        # With encrypt, TLS is mandatory and the mandatory_* variants apply (as in Postfix).
        prefix = "smtpd_tls_mandatory_" if level == "encrypt" else "smtpd_tls_"
        kwargs = {}
        floor = _protocol_floor(settings.get_str(prefix + "protocols"))
        if floor is not None and _ORDER.index(floor) > _ORDER.index(ssl.TLSVersion.TLSv1_2):
            kwargs["raiseMinimumTo"] = floor
        if settings.get_str(prefix + "ciphers").strip().lower() == "high":
            kwargs["acceptableCiphers"] = ssl.AcceptableCiphers.fromOpenSSLCipherString(
                "HIGH:!aNULL:!eNULL:!MD5")
        options = ssl.CertificateOptions(privateKey=key, certificate=certs[0], extraCertChain=certs[1:],
                                         **kwargs)
        options.getContext()  # checks that key and certificate belong together, now
        return options
    except Exception as e:
        raise _error(settings, cert_param, f"cannot use the certificate: {e or type(e).__name__}") from None


def _pem_key(pem: bytes) -> bytes:
    """The first private-key block of a PEM file that may also hold certificates."""
    m = re.search(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", pem, re.S)
    if m is None:
        raise ValueError("no private key found")
    return m.group(0)


def _protocol_floor(text):
    for word in text.replace(",", " ").split():
        if word.startswith(">="):
            return _VERSIONS.get(word[2:].lower())
    return None


# -- connections ------------------------------------------------------------------

def _plain_ip(host: str) -> str:
    try:
        ip = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return host
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def verified_name(addr: str) -> str:
    """The client's forward-confirmed reverse name, or "unknown" (Postfix's peer lookup).

    Blocking (the system resolver, as Postfix uses): call it through run_blocking.
    """
    try:
        name = socket.getnameinfo((addr, 0), socket.NI_NAMEREQD | socket.NI_NUMERICSERV)[0]
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return "unknown"
    if any(_plain_ip(info[4][0]) == addr for info in infos):
        return name
    return "unknown"


class _PolicyExchange(protocol.Protocol):
    """One policy request on a fresh connection: write it, read until the empty line."""

    def __init__(self, request: bytes, done: defer.Deferred):
        self.request, self.done, self.buf = request, done, b""

    def connectionMade(self):
        self.transport.write(self.request)

    def dataReceived(self, data):
        self.buf += data
        if len(self.buf) > 65536:
            self._finish(failure=ValueError("policy response too long"))
        elif b"\n\n" in self.buf:
            try:
                self._finish(parse_response(self.buf.split(b"\n\n", 1)[0]))
            except ValueError as e:
                self._finish(failure=e)

    def _finish(self, action=None, failure=None):
        if not self.done.called:
            self.done.errback(failure) if failure is not None else self.done.callback(action)
        self.transport.loseConnection()

    def connectionLost(self, reason):
        if not self.done.called:
            self.done.errback(reason)


def policy_client(reactor, timeout):
    """-> (spec, attrs) -> Deferred[action]: one connection per request (Postfix keeps them
    open for smtpd_policy_service_max_idle; pfx does not yet)."""
    def query(spec, attrs):
        kind, _, where = spec.partition(":")
        if kind == "unix":
            endpoint = endpoints.UNIXClientEndpoint(reactor, where, timeout=timeout)
        else:
            if kind != "inet":
                where = spec  # "host:port" alone means inet, as in Postfix
            host, _, port = where.rpartition(":")
            endpoint = endpoints.HostnameEndpoint(reactor, host.strip("[]"), int(port), timeout=timeout)
        done = defer.Deferred()
        connecting = endpoints.connectProtocol(endpoint, _PolicyExchange(encode_request(attrs), done))
        connecting.addErrback(lambda f: done.called or done.errback(f))

        def stop_connecting(result):
            if not connecting.called:
                connecting.cancel()  # timed out before the connection was even made
            return result
        return done.addTimeout(timeout, reactor).addBoth(stop_connecting)
    return query


SASL_TIMEOUT = 60.0  # Dovecot delays failures (0.5 s and up, 15 s when guessing goes on)


def sasl_backend(settings, config, reactor, clock, tables, run_blocking=None):
    """smtpd_sasl_type + smtpd_sasl_path -> a backend (see pfx.smtpd.sasl), or None."""
    s = config.sasl
    if not s.enabled:
        return None
    if s.type == "pfx":
        if ":" not in s.path or tables is None:
            raise _error(settings, "smtpd_sasl_path",
                         "with smtpd_sasl_type = pfx, smtpd_sasl_path names a lookup table (type:name)")
        return PfxBackend(tables.open_list(s.path), s.local_domain, run_blocking)
    if s.path.startswith("inet:"):
        host, _, port = s.path[5:].rpartition(":")
        if not port.isdigit():
            raise _error(settings, "smtpd_sasl_path", f"bad inet address: {s.path}")
        endpoint = endpoints.HostnameEndpoint(reactor, host.strip("[]"), int(port), timeout=SASL_TIMEOUT)
    else:
        path = s.path.removeprefix("unix:")
        if not os.path.isabs(path):  # as in Postfix: relative to the queue directory
            path = os.path.join(settings.get_str("queue_directory"), path)
        endpoint = endpoints.UNIXClientEndpoint(reactor, path, timeout=SASL_TIMEOUT)

    def connect():
        return endpoints.connectProtocol(endpoint, DovecotAuthConnection(os.getpid()))
    return DovecotBackend(connect, SASL_TIMEOUT, clock, service=s.service)


class SmtpdFactory(protocol.Factory):
    """Builds one protocol + session per connection; counts connections per client and in all."""

    def __init__(self, config, context, log, tls, wrapped, maxproc, tables=None, name_lookup=None,
                 service_name="smtp", sasl=None):
        self.config, self.context, self.log = config, context, log
        self.sasl = sasl  # a SASL backend, or None
        self.auth_rate = RateCounter(context.runtime.clock, config.rate_time_unit)
        self.service_name = service_name
        self.event_limits = EventLimits(context.runtime.clock, config.rate_time_unit, config.message_rate_limit,
                                        config.recipient_rate_limit, config.event_limit_exceptions, service_name)
        self.policy = policy_client(context.runtime.reactor, config.policy_timeout)
        self.recent = collections.defaultdict(collections.deque)  # ip -> connect times (anvil's rate)
        self.name_lookup = name_lookup
        self.clock = context.runtime.clock
        self.tls, self.wrapped, self.maxproc = tls, wrapped, maxproc
        self.tables = tables
        self.per_client = collections.Counter()
        self.active = 0
        self.ports = []

    def buildProtocol(self, addr):
        host = _plain_ip(getattr(addr, "host", ""))
        self.per_client[host] += 1
        self.active += 1
        over = self._over_limit(host)
        conn = ServerConnection(self.config.server_config(host, self.tls is not None and not self.wrapped))
        if self.wrapped:
            conn.tls_active = True
        client = Client(name="unknown", addr=host, port=str(getattr(addr, "port", "")))
        session = Session(conn, self.config, client, self.log, self.clock,
                          lambda: self.context.require(IMailSubmitter), tables=self.tables, over_limit=over,
                          name_lookup=self.name_lookup, resolver=self.context.runtime.resolver,
                          policy=self.policy, limits=self.event_limits)
        if self.sasl is not None:
            session.sasl = AuthDialogue(self.config.sasl, self.sasl, self.log, host, lambda: session.namaddr,
                                        rate=self.auth_rate.hit)
        proto = SMTPServerProtocol(conn, session, self.clock, self.config.timeout, self.tls,
                                   on_close=lambda: self._release(host))
        proto.factory = self
        if self.maxproc and self.active >= self.maxproc:
            self._accepting(False)
        return proto

    def _over_limit(self, host):
        """The warning to log when ``host`` is over a per-client limit (anvil's job), or None."""
        c = self.config
        if c.event_limit_exceptions.match(host):
            return None
        count = self.per_client[host]
        if c.connection_count_limit and count > c.connection_count_limit:
            return f"Connection concurrency limit exceeded: {count} from {{namaddr}} for service {self.service_name}"
        if c.connection_rate_limit:
            now, times = self.clock.seconds(), self.recent[host]
            times.append(now)
            while times and times[0] <= now - c.rate_time_unit:
                times.popleft()
            if len(times) > c.connection_rate_limit:
                return f"Connection rate limit exceeded: {len(times)} from {{namaddr}} for service {self.service_name}"
        return None

    def _release(self, host):
        self.per_client[host] -= 1
        if not self.per_client[host]:
            del self.per_client[host]
        times = self.recent.get(host)
        if times is not None:
            while times and times[0] <= self.clock.seconds() - self.config.rate_time_unit:
                times.popleft()
            if not times:
                del self.recent[host]  # memory stays bounded by the clients of the last time unit
        self.active -= 1
        if self.maxproc and self.active < self.maxproc:
            self._accepting(True)

    def _accepting(self, on: bool):
        for port in self.ports:
            switch = getattr(port, "startReading" if on else "stopReading", None)
            if switch is not None:
                switch()


class SmtpdService(Service):
    """Listens on every address of its row; stopping closes the listeners (connections stay)."""

    def __init__(self, endpoints_, factory, log):
        self.endpoints, self.factory, self.log = endpoints_, factory, log
        self._listening = None

    def privilegedStartService(self):
        """At start-up (before privileges drop): a port that cannot be bound stops pfx,
        as it stops Postfix's master."""
        super().privilegedStartService()
        problem = self._listen()
        if problem is not None:
            self.log.fatal(problem)
            sys.stderr.write(f"pfx/smtpd: fatal: {problem}\n")
            raise SystemExit(1)

    def _listen(self):
        """Listen on every endpoint; -> the first bind failure's text, or None."""
        self._listening = []
        for ep in self.endpoints:
            d = ep.listen(self.factory)
            failed = []
            d.addErrback(failed.append)
            if failed:  # TCP binds fail at once
                return f"bind {getattr(ep, '_interface', '')} port {getattr(ep, '_port', '')}: " \
                       f"{failed[0].getErrorMessage()}"
            self._listening.append(d.addCallbacks(self._bound, self._bind_failed, errbackArgs=(ep,)))
        return None

    def _bound(self, port):
        self.factory.ports.append(port)
        return port

    def _bind_failed(self, failure, ep):
        self.log.error(f"bind {getattr(ep, '_interface', '')} port {getattr(ep, '_port', '')}: "
                       f"{failure.getErrorMessage()}")
        return None

    def startService(self):
        if self._listening is None:  # added by a reload: other services keep running
            problem = self._listen()
            if problem is not None:
                self.log.error(problem)
        super().startService()

    def stopService(self):
        super().stopService()
        waiting, self._listening = self._listening or [], None
        d = defer.gatherResults(waiting)

        def close(ports):
            self.factory.ports = []
            return defer.gatherResults([defer.maybeDeferred(p.stopListening) for p in ports if p is not None])
        return d.addCallback(close)


def _tables():
    from pfx.tables.registry import Registry, types_by_name

    return Registry(types_by_name(getPlugins(ITableType)))


def make_service(entry, context):
    """One master.cf ``inet`` row -> SmtpdService. Raises ConfigError for bad settings."""
    if entry.type != "inet":
        raise ConfigError(f"smtpd serves inet rows, not {entry.type}", entry.file, entry.line)
    settings = context.settings
    tables = getattr(context, "tables", None) or getattr(context.runtime, "tables", None) or _tables()
    config = from_settings(settings, tables)
    try:
        validate(config)
    except ConfigError as e:
        raise _error(settings, e.param, e.message) from None  # now with main.cf's file and line
    tls = tls_options(settings)
    wrapped = bool(settings.get("smtpd_tls_wrappermode"))
    log = context.logger("smtpd")
    if context.runtime.resolver is None:
        words = {w.lower() for ws in list(config.restrictions.values()) + list(config.classes.values()) for w in ws}
        dns_words = sorted(w for w in words if w.startswith(("reject_unknown_", "reject_rbl_", "reject_rhsbl_")))
        if dns_words:
            log.warning(f"no DNS resolver is configured: {', '.join(dns_words)} will be skipped")
    maxproc = entry.maxproc_or(settings.get("default_process_limit"))
    run_blocking = context.runtime.run_blocking
    lookup = None
    if settings.get("smtpd_peername_lookup") and run_blocking is not None:
        lookup = lambda addr: run_blocking(verified_name, addr)  # noqa: E731
    backend = sasl_backend(settings, config, context.runtime.reactor, context.runtime.clock, tables, run_blocking)
    factory = SmtpdFactory(config, context, log, tls, wrapped, maxproc, tables, lookup, entry.service, backend)
    outer = TLSMemoryBIOFactory(tls, False, factory) if wrapped else factory
    reactor = context.runtime.reactor
    eps = [_endpoint(reactor, host, port) for host, port in listen_addresses(entry.service, settings)]
    return SmtpdService(eps, outer, log)
