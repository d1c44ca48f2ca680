"""make_service on a MemoryReactor: listen addresses, TLS options and errors, connection caps."""

import subprocess

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.protocols.tls import TLSMemoryBIOFactory
from zope.interface.verify import verifyObject

from pfx.config.mastercf import parse_row
from pfx.errors import ConfigError
from pfx.interfaces import IServiceFactory
from pfx.runtime.build import inline_runtime
from pfx.runtime.context import Components, ServiceContext
from pfx.smtpd.plugin import SmtpdServiceFactory
from pfx.smtpd.service import listen_addresses
from tests.unit.smtpd.smtpd_helpers import RecordingLog, make_settings


class Log(RecordingLog):
    def child(self, program, syslog_name=None):
        return self


def build(row="127.0.0.1:2525 inet n - n - - smtpd", **settings):
    reactor = MemoryReactorClock()
    log = Log()
    settings.setdefault("smtpd_peername_lookup", "no")  # no DNS in unit tests
    context = ServiceContext(make_settings(**settings), inline_runtime(reactor, log=log, reactor=reactor),
                             "/tmp", Components())
    service = SmtpdServiceFactory().make_service(parse_row(row, "master.cf", 1), context)
    return service, reactor, log


def test_plugin_provides_the_interface():
    factory = SmtpdServiceFactory()
    assert verifyObject(IServiceFactory, factory)
    assert factory.start_order == 60
    names = {p.name for p in factory.parameters}
    assert {"smtpd_banner", "smtpd_relay_restrictions", "smtpd_tls_security_level"} <= names


@pytest.mark.parametrize("service,expected", [
    ("127.0.0.1:2525", [("127.0.0.1", 2525)]),
    ("[::1]:2525", [("::1", 2525)]),
    ("2525", [("127.0.0.1", 2525)]),
    ("smtp", [("127.0.0.1", 25)]),
])
def test_listen_addresses(service, expected):
    assert listen_addresses(service, make_settings()) == expected


def test_listen_on_all_interfaces():
    assert listen_addresses("25", make_settings(inet_interfaces="all", inet_protocols="ipv4")) == [("0.0.0.0", 25)]


def test_listens_in_privileged_start_and_stops():
    service, reactor, _ = build()
    service.privilegedStartService()
    service.startService()
    port, factory, backlog, interface = reactor.tcpServers[0]
    assert (port, interface) == (2525, "127.0.0.1")
    service.stopService()


def test_non_inet_row_is_refused():
    with pytest.raises(ConfigError):
        build("smtpd unix - - n - - smtpd")


def connect(factory, host="192.0.2.9"):
    proto = factory.buildProtocol(IPv4Address("TCP", host, 40000))
    transport = StringTransport()
    proto.makeConnection(transport)
    return proto, transport


def test_per_client_connection_limit():
    service, _, log = build(smtpd_client_connection_count_limit=2)
    factory = service.factory
    for _ in range(2):
        assert connect(factory)[1].value().startswith(b"220 ")
    proto, transport = connect(factory)
    assert transport.value() == b"421 4.7.0 mx.example.test Error: too many connections from 192.0.2.9\r\n"
    assert transport.disconnecting
    assert "warning: Connection concurrency limit exceeded: 3 from unknown[192.0.2.9] for service 127.0.0.1:2525" \
        in log.lines
    assert connect(factory, "192.0.2.10")[1].value().startswith(b"220 ")
    assert connect(factory, "127.0.0.1")[1].value().startswith(b"220 ")  # mynetworks is exempt


def test_per_client_connection_rate_limit():
    service, reactor, log = build(smtpd_client_connection_rate_limit=2, anvil_rate_time_unit="60s")
    factory = service.factory
    for _ in range(2):
        proto, transport = connect(factory)
        assert transport.value().startswith(b"220 ")
        proto.connectionLost(None)
    proto, transport = connect(factory)
    assert transport.value() == b"421 4.7.0 mx.example.test Error: too many connections from 192.0.2.9\r\n"
    assert "warning: Connection rate limit exceeded: 3 from unknown[192.0.2.9] for service 127.0.0.1:2525" \
        in log.lines
    proto.connectionLost(None)
    reactor.advance(61)
    assert connect(factory)[1].value().startswith(b"220 ")


class FakePort:
    def __init__(self):
        self.reading = True

    def stopReading(self):
        self.reading = False

    def startReading(self):
        self.reading = True


def test_maxproc_pauses_accepting():
    service, _, _ = build("127.0.0.1:2525 inet n - n - 2 smtpd")
    factory = service.factory
    factory.ports = [FakePort()]
    first, _ = connect(factory)
    connect(factory)
    assert not factory.ports[0].reading
    first.connectionLost(None)
    assert factory.ports[0].reading


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    path = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(path / "key.pem"), "-out", str(path / "cert.pem"), "-days", "1",
                    "-subj", "/CN=mx.example.test"], check=True, capture_output=True)
    return path


def test_tls_may_offers_starttls(cert):
    service, _, _ = build(smtpd_tls_security_level="may", smtpd_tls_cert_file=cert / "cert.pem",
                          smtpd_tls_key_file=cert / "key.pem")
    proto, transport = connect(service.factory)
    transport.clear()
    proto.dataReceived(b"EHLO c\r\n")
    assert b"250-STARTTLS\r\n" in transport.value()


def test_tls_chain_files(cert):
    chain = cert / "chain.pem"
    chain.write_bytes((cert / "key.pem").read_bytes() + (cert / "cert.pem").read_bytes())
    service, _, _ = build(smtpd_tls_security_level="may", smtpd_tls_chain_files=chain)
    assert service.factory.tls is not None


def test_tls_wrappermode_wraps_the_factory(cert):
    service, _, _ = build(smtpd_tls_wrappermode="yes", smtpd_tls_cert_file=cert / "cert.pem",
                          smtpd_tls_key_file=cert / "key.pem")
    assert isinstance(service.factory, TLSMemoryBIOFactory)


@pytest.mark.parametrize("settings,param", [
    ({"smtpd_tls_security_level": "may", "smtpd_tls_cert_file": "/nonexistent/cert.pem"}, "smtpd_tls_cert_file"),
    ({"smtpd_tls_security_level": "encrypt"}, "smtpd_tls_cert_file"),
    ({"smtpd_tls_security_level": "sometimes"}, "smtpd_tls_security_level"),
    ({"smtpd_forbid_bare_newline": "maybe"}, "smtpd_forbid_bare_newline"),
])
def test_bad_tls_settings_name_the_parameter(settings, param):
    with pytest.raises(ConfigError) as e:
        build(**settings)
    assert e.value.param == param


def test_bad_key_names_the_parameter(cert):
    with pytest.raises(ConfigError) as e:
        build(smtpd_tls_security_level="may", smtpd_tls_cert_file=cert / "cert.pem",
              smtpd_tls_key_file=cert / "cert.pem")
    assert e.value.param == "smtpd_tls_key_file"


def test_key_of_another_certificate_is_refused(cert, tmp_path):
    subprocess.run(["openssl", "genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-out", str(tmp_path / "other.pem")], check=True, capture_output=True)
    with pytest.raises(ConfigError) as e:
        build(smtpd_tls_security_level="may", smtpd_tls_cert_file=cert / "cert.pem",
              smtpd_tls_key_file=tmp_path / "other.pem")
    assert e.value.param == "smtpd_tls_cert_file"


def test_tls_protocol_floor(cert):
    service, _, _ = build(smtpd_tls_security_level="may", smtpd_tls_cert_file=cert / "cert.pem",
                          smtpd_tls_key_file=cert / "key.pem", smtpd_tls_protocols=">=TLSv1.3",
                          smtpd_tls_ciphers="high")
    assert service.factory.tls is not None


@pytest.mark.parametrize("settings,param", [
    ({"smtpd_recipient_restrictions": "permit_mynetworks, reject_rbl_clientx"}, "smtpd_recipient_restrictions"),
    ({"smtpd_client_restrictions": "check_client_access"}, "smtpd_client_restrictions"),
    ({"smtpd_restriction_classes": "strict", "strict": "nonsense"}, "strict"),
])
def test_bad_restriction_lists_stop_start_up(settings, param):
    with pytest.raises(ConfigError) as e:
        build(**settings)
    assert e.value.param == param


def test_good_restriction_lists_pass():
    build(smtpd_restriction_classes="strict", strict="reject_non_fqdn_sender, permit",
          smtpd_recipient_restrictions="warn_if_reject strict, check_recipient_access inline:{a=OK}, "
                                       "permit_mynetworks, reject_unauth_destination")


@pytest.mark.parametrize("level,mandatory,opportunistic,tls12_refused", [
    ("may", ">=TLSv1.3", "", False),  # mandatory_* apply only with encrypt
    ("encrypt", ">=TLSv1.3", "", True),
    ("may", "", ">=TLSv1.3", True),
    ("encrypt", "", ">=TLSv1.3", False),  # ... and then smtpd_tls_protocols does not
])
def test_mandatory_protocols_apply_with_encrypt_only(cert, level, mandatory, opportunistic, tls12_refused):
    from OpenSSL import SSL
    service, _, _ = build(smtpd_tls_security_level=level, smtpd_tls_cert_file=cert / "cert.pem",
                          smtpd_tls_key_file=cert / "key.pem", smtpd_tls_mandatory_protocols=mandatory,
                          smtpd_tls_protocols=opportunistic)
    options = service.factory.tls.getContext().set_options(0)  # 0 adds nothing: the current set
    assert bool(options & SSL.OP_NO_TLSv1_2) == tls12_refused
