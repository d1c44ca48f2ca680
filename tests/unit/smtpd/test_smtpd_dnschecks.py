"""The DNS restrictions against a fake twisted.names resolver: unknown domains, null MX, temp failures, DNSBLs."""

import pytest
from twisted.internet import defer
from twisted.names import dns
from twisted.names.error import DNSNameError, DNSServerError

from pfx.smtpd.checks import CheckState, evaluate
from pfx.smtpd.dnschecks import reversed_address
from tests.unit.smtpd.smtpd_helpers import make_config
from tests.unit.smtpd.test_smtpd_checks import result_of

ZONE = {
    "mx.example.org": [(dns.MX, dns.Record_MX(10, b"in.example.org"))],
    "a.example.org": [(dns.A, dns.Record_A("192.0.2.10"))],
    "v6.example.org": [(dns.AAAA, dns.Record_AAAA("2001:db8::1"))],
    "empty.example.org": [],
    "null.example.org": [(dns.MX, dns.Record_MX(0, b""))],
    "nx.example.org": "NX",
    "broken.example.org": "FAIL",
    "2.2.0.192.bl.example": [(dns.A, dns.Record_A("127.0.0.2")), (dns.TXT, dns.Record_TXT(b"listed: spam"))],
    "3.2.0.192.bl.example": [(dns.A, dns.Record_A("127.0.0.4"))],
    "spam.example.org.rhs.example": [(dns.A, dns.Record_A("127.0.0.2"))],
}


class FakeResolver:
    def _lookup(self, name, kind):
        entry = ZONE.get(name, "NX")
        if entry == "NX":
            return defer.fail(DNSNameError(name))
        if entry == "FAIL":
            return defer.fail(DNSServerError(name))
        return defer.succeed(([dns.RRHeader(name, t, payload=p) for t, p in entry if t == kind], [], []))

    def lookupMailExchange(self, name):
        return self._lookup(name, dns.MX)

    def lookupAddress(self, name):
        return self._lookup(name, dns.A)

    def lookupIPV6Address(self, name):
        return self._lookup(name, dns.AAAA)

    def lookupText(self, name):
        return self._lookup(name, dns.TXT)


def reply_of(lists, resolver=FakeResolver(), addr="192.0.2.1", name="client.example.org", helo="c.example.org",
             sender="s@mx.example.org", rcpt="r@mx.example.org", **settings):
    values = {f"smtpd_{stage}_restrictions": text for stage, text in lists.items()}
    values.setdefault("smtpd_relay_restrictions", "")
    values.update(settings)
    state = CheckState(make_config(**values), name, addr, helo=helo, sender=sender, recipient=rcpt,
                       command="RCPT", resolver=resolver)
    v = result_of(evaluate(state, ("client", "helo", "sender", "relay", "recipient")))
    return (str(v.reply) if v.reply else None), state.notes


@pytest.mark.parametrize("sender,expected", [
    ("s@mx.example.org", None),
    ("s@a.example.org", None),
    ("s@v6.example.org", None),
    ("", None),
    ("s@mx.example.test", None),  # our own domain: never looked up
    ("s@nx.example.org", "450 4.1.8 <s@nx.example.org>: Sender address rejected: Domain not found"),
    ("s@empty.example.org", "450 4.1.8 <s@empty.example.org>: Sender address rejected: Domain not found"),
    ("s@null.example.org",
     "550 5.7.27 <s@null.example.org>: Sender address rejected: Domain null.example.org does not accept mail (nullMX)"),
])
def test_reject_unknown_sender_domain(sender, expected):
    assert reply_of({"sender": "reject_unknown_sender_domain"}, sender=sender)[0] == expected


def test_unknown_recipient_domain_and_reject_code():
    assert reply_of({"recipient": "reject_unknown_recipient_domain"}, rcpt="r@nx.example.org",
                    unknown_address_reject_code=550)[0] == \
        "550 5.1.2 <r@nx.example.org>: Recipient address rejected: Domain not found"
    assert reply_of({"recipient": "reject_unknown_recipient_domain"}, rcpt="r@null.example.org")[0] == \
        "556 5.1.10 <r@null.example.org>: Recipient address rejected: Domain null.example.org does not accept " \
        "mail (nullMX)"


def test_temporary_dns_failure_defers_only_if_permitted():
    lists = {"sender": "reject_unknown_sender_domain, permit"}
    assert reply_of(lists, sender="s@broken.example.org")[0] == \
        "450 4.1.8 <s@broken.example.org>: Sender address rejected: Domain not found"
    lists = {"sender": "reject_unknown_sender_domain", "recipient": "reject"}
    assert reply_of(lists, sender="s@broken.example.org")[0].startswith("554 5.7.1 <r@mx.example.org>")
    assert reply_of({"sender": "reject_unknown_sender_domain"}, sender="s@broken.example.org",
                    unknown_address_tempfail_action="dunno")[0] is None


def test_unknown_helo_hostname():
    assert reply_of({"helo": "reject_unknown_helo_hostname"}, helo="a.example.org")[0] is None
    assert reply_of({"helo": "reject_unknown_helo_hostname"}, helo="nx.example.org")[0] == \
        "450 4.7.1 <nx.example.org>: Helo command rejected: Host not found"


def test_rbl_client():
    assert reply_of({"client": "reject_rbl_client bl.example"}, addr="192.0.2.2")[0] == \
        "554 5.7.1 Service unavailable; Client host [192.0.2.2] blocked using bl.example; listed: spam"
    assert reply_of({"client": "reject_rbl_client bl.example"}, addr="192.0.2.3")[0] == \
        "554 5.7.1 Service unavailable; Client host [192.0.2.3] blocked using bl.example"
    assert reply_of({"client": "reject_rbl_client bl.example=127.0.0.2"}, addr="192.0.2.3")[0] is None
    assert reply_of({"client": "reject_rbl_client bl.example"}, addr="192.0.2.9")[0] is None


def test_rhsbl_sender():
    # Postfix's $rbl_what is the whole address; only its domain is looked up
    assert reply_of({"sender": "reject_rhsbl_sender rhs.example"}, sender="x@spam.example.org")[0] == \
        "554 5.7.1 Service unavailable; Sender address [x@spam.example.org] blocked using rhs.example"
    assert reply_of({"sender": "reject_rhsbl_sender rhs.example"})[0] is None
    assert reply_of({"sender": "reject_rhsbl_sender rhs.example"}, sender="")[0] is None
    assert reply_of({"sender": "reject_rhsbl_sender rhs.example"}, sender="x@[192.0.2.1]")[0] is None


def test_rhsbl_recipient_client_and_helo():
    assert reply_of({"recipient": "reject_rhsbl_recipient rhs.example=127.0.0.2"}, rcpt="r@spam.example.org")[0] == \
        "554 5.7.1 Service unavailable; Recipient address [r@spam.example.org] blocked using rhs.example"
    assert reply_of({"recipient": "reject_rhsbl_recipient rhs.example=127.0.0.3"}, rcpt="r@spam.example.org")[0] \
        is None
    assert reply_of({"client": "reject_rhsbl_client rhs.example"}, name="spam.example.org")[0] == \
        "554 5.7.1 Service unavailable; Client host [spam.example.org] blocked using rhs.example"
    assert reply_of({"client": "reject_rhsbl_client rhs.example"}, name="unknown")[0] is None
    assert reply_of({"helo": "reject_rhsbl_helo rhs.example"}, helo="spam.example.org")[0] == \
        "554 5.7.1 Service unavailable; Helo command [spam.example.org] blocked using rhs.example"
    assert reply_of({"helo": "reject_rhsbl_helo rhs.example"}, helo="[192.0.2.1]")[0] is None


def test_rhsbl_looks_up_only_valid_hostnames():
    seen = []

    class Recording(FakeResolver):
        def lookupAddress(self, name):
            seen.append(name)
            return super().lookupAddress(name)

    assert reply_of({"helo": "reject_rhsbl_helo rhs.example"}, resolver=Recording(), helo="bad..name")[0] is None
    assert reply_of({"helo": "reject_rhsbl_helo rhs.example"}, resolver=Recording(), helo="1.2.3.4")[0] is None
    assert seen == []


def test_without_a_resolver_the_checks_are_noted_and_skipped():
    reply, notes = reply_of({"sender": "reject_unknown_sender_domain"}, resolver=None, sender="s@nx.example.org")
    assert reply is None
    assert notes == ["reject_unknown_sender_domain: no DNS resolver is configured; ignored"]


def test_reversed_address():
    assert reversed_address("192.0.2.1") == "1.2.0.192"
    assert reversed_address("2001:db8::1").startswith("1.0.0.0.") and reversed_address("2001:db8::1").endswith(
        ".8.b.d.0.1.0.0.2")
