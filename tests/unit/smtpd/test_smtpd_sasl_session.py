"""The session's AUTH dialogue and its replies, on a StringTransport with the built-in backend."""

import base64

import attrs
import pytest
from twisted.internet import defer
from twisted.plugin import getPlugins

from pfx.interfaces import ITableType
from pfx.smtpd.sasl import AuthDialogue, RateCounter
from pfx.smtpd.sasl_dovecot import Answer, Mechanism
from pfx.smtpd.sasl_pfx import PfxBackend, make_hash
from pfx.tables.registry import Registry, types_by_name
from tests.unit.smtpd.smtpd_helpers import Harness


def b64(text):
    return base64.b64encode(text.encode()).decode()


@pytest.fixture
def users(tmp_path):
    path = tmp_path / "sasl_users"
    path.write_text(f"bob {make_hash('bobpw', ln=4)}\nalice@example.test {make_hash('alicepw', ln=4)}\n")
    return path


def tables():
    return Registry(types_by_name(getPlugins(ITableType)), warn=lambda m: None)


def harness(users, tls=False, backend=None, **settings):
    values = {"smtpd_sasl_auth_enable": "yes", "smtpd_sasl_type": "pfx",
              "smtpd_sasl_path": f"texthash:{users}", "mynetworks": "192.0.2.0/24", **settings}
    reg = tables()
    h = Harness(tables=reg, **values)
    if backend is None:
        backend = PfxBackend(reg.open_list(f"texthash:{users}"), h.config.sasl.local_domain)
    h.rate = RateCounter(h.clock, 60)
    h.session.sasl = AuthDialogue(h.config.sasl, backend, h.log, "127.0.0.1", lambda: h.session.namaddr,
                                  rate=h.rate.hit)
    h.conn.tls_active = tls
    h.out()
    return h


def test_ehlo_offers_the_mechanisms(users):
    h = harness(users)
    assert "250-AUTH PLAIN LOGIN" in h.ask("EHLO c.example")
    h = harness(users, broken_sasl_auth_clients="yes")
    lines = h.ask("EHLO c.example")
    assert "250-AUTH PLAIN LOGIN" in lines and "250-AUTH=PLAIN LOGIN" in lines


def test_noplaintext_hides_plaintext_mechanisms_until_tls(users):
    opts = {"smtpd_sasl_security_options": "noanonymous, noplaintext",
            "smtpd_sasl_tls_security_options": "noanonymous"}
    h = harness(users, **opts)
    assert not [x for x in h.ask("EHLO c.example") if "AUTH" in x]
    assert h.ask(f"AUTH PLAIN {b64(chr(0) + 'bob' + chr(0) + 'bobpw')}") == \
        ["535 5.7.8 Error: authentication failed: Invalid authentication mechanism"]
    h = harness(users, tls=True, **opts)
    assert "250-AUTH PLAIN LOGIN" in h.ask("EHLO c.example")


def test_tls_auth_only(users):
    h = harness(users, smtpd_tls_auth_only="yes")
    assert not [x for x in h.ask("EHLO c.example") if "AUTH" in x]
    assert h.ask("AUTH PLAIN") == ["504 5.5.4 Encryption required for requested authentication mechanism"]


def test_exceptions_networks_get_no_auth(users):
    h = harness(users, smtpd_sasl_exceptions_networks="127.0.0.0/8")
    assert not [x for x in h.ask("EHLO c.example") if "AUTH" in x]


def test_plain_success_then_already_authenticated(users):
    h = harness(users)
    h.ask("EHLO c.example")
    assert h.ask(f"AUTH PLAIN {b64(chr(0) + 'bob' + chr(0) + 'bobpw')}") == ["235 2.7.0 Authentication successful"]
    assert h.ask("AUTH PLAIN") == ["503 5.5.1 Error: already authenticated"]
    assert h.session.sasl_username == "bob" and h.session.sasl_method == "PLAIN"
    assert "bobpw" not in h.log.text()


def test_plain_without_initial_response(users):
    h = harness(users)
    h.ask("EHLO c.example")
    assert h.ask("AUTH PLAIN") == ["334 "]
    assert h.ask(b64("\0alice@example.test\0alicepw")) == ["235 2.7.0 Authentication successful"]


def test_login(users):
    h = harness(users)
    h.ask("EHLO c.example")
    assert h.ask("AUTH LOGIN") == ["334 VXNlcm5hbWU6"]
    assert h.ask(b64("bob")) == ["334 UGFzc3dvcmQ6"]
    assert h.ask(b64("bobpw")) == ["235 2.7.0 Authentication successful"]


def test_bad_password_and_abort_and_bad_base64(users):
    h = harness(users)
    h.ask("EHLO c.example")
    assert h.ask(f"AUTH PLAIN {b64(chr(0) + 'bob' + chr(0) + 'wrong')}") == \
        ["535 5.7.8 Error: authentication failed: (reason unavailable)"]
    assert "warning: client.example.org[127.0.0.1]: SASL PLAIN authentication failed: " \
           "(reason unavailable), sasl_username=bob" in h.log.lines
    assert "wrong" not in h.log.text()
    assert h.ask("AUTH LOGIN") == ["334 VXNlcm5hbWU6"]
    assert h.ask("*") == ["501 5.7.0 Authentication aborted"]
    assert h.ask("AUTH PLAIN !!!") == \
        ["535 5.7.8 Error: authentication failed: Invalid base64 data in initial response"]
    assert h.ask("AUTH CRAM-MD5") == ["535 5.7.8 Error: authentication failed: Invalid authentication mechanism"]
    assert h.conn.error_count == 4
    # as Postfix 3.7 logs them: the abort, and the last user name the backend named
    assert "warning: client.example.org[127.0.0.1]: SASL LOGIN authentication aborted" in h.log.lines
    assert "warning: client.example.org[127.0.0.1]: SASL CRAM-MD5 authentication failed: " \
           "Invalid authentication mechanism, sasl_username=bob" in h.log.lines


def test_not_enabled_and_transaction_in_progress(users):
    h = Harness()
    h.out()
    h.ask("EHLO c.example")
    assert h.ask("AUTH PLAIN") == ["503 5.5.1 Error: authentication not enabled"]
    h = harness(users)
    h.ask("EHLO c.example")
    h.ask("MAIL FROM:<a@b.example>")
    assert h.ask("AUTH PLAIN") == ["503 5.5.1 Error: MAIL transaction in progress"]


def test_must_starttls_first(users):
    h = harness(users, smtpd_tls_security_level="encrypt")
    h.conn.config = attrs.evolve(h.conn.config, tls_required=True, tls_available=True)
    h.ask("EHLO c.example")
    assert h.ask("AUTH PLAIN") == ["530 5.7.0 Must issue a STARTTLS command first"]


class Down:
    def mechanisms(self):
        return defer.succeed([Mechanism("PLAIN", frozenset({"plaintext"}))])

    def exchange(self, mech, **kw):
        return self

    def first(self, initial):
        return defer.fail(ConnectionRefusedError("connection refused"))

    def abort(self):
        pass


class TempFail(Down):
    def first(self, initial):
        return defer.succeed(Answer("fail", "1", fields={"reason": "try later"}, flags=frozenset({"temp"})))


def test_backend_down_is_a_temporary_failure(users):
    h = harness(users, backend=Down())
    h.ask("EHLO c.example")
    assert h.ask("AUTH PLAIN =") == ["454 4.7.0 Temporary authentication failure: authentication server unavailable"]
    h = harness(users, backend=TempFail())
    h.ask("EHLO c.example")
    assert h.ask("AUTH PLAIN =") == ["454 4.7.0 Temporary authentication failure: try later"]


def test_auth_rate_limit(users):
    h = harness(users, smtpd_client_auth_rate_limit="2")
    h.ask("EHLO c.example")
    assert h.ask("AUTH LOGIN")[0].startswith("334")
    h.ask("*")
    assert h.ask("AUTH LOGIN")[0].startswith("334")
    h.ask("*")
    assert h.ask("AUTH LOGIN") == ["450 4.7.1 Error: too many AUTH commands from 127.0.0.1"]
    assert "warning: AUTH command rate limit exceeded: 3 from client.example.org[127.0.0.1] for service smtp" \
        in h.log.lines
    h.clock.advance(61)
    assert h.ask("AUTH LOGIN")[0].startswith("334")


def test_relay_after_auth_log_envelope_and_received(users):
    h = harness(users, smtpd_sasl_authenticated_header="yes", mydestination="mx.example.test")
    h.ask("EHLO c.example")
    assert h.ask("RCPT TO:<x@elsewhere.example>")[0].startswith("503")
    h.ask("MAIL FROM:<bob@example.test>")
    assert h.ask("RCPT TO:<x@elsewhere.example>")[0].startswith("454 4.7.1")  # defer_unauth_destination
    h.ask("RSET")
    h.ask(f"AUTH PLAIN {b64(chr(0) + 'bob' + chr(0) + 'bobpw')}")
    h.ask("MAIL FROM:<bob@example.test> AUTH=<>")
    assert h.ask("RCPT TO:<x@elsewhere.example>") == ["250 2.1.5 Ok"]
    assert h.ask("DATA")[0].startswith("354")
    h.ask("Subject: x\r\n\r\nhi\r\n.")
    assert "4QID1: client=client.example.org[127.0.0.1], sasl_method=PLAIN, sasl_username=bob" in h.log.lines
    h.ask("MAIL FROM:<bob@example.test> AUTH=bob+2Bx@example.test")
    h.ask("RCPT TO:<x@elsewhere.example>")
    h.ask("DATA")
    h.ask("Subject: y\r\n\r\nhi\r\n.")
    assert "4QID2: client=client.example.org[127.0.0.1], sasl_method=PLAIN, sasl_username=bob, " \
           "sasl_sender=bob+2Bx@example.test" in h.log.lines  # as sent, as Postfix logs it
    w = h.submitter.writers[0]
    assert (w.envelope.client.sasl_method, w.envelope.client.sasl_username) == ("PLAIN", "bob")
    assert w.envelope.client.protocol == "ESMTPA"
    assert b"\t(Authenticated sender: bob)\n\tby mx.example.test (pfx) with ESMTPA id 4QID1" in w.data


def test_sender_login_mismatch(users, tmp_path):
    maps = tmp_path / "logins"
    maps.write_text("bob@example.test bob\nalice@example.test alice@example.test\n")
    h = harness(users, smtpd_sender_login_maps=f"texthash:{maps}",
                smtpd_sender_restrictions="reject_sender_login_mismatch", smtpd_delay_reject="no")
    h.ask("EHLO c.example")
    assert h.ask("MAIL FROM:<bob@example.test>") == \
        ["553 5.7.1 <bob@example.test>: Sender address rejected: not logged in"]
    assert h.ask("MAIL FROM:<nobody@example.test>") == ["250 2.1.0 Ok"]
    h.ask("RSET")
    h.ask(f"AUTH PLAIN {b64(chr(0) + 'bob' + chr(0) + 'bobpw')}")
    assert h.ask("MAIL FROM:<alice@example.test>") == \
        ["553 5.7.1 <alice@example.test>: Sender address rejected: not owned by user bob"]
    assert h.ask("MAIL FROM:<bob@example.test>") == ["250 2.1.0 Ok"]


@pytest.mark.parametrize("restriction,unlisted_after_auth,listed_unauth", [
    ("reject_authenticated_sender_login_mismatch", "553", "250"),
    ("reject_known_sender_login_mismatch", "250", "553"),
    ("reject_unauthenticated_sender_login_mismatch", "250", "553"),
])
def test_login_mismatch_variants(users, tmp_path, restriction, unlisted_after_auth, listed_unauth):
    maps = tmp_path / "logins"
    maps.write_text("alice@example.test alice@example.test\n")
    settings = dict(smtpd_sender_login_maps=f"texthash:{maps}", smtpd_sender_restrictions=restriction,
                    smtpd_delay_reject="no")
    h = harness(users, **settings)
    h.ask("EHLO c.example")
    assert h.ask("MAIL FROM:<alice@example.test>")[0][:3] == listed_unauth
    h = harness(users, **settings)
    h.ask("EHLO c.example")
    h.ask(f"AUTH PLAIN {b64(chr(0) + 'bob' + chr(0) + 'bobpw')}")
    assert h.ask("MAIL FROM:<unlisted@example.test>")[0][:3] == unlisted_after_auth


class Recording(Down):
    def __init__(self):
        self.calls, self.aborted = [], False

    def exchange(self, mech, **kw):
        self.calls.append(kw)
        return self

    def first(self, initial):
        self.pending = defer.Deferred()
        return self.pending

    def abort(self):
        self.aborted = True


def test_dovecot_gets_lip_rip_secured_and_a_lost_client_aborts(users):
    backend = Recording()
    h = harness(users, tls=True, backend=backend)
    h.session.sasl.local_addr = "10.0.0.1"
    h.ask("EHLO c.example")
    h.say("AUTH PLAIN =\r\n")
    assert backend.calls == [{"lip": "10.0.0.1", "rip": "127.0.0.1", "secured": True}]
    h.close()
    assert backend.aborted


def test_policy_request_names_the_login():
    from pfx.smtpd.checks import CheckState
    from pfx.smtpd.policy import request_attributes
    from tests.unit.smtpd.smtpd_helpers import make_config
    state = CheckState(make_config(), "c.example", "192.0.2.1", sasl_authenticated=True, sasl_username="bob",
                       sasl_method="LOGIN", sasl_sender="alice@example.test")
    attrs_ = request_attributes(state)
    assert (attrs_["sasl_method"], attrs_["sasl_username"]) == ("LOGIN", "bob")
    assert attrs_["sasl_sender"] == "alice@example.test"


def test_configuration_errors():
    from pfx.errors import ConfigError
    from tests.unit.smtpd.smtpd_helpers import make_config
    with pytest.raises(ConfigError) as e:
        make_config(smtpd_sasl_auth_enable="yes", smtpd_sasl_type="cyrus")
    assert e.value.param == "smtpd_sasl_type"
    with pytest.raises(ConfigError) as e:
        make_config(smtpd_sasl_security_options="noanonymous, nosuch")
    assert e.value.param == "smtpd_sasl_security_options"
    c = make_config(smtpd_sasl_auth_enable="yes", smtpd_sasl_security_options="noplaintext")
    assert c.sasl.tls_options == frozenset({"noplaintext"}) and c.server.sasl_enabled
