"""Each restriction, list semantics (permit ends a list, classes, defer_if_*, warn_if_reject), the relay matrix."""

import pytest

from pfx.smtpd.checks import CheckState, evaluate, stages_for
from pfx.smtpd.restrictions import authorized_destination
from tests.unit.smtpd.smtpd_helpers import make_config


def result_of(d):
    out = []
    d.addBoth(out.append)
    assert out, "Deferred has not fired"
    if hasattr(out[0], "raiseException"):
        out[0].raiseException()
    return out[0]


def verdict(stage_lists, addr="192.0.2.1", name="client.example.org", helo="c.example.org",
            sender="s@example.org", rcpt="r@mx.example.test", command="RCPT", stages=None, **kw):
    settings = {f"smtpd_{stage}_restrictions": text for stage, text in stage_lists.items()}
    settings.setdefault("smtpd_relay_restrictions", "")
    settings.update(kw.pop("settings", {}))
    config = make_config(**settings)
    state = CheckState(config, name, addr, helo=helo, esmtp=kw.pop("esmtp", True), sender=sender, recipient=rcpt,
                       command=command, **kw)
    v = result_of(evaluate(state, stages or stages_for(command, True)))
    return (str(v.reply) if v.reply else None), [str(w) for w in v.warnings]


@pytest.mark.parametrize("lists,expected", [
    ({"recipient": "permit"}, None),
    ({"recipient": ""}, None),
    ({"recipient": "reject"}, "554 5.7.1 <r@mx.example.test>: Recipient address rejected: Access denied"),
    ({"client": "reject"}, "554 5.7.1 <client.example.org[192.0.2.1]>: Client host rejected: Access denied"),
    ({"helo": "reject"}, "554 5.7.1 <c.example.org>: Helo command rejected: Access denied"),
    ({"sender": "reject"}, "554 5.7.1 <s@example.org>: Sender address rejected: Access denied"),
    ({"recipient": "defer"}, "450 4.3.2 <r@mx.example.test>: Recipient address rejected: Try again later"),
    # permit ends its own list only
    ({"client": "permit", "recipient": "reject"},
     "554 5.7.1 <r@mx.example.test>: Recipient address rejected: Access denied"),
    ({"recipient": "permit, reject"}, None),
    ({"recipient": "dunno, reject"}, "554 5.7.1 <r@mx.example.test>: Recipient address rejected: Access denied"),
    ({"recipient": "defer_if_permit, permit"},
     "450 4.7.0 <r@mx.example.test>: Recipient address rejected: defer_if_permit requested"),
    ({"recipient": "defer_if_permit, reject"},
     "554 5.7.1 <r@mx.example.test>: Recipient address rejected: Access denied"),
    ({"recipient": "defer_if_reject, reject"},
     "450 4.7.0 <r@mx.example.test>: Recipient address rejected: defer_if_reject requested"),
    ({"recipient": "defer_if_reject, permit"}, None),
    ({"client": "permit_mynetworks, reject"},
     "554 5.7.1 <client.example.org[192.0.2.1]>: Client host rejected: Access denied"),
    ({"recipient": "permit_sasl_authenticated, reject"},
     "554 5.7.1 <r@mx.example.test>: Recipient address rejected: Access denied"),
])
def test_lists(lists, expected):
    assert verdict(lists)[0] == expected


def test_permit_mynetworks_matches_cidr():
    assert verdict({"client": "permit_mynetworks, reject"}, addr="127.0.0.9")[0] is None
    lists = {"client": "permit_mynetworks, reject"}
    assert verdict(lists, addr="10.1.2.3", settings={"mynetworks": "10.0.0.0/8 [2001:db8::]/32"})[0] is None
    assert verdict(lists, addr="2001:db8::5", settings={"mynetworks": "10.0.0.0/8 [2001:db8::]/32"})[0] is None
    assert verdict(lists, addr="11.1.2.3", settings={"mynetworks": "10.0.0.0/8"})[0] is not None


def test_warn_if_reject_logs_instead():
    reply, warnings = verdict({"recipient": "warn_if_reject reject, permit"})
    assert reply is None
    assert warnings == ["554 5.7.1 <r@mx.example.test>: Recipient address rejected: Access denied"]


def test_restriction_classes():
    settings = {"smtpd_restriction_classes": "strict", "strict": "reject_non_fqdn_sender, permit"}
    assert verdict({"recipient": "strict, reject"}, sender="bare", settings=settings)[0] == \
        "504 5.5.2 <bare>: Sender address rejected: need fully-qualified address"
    assert verdict({"recipient": "strict, reject"}, settings=settings)[0] is None


def test_unknown_restriction_is_a_config_problem():
    from pfx.smtpd.checks import ConfigProblem
    with pytest.raises(ConfigProblem):
        verdict({"recipient": "reject_everything_weird"})


@pytest.mark.parametrize("helo,invalid,non_fqdn", [
    ("mail.example.org", None, None),
    ("[192.0.2.1]", None, None),
    ("localhost", None, "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"),
    ("bad!name.example", "501 5.5.2 <bad!name.example>: Helo command rejected: Invalid name",
     "504 5.5.2 <bad!name.example>: Helo command rejected: need fully-qualified hostname"),
    ("[999.1.1.1]", "501 5.5.2 <[999.1.1.1]>: Helo command rejected: Invalid name", None),
])
def test_helo_hostname_checks(helo, invalid, non_fqdn):
    assert verdict({"helo": "reject_invalid_helo_hostname"}, helo=helo)[0] == invalid
    assert verdict({"helo": "reject_non_fqdn_helo_hostname"}, helo=helo)[0] == non_fqdn


def test_non_fqdn_sender_and_recipient():
    assert verdict({"sender": "reject_non_fqdn_sender"}, sender="")[0] is None
    assert verdict({"sender": "reject_non_fqdn_sender"}, sender="u@host")[0] == \
        "504 5.5.2 <u@host>: Sender address rejected: need fully-qualified address"
    assert verdict({"recipient": "reject_non_fqdn_recipient"}, rcpt="u")[0] == \
        "504 5.5.2 <u>: Recipient address rejected: need fully-qualified address"
    assert verdict({"recipient": "reject_non_fqdn_recipient"})[0] is None


def test_reject_unauth_pipelining():
    lists = {"recipient": "reject_unauth_pipelining"}
    assert verdict(lists, input_pending=True, esmtp=False)[0] == \
        "503 5.5.0 <r@mx.example.test>: Recipient address rejected: Improper use of SMTP command pipelining"
    assert verdict(lists, input_pending=True, esmtp=True)[0] is None
    assert verdict({"data": "reject_unauth_pipelining"}, command="DATA", input_pending=True)[0] == \
        "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining"


def test_default_relay_restrictions():
    config = make_config()
    assert config.restrictions["relay"] == ["permit_mynetworks", "permit_sasl_authenticated",
                                            "defer_unauth_destination"]
    state = CheckState(config, "x", "192.0.2.1", recipient="r@elsewhere.example", command="RCPT")
    assert str(result_of(evaluate(state, ("relay",))).reply) == \
        "454 4.7.1 <r@elsewhere.example>: Relay access denied"


def test_reject_unauth_destination_text():
    assert verdict({"relay": "reject_unauth_destination"}, rcpt="r@elsewhere.example")[0] == \
        "554 5.7.1 <r@elsewhere.example>: Relay access denied"
    assert verdict({"relay": "permit_auth_destination, reject"})[0] is None


def test_delay_reject_stages():
    assert stages_for("RCPT", True) == ("client", "helo", "sender", "relay", "recipient")
    assert stages_for("RCPT", False) == ("relay", "recipient")
    assert stages_for("MAIL", True) == () and stages_for("MAIL", False) == ("sender",)
    assert stages_for("DATA", True) == ("data",)


# The relay matrix: mydestination = mx.example.test, localhost; relay_domains = relay.example.
RELAY = {"mydestination": "mx.example.test, localhost", "relay_domains": "relay.example"}


@pytest.mark.parametrize("rcpt,ok", [
    ("u@mx.example.test", True),
    ("U@MX.EXAMPLE.TEST", True),
    ("u@localhost", True),
    ("u", True),
    ("u@relay.example", True),
    ("u@sub.relay.example", True),      # relay_domains is in parent_domain_matches_subdomains
    ("u@sub.mx.example.test", False),   # mydestination is not
    ("u@elsewhere.example", False),
    ("u%elsewhere.example@mx.example.test", False),
    ("u%relay.example@mx.example.test", True),
    ("elsewhere.example!u@mx.example.test", False),
    ('"u@elsewhere.example"@mx.example.test', False),
    ("u@elsewhere.example@mx.example.test", False),
    ("@mx.example.test:u@elsewhere.example", False),
    ("@elsewhere.example:u@mx.example.test", True),
    ("u%elsewhere.example@relay.example", False),   # allow_untrusted_routing = no
    ("u@[192.0.2.1]", False),
    ("u@[127.0.0.1]", True),            # our own address (inet_interfaces)
    ("u@[IPv6:::1]", False),
    ("u%v%elsewhere.example@mx.example.test", False),
])
def test_relay_matrix(rcpt, ok):
    config = make_config(**RELAY)
    assert authorized_destination(config, rcpt) is ok
    reply, _ = verdict({"relay": "reject_unauth_destination"}, rcpt=rcpt, settings=RELAY)
    assert (reply is None) is ok


def test_relay_without_parent_matching():
    config = make_config(relay_domains="relay.example", parent_domain_matches_subdomains="")
    assert not authorized_destination(config, "u@sub.relay.example")
    config = make_config(relay_domains=".relay.example", parent_domain_matches_subdomains="")
    assert authorized_destination(config, "u@sub.relay.example")


def test_untrusted_routing_allowed():
    config = make_config(relay_domains="relay.example", allow_untrusted_routing="yes")
    assert authorized_destination(config, "u%x@relay.example")


def test_drive_runs_at_once_until_a_deferred_has_to_be_waited_for():
    from twisted.internet import defer

    from pfx.smtpd.checks import drive

    def steps(wait):
        a = yield 1
        try:
            yield wait
        except KeyError:
            a += 10
        b = yield 2
        return a + b

    assert drive(steps(None)) == 3  # nothing to wait for: a plain value
    assert result_of(drive(steps(defer.succeed(None)))) == 3  # a fired Deferred: at once
    later = defer.Deferred()
    d = drive(steps(later))
    assert isinstance(d, defer.Deferred) and not d.called
    later.errback(KeyError("x"))  # a failure is thrown in where it was yielded
    assert result_of(d) == 13

    def broken():
        yield 1
        raise ValueError("bad")
    with pytest.raises(ValueError):
        drive(broken())


def test_evaluate_now_answers_without_a_deferred_when_no_check_waits():
    from twisted.internet import defer

    from pfx.smtpd.checks import evaluate_now, then
    config = make_config(smtpd_recipient_restrictions="reject", smtpd_relay_restrictions="")
    state = CheckState(config, "client.example.org", "192.0.2.1", helo="c.example.org", esmtp=True,
                       sender="s@example.org", recipient="r@mx.example.test", command="RCPT")
    got = evaluate_now(state, ("recipient",), lambda v: ("verdict", str(v.reply)), lambda f: ("failure", f))
    assert got == ("verdict", "554 5.7.1 <r@mx.example.test>: Recipient address rejected: Access denied")
    assert then(2, lambda x, y: x * y, 3) == 6
    d = defer.Deferred()
    assert then(d, lambda x, y: x * y, 3) is d
    d.callback(2)
    assert result_of(d) == 6


def test_evaluate_now_hands_an_exception_to_on_failure():
    from pfx.smtpd.checks import ConfigProblem, evaluate_now
    config = make_config(smtpd_recipient_restrictions="permit", smtpd_relay_restrictions="")
    state = CheckState(config, "client.example.org", "192.0.2.1", command="RCPT")
    config.restrictions["recipient"] = ["no_such_restriction"]
    got = evaluate_now(state, ("recipient",), lambda v: "verdict", lambda f: f.check(ConfigProblem))
    assert got is ConfigProblem


def test_an_address_is_resolved_once_per_evaluation(monkeypatch):
    import pfx.smtpd.checks as checks
    calls = []
    real = checks.resolve
    monkeypatch.setattr(checks, "resolve", lambda a, s: (calls.append(a), real(a, s))[1])
    config = make_config(smtpd_relay_restrictions="reject_unauth_destination",
                         smtpd_recipient_restrictions="permit_auth_destination, reject")
    state = CheckState(config, "client.example.org", "192.0.2.1", recipient="r@mx.example.test",
                       command="RCPT")
    assert result_of(evaluate(state, ("relay", "recipient"))).reply is None
    assert calls == ["r@mx.example.test"]
    result_of(evaluate(state, ("relay", "recipient")))  # the next command asks again
    assert calls == ["r@mx.example.test"] * 2
