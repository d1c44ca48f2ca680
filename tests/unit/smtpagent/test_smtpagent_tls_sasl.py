"""TLS policy decisions (levels, policy maps, certificate names) and client SASL (PLAIN, LOGIN)."""

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import crypto
from smtpagent_fakes import FakeResolver, FakeServer, Tables, make_agent, request, result_of, settings

from pfx.agents.smtp import tls_policy
from pfx.agents.smtp.destinations import Target
from pfx.agents.smtp.params import read_config

ONE = FakeResolver(mx={"example.com": [(10, "mx1.example.com")]}, a={"mx1.example.com": ["192.0.2.1"]})
TARGET = Target("mx1.example.com", "192.0.2.1", 25, nexthop="example.com", mx=True)


def run(server, tables=None, **values):
    agent, net, _ = make_agent({"192.0.2.1": server}, ONE, tables=tables, **values)
    [s] = result_of(agent.deliver(request("a@example.com"))).statuses
    return s, net


def cert(*names):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    c = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
         .public_key(key.public_key()).serial_number(1).not_valid_before(now)
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
         .sign(key, hashes.SHA256()))
    return crypto.X509.from_cryptography(c)


# -- levels -------------------------------------------------------------------------------

def test_none_never_sends_starttls():
    server = FakeServer()
    s, _ = run(server)
    assert s.action == "sent" and "STARTTLS" not in server.lines


def test_may_uses_starttls_and_says_ehlo_again():
    server = FakeServer()
    s, _ = run(server, smtp_tls_security_level="may")
    assert s.action == "sent"
    assert server.lines[:3] == ["EHLO client.example", "STARTTLS", "EHLO client.example"]


def test_may_without_starttls_offered_is_plaintext():
    server = FakeServer(ehlo=("PIPELINING",))
    s, _ = run(server, smtp_tls_security_level="may")
    assert s.action == "sent" and "STARTTLS" not in server.lines


def test_may_continues_in_plaintext_when_the_server_refuses_starttls():
    server = FakeServer(replies={"STARTTLS": "454 4.7.0 TLS not available"})
    s, net = run(server, smtp_tls_security_level="may")
    assert s.action == "sent" and len(net.attempts) == 1


def test_may_after_a_failed_handshake_reconnects_in_plaintext():
    server = FakeServer()
    server.tls_fails = True
    s, net = run(server, smtp_tls_security_level="may")
    assert s.action == "sent"
    assert len(net.attempts) == 2  # never plaintext on the connection that failed TLS
    assert server.lines.count("STARTTLS") == 1


@pytest.mark.parametrize("level", ["encrypt", "verify", "secure"])
def test_required_tls_not_offered_defers(level):
    s, _ = run(FakeServer(ehlo=("PIPELINING",)), smtp_tls_security_level=level)
    assert (s.action, str(s.dsn), s.text) == (
        "deferred", "4.7.4", "TLS is required, but was not offered by host mx1.example.com[192.0.2.1]")


def test_encrypt_handshake_failure_defers_without_plaintext():
    server = FakeServer()
    server.tls_fails = True
    s, net = run(server, smtp_tls_security_level="encrypt")
    assert (s.action, str(s.dsn), s.text) == (
        "deferred", "4.7.5", "Cannot start TLS: handshake failure")
    assert len(net.attempts) == 1 and "MAIL" not in " ".join(server.lines)


def test_encrypt_refused_starttls_defers():
    s, _ = run(FakeServer(replies={"STARTTLS": "454 4.7.0 no"}), smtp_tls_security_level="encrypt")
    assert s.text == ("TLS is required, but host mx1.example.com[192.0.2.1] refused to start TLS: "
                      "454 4.7.0 no")


@pytest.mark.parametrize("injected", [b"250 2.1.0 injected\r\n", b"250 2.1.0 half a line"])
def test_plaintext_injected_after_starttls_reply_is_a_protocol_error(injected):
    server = FakeServer(plaintext_after_tls=injected)
    s, _ = run(server, smtp_tls_security_level="may")
    assert s.text == ("protocol error with mx1.example.com[192.0.2.1]: unexpected plaintext "
                      "after the 220 reply to STARTTLS")
    assert (s.action, str(s.dsn)) == ("deferred", "4.5.0") and s.text.startswith("protocol error with mx1.example.com[192.0.2.1]")
    assert server.lines == ["EHLO client.example", "STARTTLS"]


def test_verify_checks_the_mx_hostname():
    server = FakeServer()
    agent, net, _ = make_agent({"192.0.2.1": server}, ONE, smtp_tls_security_level="verify")
    original = server.attach

    def attach(proto):
        t = original(proto)
        t.peer_cert = cert("other.example.net")
        return t
    server.attach = attach
    [s] = result_of(agent.deliver(request("a@example.com"))).statuses
    assert (s.action, str(s.dsn), s.text) == (
        "deferred", "4.7.5", "Server certificate not verified")  # smtp_proto.c's words


def test_secure_accepts_a_subdomain_of_the_nexthop_by_default():
    server = FakeServer()
    agent, _, _ = make_agent({"192.0.2.1": server}, ONE, smtp_tls_security_level="secure")
    original = server.attach
    server.attach = lambda proto: setattr(t := original(proto), "peer_cert", cert("mx1.example.com")) or t
    [s] = result_of(agent.deliver(request("a@example.com"))).statuses
    assert s.action == "sent"


def test_policy_map_overrides_the_level_per_destination():
    tables = Tables({"example.com": "encrypt protocols=>=TLSv1.2"})
    s, _ = run(FakeServer(ehlo=("PIPELINING",)), tables=tables, smtp_tls_policy_maps="hash:/p")
    assert str(s.dsn) == "4.7.4"


def test_parent_domain_policy_keys():
    assert tls_policy.policy_keys("mx.example.com") == ["mx.example.com", ".example.com", ".com"]
    assert tls_policy.policy_keys("[mx.example.com]:587") == ["[mx.example.com]:587"]


def test_decide():
    config = read_config(settings(), False)
    p = tls_policy.decide(config, TARGET, "verify match=hostname:nexthop protocols=!SSLv3:!TLSv1")
    assert (p.level, p.match, p.protocols) == ("verify", ("mx1.example.com", "example.com"),
                                               ("TLSv1.1", ""))
    assert tls_policy.decide(config, TARGET, "dane").level == "may"
    assert tls_policy.decide(config, TARGET, "bogus").level == "invalid"
    secure = tls_policy.decide(config, TARGET, "secure")
    assert secure.match == ("example.com", ".example.com") and secure.required
    assert tls_policy.decide(config, TARGET, "may servername=hostname").servername == "mx1.example.com"


def test_invalid_policy_defers():
    s, _ = run(FakeServer(), tables=Tables({"example.com": "bogus"}), smtp_tls_policy_maps="x:y")
    assert str(s.dsn) == "4.7.5" and "invalid TLS security level" in s.text


def test_cert_name_matching():
    m = tls_policy.cert_matches
    assert m(["mx.example.com"], ["MX.example.com"])
    assert m(["mx.example.com"], ["*.example.com"]) and not m(["a.mx.example.com"], ["*.example.com"])
    assert m([".example.com"], ["deep.mx.example.com"]) and not m([".example.com"], ["example.com"])
    assert tls_policy.cert_names(cert("a.test", "b.test")) == ["a.test", "b.test"]


def test_fingerprint_level():
    c = cert("mx1.example.com")
    fp = c.digest("sha256").decode().lower()
    config = read_config(settings(smtp_tls_fingerprint_cert_match=fp), False)
    p = tls_policy.decide(config, TARGET, "fingerprint")
    assert p.required and tls_policy.fingerprint_ok(p, c)
    assert not tls_policy.fingerprint_ok(p, cert("mx1.example.com"))


# -- SASL ---------------------------------------------------------------------------------

SASL = dict(smtp_sasl_auth_enable="yes", smtp_sasl_password_maps="hash:/etc/pfx/sasl",
            smtp_sasl_security_options="noanonymous")
CREDS = Tables({"example.com": "joe:s3cret"})


def test_plain_with_credentials_for_the_nexthop():
    server = FakeServer(ehlo=("PIPELINING", "AUTH PLAIN LOGIN"))
    s, _ = run(server, CREDS, **SASL)
    assert s.action == "sent"
    assert server.lines[1] == "AUTH PLAIN " + base64.b64encode(b"\0joe\0s3cret").decode()


def test_login_when_the_filter_says_so():
    user, pw = base64.b64encode(b"joe").decode(), base64.b64encode(b"s3cret").decode()
    server = FakeServer(ehlo=("AUTH PLAIN LOGIN",), replies={
        "AUTH": "334 VXNlcm5hbWU6", user.upper(): "334 UGFzc3dvcmQ6", pw.upper(): "235 2.7.0 ok"})
    s, _ = run(server, CREDS, smtp_sasl_mechanism_filter="login", **SASL)
    assert s.action == "sent" and server.lines[1:4] == ["AUTH LOGIN", user, pw]


def test_no_credentials_no_auth():
    server = FakeServer(ehlo=("AUTH PLAIN",))
    s, _ = run(server, Tables({}), **SASL)
    assert s.action == "sent" and not any(ln.startswith("AUTH") for ln in server.lines)


def test_noplaintext_leaves_no_mechanism():
    server = FakeServer(ehlo=("AUTH PLAIN LOGIN",))
    s, _ = run(server, CREDS, smtp_sasl_auth_enable="yes", smtp_sasl_password_maps="x:y")
    assert (s.action, str(s.dsn), s.text) == (
        "deferred", "4.7.0", "SASL authentication failed; cannot authenticate to server "
                             "mx1.example.com[192.0.2.1]: no mechanism available")


def test_rejected_credentials_defer_and_are_never_quoted():
    server = FakeServer(ehlo=("AUTH PLAIN",),
                        replies={"AUTH": "535 5.7.8 Error: authentication failed"})
    s, _ = run(server, CREDS, **SASL)
    assert (s.action, str(s.dsn)) == ("deferred", "4.7.8")
    assert s.text == ("SASL authentication failed; server mx1.example.com[192.0.2.1] said: "
                      "535 5.7.8 Error: authentication failed")
    assert "s3cret" not in repr(s) and "czNjcmV0" not in repr(s)


def test_password_lookup_tries_the_server_name_before_the_nexthop():
    server = FakeServer(ehlo=("AUTH PLAIN",))
    tables = Tables({"mx1.example.com": "host:pw1", "example.com": "dest:pw2"})
    run(server, tables, **SASL)
    assert base64.b64decode(server.lines[1].split()[2]) == b"\0host\0pw1"


def test_starttls_handshake_timeout():
    server = FakeServer()
    server.tls_hangs = True
    agent, net, clock = make_agent({"192.0.2.1": server}, ONE, smtp_tls_security_level="encrypt",
                                   smtp_starttls_timeout="9s")
    d = agent.deliver(request("a@example.com"))
    clock.advance(8.9)
    assert not d.called
    clock.advance(0.1)
    [s] = result_of(d).statuses
    assert (s.action, str(s.dsn), s.text) == (
        "deferred", "4.7.5", "Cannot start TLS: handshake failure")
