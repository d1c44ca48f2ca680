"""service.sasl_backend: smtpd_sasl_type and smtpd_sasl_path become a backend."""

import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock

from pfx.errors import ConfigError
from pfx.smtpd.config import from_settings
from pfx.smtpd.sasl_dovecot import DovecotBackend
from pfx.smtpd.sasl_pfx import PfxBackend
from pfx.smtpd.service import sasl_backend
from tests.unit.smtpd.smtpd_helpers import make_settings
from tests.unit.smtpd.test_smtpd_sasl_session import tables


def backend(**values):
    settings = make_settings(**values)
    return sasl_backend(settings, from_settings(settings, tables()), MemoryReactorClock(), Clock(), tables())


def test_off_dovecot_and_pfx():
    assert backend() is None
    assert isinstance(backend(smtpd_sasl_auth_enable="yes"), DovecotBackend)
    assert isinstance(backend(smtpd_sasl_auth_enable="yes", smtpd_sasl_path="inet:127.0.0.1:12345"), DovecotBackend)
    assert isinstance(backend(smtpd_sasl_auth_enable="yes", smtpd_sasl_type="pfx",
                              smtpd_sasl_path="inline:{a=b}"), PfxBackend)


def test_relative_socket_is_under_the_queue_directory():
    settings = make_settings(smtpd_sasl_auth_enable="yes", queue_directory="/var/spool/pfx")
    reactor = MemoryReactorClock()
    b = sasl_backend(settings, from_settings(settings, tables()), reactor, Clock(), tables())
    b.mechanisms()
    assert [c[0] for c in reactor.unixClients] == ["/var/spool/pfx/private/auth"]


def test_bad_paths():
    with pytest.raises(ConfigError):
        backend(smtpd_sasl_auth_enable="yes", smtpd_sasl_type="pfx", smtpd_sasl_path="private/auth")
    with pytest.raises(ConfigError):
        backend(smtpd_sasl_auth_enable="yes", smtpd_sasl_path="inet:localhost")
