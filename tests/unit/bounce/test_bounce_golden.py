"""Notices compared with the ones a real Postfix 3.7 queued (tests/unit/bounce/golden/).

The goldens were captured from a private Postfix instance (make-instance.sh) relaying to
smtp-sink: 5xx and 4xx at RCPT, discard for success, notify_classes with bounce, 2bounce
and delay. Only the Received: headers (cleanup's and the sink's) and the Message-Id
value differ by nature; everything else must match byte for byte.
"""

import io
import os
import time

import pytest
from twisted.internet.task import Clock

from bounce_fakes import ListLog, golden, golden_original, normalize
from pfx.bounce import compose, log as statuslog, template
from pfx.bounce.service import BounceConfig, Notifier
from pfx.dsn import Dsn
from pfx.envelope import DeliveryRequest, Recipient, RecipientStatus
from pfx.runtime.build import inline_runtime

HOST = "mta.pfx.test"
SAID = "host 127.0.0.1[127.0.0.1] said: {} Error: command failed (in reply to RCPT TO command)"
REJECT, DEFER = SAID.format("500 5.3.0"), SAID.format("450 4.3.0")


@pytest.fixture(autouse=True)
def utc():
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def notifier(now, **config):
    clock = Clock()
    clock.advance(now)
    cfg = BounceConfig(myhostname=HOST, myorigin=HOST,
                       lookup={"myhostname": HOST}.get, **config)
    return Notifier(cfg, None, inline_runtime(clock), ListLog(), None)


def logged(*statuses, action=None):
    """Statuses through the on-disk format and back, as the notifier reads them."""
    data = b"".join(statuslog.encode(s, 0, action) for s in statuses)
    records, warnings = statuslog.parse(data.splitlines(keepends=True))
    assert warnings == []
    return records


def rcpt(address, orcpt=None, notify=()):
    return Recipient(address, orig=address, orcpt=orcpt or f"rfc822;{address}", notify=notify)


def bounced(address, **kw):
    return RecipientStatus(rcpt(address, **kw), "bounced", Dsn("5.3.0"), REJECT,
                           "127.0.0.1[127.0.0.1]:22528", "500 5.3.0 Error: command failed")


def request(qid, sender, original, *, now, ret=None, envid=None):
    return DeliveryRequest(queue_id=qid, queue_name="active", sender=sender, recipients=(),
                           transport="smtp", nexthop="x", size=len(original), arrival=now,
                           envid=envid, ret=ret, open_content=lambda: io.BytesIO(original))


def render(n, records, original):
    data = b"".join(compose.notice_chunks(n, records, lambda: io.BytesIO(original)))
    return normalize(data.decode())


def build(name, qid, now, sender, to, records, *, kind="failure_template", postmaster=False,
          ret="FULL", envid=None, action=None, until=None, **config):
    original = golden_original(name)
    nt = notifier(now, **config)
    req = request(qid, sender, original, now=now, envid=envid)
    n = nt.notice(qid, req, nt.config.templates[kind], to, postmaster=postmaster, ret=ret,
                  action=action, until=until)
    return render(n, records, original)


def test_failure_with_full_message_and_envid():
    out = build("failure_full.eml", "A738A212FA7", 1795601598, "sender@ok.test", "sender@ok.test",
                logged(bounced("user2@bounce.test", orcpt="rfc822;orig@bounce.test"),
                       bounced("user@bounce.test", orcpt="rfc822;orig@bounce.test")),
                envid="env123")
    assert out == golden("failure_full.eml")


def test_failure_headers_only_for_ret_hdrs():
    out = build("failure_hdrs.eml", "D400F212FAB", 1795601598, "sender@ok.test", "sender@ok.test",
                logged(bounced("user@bounce.test")), ret="HDRS")
    assert out == golden("failure_hdrs.eml")


def test_failure_headers_only_when_larger_than_bounce_size_limit():
    original = golden_original("failure_too_big.eml") + b"y" * 70 * 1000
    nt = notifier(1795601599)
    req = request("08E61213024", "sender@ok.test", original, now=1795601599)
    n = nt.notice("08E61213024", req, nt.config.templates["failure_template"], "sender@ok.test")
    assert render(n, logged(bounced("user@bounce.test")), original) == golden("failure_too_big.eml")


def test_postmaster_copy_has_no_template_text_and_only_headers():
    out = build("postmaster_copy.eml", "A738A212FA7", 1795601598, "sender@ok.test", "pm@ok.test",
                logged(bounced("user2@bounce.test", orcpt="rfc822;orig@bounce.test"),
                       bounced("user@bounce.test", orcpt="rfc822;orig@bounce.test")),
                postmaster=True, ret="HDRS", envid="env123")
    assert out == golden("postmaster_copy.eml")


def test_double_bounce_returns_the_whole_message_to_the_postmaster():
    out = build("double_bounce.eml", "A8BA4212051", 1795601599, "", "pm2@ok.test",
                logged(bounced("user@bounce.test")), postmaster=True)
    assert out == golden("double_bounce.eml")


def delayed(address):
    return RecipientStatus(rcpt(address, notify=("DELAY", "FAILURE")), "deferred", Dsn("4.3.0"),
                           DEFER, "127.0.0.1[127.0.0.1]:22527", "450 4.3.0 Error: command failed")


@pytest.mark.parametrize("name,to,postmaster", [("delay.eml", "sender@ok.test", False),
                                                ("delay_postmaster.eml", "pmd@ok.test", True)])
def test_delay_warning(name, to, postmaster):
    # the instance ran with delay_warning_time = 1s and maximal_queue_lifetime = 1d
    out = build(name, "33F28213012", 1795601599, "sender@ok.test", to,
                logged(delayed("user@defer.test")), kind="delay_template",
                postmaster=postmaster, ret="HDRS", envid="envdelay", action="delayed",
                until=1795601599 + 86400, delay_warning_time=1, maximal_queue_lifetime=86400)
    assert out == golden(name)


def test_success_report():
    def sent(address):
        return RecipientStatus(rcpt(address, orcpt="rfc822;first@succ.test",
                                    notify=("SUCCESS", "FAILURE")),
                               "sent", Dsn("2.0.0"), "succ.test", "none")
    out = build("success.eml", "B62C4212BD6", 1795601682, "sender@ok.test", "sender@ok.test",
                logged(sent("other@succ.test"), sent("user@succ.test")),
                kind="success_template", ret="HDRS", envid="envsucc")
    assert out == golden("success.eml")


def test_expanded_from_and_local_diagnostic():
    st = RecipientStatus(Recipient("joe@local.test", orig="alias@local.test"), "bounced",
                         Dsn("5.1.1"), 'unknown user: "joe"', "local")
    n = notifier(1795601598).notice("Q1", request("Q1", "s@x", b"", now=1795601598),
                                    template.DEFAULTS["failure_template"], "s@x")
    text = compose.head_text(n, logged(st))
    assert '<joe@local.test> (expanded from <alias@local.test>): unknown user: "joe"' in text
    assert "Original-Recipient: rfc822; alias@local.test\n" in text
    assert 'Diagnostic-Code: X-Postfix; unknown user: "joe"\n' in text
    assert "Remote-MTA" not in text


def test_addresses_are_quoted_and_values_stay_on_one_line():
    st = RecipientStatus(Recipient("john smith@x.test", orcpt="rfc822;a\r\nBcc: evil@x"),
                         "bounced", Dsn("5.1.1"), "no\nsuch user", "local")
    n = notifier(1795601598).notice("Q1", request("Q1", "we ird@x", b"", now=1795601598,
                                                  envid="e1\nX-Evil: 1"),
                                    template.DEFAULTS["failure_template"], "we ird@x")
    text = compose.head_text(n, [statuslog.LogRecord(st)])
    assert 'To: "we ird"@x\n' in text
    assert 'Final-Recipient: rfc822; "john smith"@x.test\n' in text
    assert "Original-Recipient: rfc822;a Bcc: evil@x\n" in text
    assert "Original-Envelope-Id: e1 X-Evil: 1\n" in text
    assert '<"john smith"@x.test>: no such user' in text
    assert "\nBcc:" not in text and "\nX-Evil" not in text
