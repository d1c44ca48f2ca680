"""The notifier: which notices go to whom (DSN NOTIFY, null sender, notify_classes),
what happens to the logs, streaming memory, and the service rows."""

import email
import tracemalloc

import attrs
import pytest
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from bounce_fakes import FakeSubmitter, ListLog, content_opener
from pfx.bounce import log as statuslog
from pfx.bounce.service import BounceConfig, Notifier
from pfx.dsn import Dsn
from pfx.envelope import DeliveryRequest, Recipient, RecipientStatus
from pfx.interfaces import INotifier
from pfx.queue.qid import QueueId
from pfx.queue.store import QueueStore
from pfx.runtime.build import inline_runtime

QID = str(QueueId.make(1764000000, 123456, 4242))
ORIGINAL = b"From: a@example.org\nSubject: hello\n\nbody line\n"
NOW = 1764003600


class Env:
    def __init__(self, tmp_path, **config):
        self.store = QueueStore(tmp_path)
        self.clock = Clock()
        self.clock.advance(NOW)
        self.submitter = FakeSubmitter(keep=config.pop("keep", True))
        self.log = ListLog()
        cfg = BounceConfig(myhostname="mx.example.com", myorigin="example.com",
                           lookup={"myhostname": "mx.example.com"}.get, **config)
        self.notifier = Notifier(cfg, self.store, inline_runtime(self.clock), self.log,
                                 lambda: self.submitter)

    def append(self, kind, *statuses):
        for st in statuses:
            d = self.notifier.append(kind, QID, st)
            assert self.result(d) is None

    def result(self, d):
        out = []
        d.addBoth(out.append)
        assert out, "the Deferred did not fire"
        if hasattr(out[0], "raiseException"):
            out[0].raiseException()
        return out[0]

    def flush(self, kind, sender="s@example.org", **kw):
        return self.result(self.notifier.flush(kind, QID, request(sender, **kw)))

    def path(self, log):
        return self.store.path(log, QueueId(QID))

    def messages(self, address):
        return [email.message_from_bytes(w.data) for w in self.submitter.to(address)]


def request(sender, ret=None, original=ORIGINAL, size=None, opener=None):
    return DeliveryRequest(queue_id=QID, queue_name="active", sender=sender, recipients=(),
                           transport="smtp", nexthop="example.net",
                           size=len(original) if size is None else size, arrival=NOW - 3600,
                           ret=ret, open_content=opener or content_opener(original))


def st(address, action="bounced", notify=(), code=None):
    code = code or {"bounced": "5.1.1", "deferred": "4.4.1", "sent": "2.0.0"}[action]
    return RecipientStatus(Recipient(address, notify=notify), action, Dsn(code),
                           f"reason for {address}", "mx.example.net[192.0.2.7]:25",
                           f"{code[0]}50 {code} reply for {address}")


def report_recipients(msg):
    report = msg.get_payload()[1].get_payload()
    return [str(block["Final-Recipient"]) for block in report[1:]]


def test_provides_inotifier(tmp_path):
    assert verifyObject(INotifier, Env(tmp_path).notifier)


def test_logs_live_where_postfix_keeps_them(tmp_path):
    env = Env(tmp_path)
    env.append("bounce", st("a@x"))
    env.append("defer", st("b@x", "deferred"))
    env.append("trace", st("c@x", "sent", ("SUCCESS",)))
    for log in ("bounce", "defer", "trace"):
        assert len(statuslog.read(env.path(log))[0]) == 1
    assert "/defer/" in env.path("defer") and env.path("defer").count("/") > \
        env.path("bounce").count("/")  # hash_queue_names = deferred, defer
    with pytest.raises(ValueError):
        env.result(env.notifier.append("nonsense", QID, st("a@x")))


def test_non_delivery_notice_goes_to_the_sender_from_the_null_sender(tmp_path):
    env = Env(tmp_path)
    env.append("bounce", st("a@x"), st("b@x"))
    assert env.flush("bounce") == "NOTICE1"
    [w] = env.submitter.writers
    assert w.envelope.sender == "" and w.envelope.recipients[0].address == "s@example.org"
    msg = email.message_from_bytes(w.data)
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert msg["From"] == "Mail Delivery System <MAILER-DAEMON@example.com>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert report_recipients(msg) == ["rfc822; a@x", "rfc822; b@x"]
    assert msg.get_payload()[2]["Content-Type"] == "message/rfc822"
    assert env.log.lines == [f"{QID}: sender non-delivery notification: NOTICE1"]
    assert statuslog.read(env.path("bounce")) == ([], [])  # the log is gone


@pytest.mark.parametrize("notify,classes,sender_gets,postmaster_gets", [
    ((), (), ["a@x"], None),
    (("FAILURE",), (), ["a@x"], None),
    (("NEVER",), (), None, None),
    (("SUCCESS",), (), None, None),
    (("DELAY",), (), None, None),
    (("NEVER",), ("bounce",), None, ["a@x"]),
    (("FAILURE", "DELAY"), ("bounce",), ["a@x"], ["a@x"]),
])
def test_notify_decides_the_sender_notice(tmp_path, notify, classes, sender_gets,
                                          postmaster_gets):
    env = Env(tmp_path, notify_classes=frozenset(classes))
    env.append("bounce", st("a@x", notify=notify))
    result = env.flush("bounce")
    mine = env.messages("s@example.org")
    assert (result is not None) == bool(sender_gets)
    assert [report_recipients(m) for m in mine] == \
        ([[f"rfc822; {a}" for a in sender_gets]] if sender_gets else [])
    pm = env.messages("postmaster")
    assert [report_recipients(m) for m in pm] == \
        ([[f"rfc822; {a}" for a in postmaster_gets]] if postmaster_gets else [])


def test_mixed_notify_and_postmaster_copy(tmp_path):
    env = Env(tmp_path, notify_classes=frozenset({"bounce"}))
    env.append("bounce", st("never@x", notify=("NEVER",)), st("fail@x", notify=("FAILURE",)))
    env.flush("bounce", ret="FULL")
    [mine] = env.messages("s@example.org")
    assert report_recipients(mine) == ["rfc822; fail@x"]
    [copy] = env.submitter.to("postmaster")
    assert copy.envelope.sender == "double-bounce@example.com"
    pm = email.message_from_bytes(copy.data)
    assert pm["Subject"] == "Postmaster Copy: Undelivered Mail"
    assert pm["Auto-Submitted"] == "auto-generated"
    assert report_recipients(pm) == ["rfc822; never@x", "rfc822; fail@x"]
    assert pm.get_payload()[2]["Content-Type"] == "text/rfc822-headers"
    assert "This is the mail system" not in pm.get_payload()[0].get_payload()
    assert env.log.lines[-1] == f"{QID}: postmaster non-delivery notification: NOTICE2"


@pytest.mark.parametrize("ret,size,expect", [
    (None, None, "message/rfc822"), ("FULL", None, "message/rfc822"),
    ("HDRS", None, "text/rfc822-headers"), ("FULL", 50001, "text/rfc822-headers"),
    (None, 0, "message/rfc822"),  # unknown size: measured
])
def test_ret_and_bounce_size_limit(tmp_path, ret, size, expect):
    env = Env(tmp_path)
    env.append("bounce", st("a@x"))
    env.flush("bounce", ret=ret, size=size)
    [msg] = env.messages("s@example.org")
    third = msg.get_payload()[2]
    assert third["Content-Type"] == expect
    raw = env.submitter.writers[0].data
    assert (b"body line" in raw) == (expect == "message/rfc822")


def test_unknown_size_over_the_limit_is_measured(tmp_path):
    env = Env(tmp_path, size_limit=1000)
    env.append("bounce", st("a@x"))
    env.flush("bounce", original=ORIGINAL + b"x" * 2000 + b"\n", size=0)
    [msg] = env.messages("s@example.org")
    assert msg.get_payload()[2]["Content-Type"] == "text/rfc822-headers"


def test_bounce_of_a_bounce_is_dropped_by_default_like_postfix(tmp_path):
    env = Env(tmp_path)
    env.append("bounce", st("a@x"))
    assert env.flush("bounce", sender="") is None
    assert env.submitter.writers == [] and env.log.lines == []
    assert statuslog.read(env.path("bounce")) == ([], [])


@pytest.mark.parametrize("classes", [{"2bounce"}, {"bounce"}])
def test_bounce_of_a_bounce_goes_to_2bounce_recipient(tmp_path, classes):
    env = Env(tmp_path, notify_classes=frozenset(classes), twobounce_rcpt="pm2@example.com")
    env.append("bounce", st("a@x"))
    assert env.flush("bounce", sender="") == "NOTICE1"
    [w] = env.submitter.writers
    assert w.envelope.sender == "double-bounce@example.com"
    assert w.envelope.recipients[0].address == "pm2@example.com"
    msg = email.message_from_bytes(w.data)
    assert msg["Subject"] == "Postmaster Copy: Undelivered Mail"
    assert msg.get_payload()[2]["Content-Type"] == "message/rfc822"
    assert b"X-Postfix-Sender: rfc822; MAILER-DAEMON@example.com" in w.data
    assert b"Return-Path: <MAILER-DAEMON@example.com>" in w.data
    assert env.log.lines == [f"{QID}: postmaster non-delivery notification: NOTICE1"]


@pytest.mark.parametrize("sender", ["double-bounce", "double-bounce@example.com",
                                    "Double-Bounce@Example.COM"])
def test_the_double_bounce_sender_never_gets_a_notice(tmp_path, sender):
    env = Env(tmp_path, notify_classes=frozenset({"bounce", "2bounce", "delay"}))
    for kind, log, action in (("bounce", "bounce", "bounced"), ("delay", "defer", "deferred")):
        env.append(log, st("a@x", action))
        assert env.flush(kind, sender=sender) is None
    assert env.submitter.writers == []


def test_expire_turns_the_defer_log_into_a_failure_notice(tmp_path):
    env = Env(tmp_path)
    env.append("defer", st("a@x", "deferred"))
    assert env.flush("expire") == "NOTICE1"
    [msg] = env.messages("s@example.org")
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    block = msg.get_payload()[1].get_payload()[1]
    assert (block["Action"], block["Status"]) == ("failed", "4.4.1")
    assert block["Diagnostic-Code"] == "smtp; 450 4.4.1 reply for a@x"
    assert block["Remote-MTA"] == "dns; mx.example.net"
    assert statuslog.read(env.path("defer")) == ([], [])


def test_delay_warning_keeps_the_defer_log(tmp_path):
    env = Env(tmp_path, notify_classes=frozenset({"delay"}), delay_warning_time=4 * 3600,
              maximal_queue_lifetime=5 * 86400)
    env.append("defer", st("a@x", "deferred"), st("quiet@x", "deferred", ("FAILURE",)))
    assert env.flush("delay", ret="FULL") == "NOTICE1"
    [msg] = env.messages("s@example.org")
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    assert report_recipients(msg) == ["rfc822; a@x"]
    assert msg.get_payload()[2]["Content-Type"] == "text/rfc822-headers"  # always headers
    text = msg.get_payload()[0].get_payload()
    assert "for more than 4 hour(s)" in text and "until it is 5 day(s) old" in text
    assert "Will-Retry-Until: " in msg.get_payload()[1].as_string()
    [pm] = env.messages("postmaster")
    assert pm["Subject"] == "Postmaster Warning: Delayed Mail"
    assert report_recipients(pm) == ["rfc822; a@x", "rfc822; quiet@x"]
    assert env.log.lines == [f"{QID}: sender delay notification: NOTICE1",
                             f"{QID}: postmaster delay notification: NOTICE2"]
    assert len(statuslog.read(env.path("defer"))[0]) == 2
    assert env.flush("delay", sender="") is None  # nobody to warn


def test_success_report_only_for_notify_success(tmp_path):
    env = Env(tmp_path)
    env.append("trace", st("yes@x", "sent", ("SUCCESS",)), st("no@x", "sent", ()))
    assert env.flush("success") == "NOTICE1"
    [msg] = env.messages("s@example.org")
    assert msg["Subject"] == "Successful Mail Delivery Report"
    block = msg.get_payload()[1].get_payload()[1]
    assert (block["Action"], block["Status"]) == ("delivered", "2.0.0")
    assert report_recipients(msg) == ["rfc822; yes@x"]
    assert msg.get_payload()[2]["Content-Description"] == "Message Headers"
    assert env.log.lines == [f"{QID}: sender delivery status notification: NOTICE1"]
    assert statuslog.read(env.path("trace")) == ([], [])


def test_a_refused_notice_fails_the_flush_and_keeps_the_log(tmp_path):
    env = Env(tmp_path)
    env.append("bounce", st("a@x"))
    env.submitter.refuse = True
    with pytest.raises(RuntimeError):
        env.flush("bounce")
    assert env.submitter.writers[0].state == "committed"
    assert len(statuslog.read(env.path("bounce"))[0]) == 1
    env.submitter.refuse = False
    assert env.flush("bounce") == "NOTICE1"


def test_an_unreadable_original_aborts_the_notice(tmp_path):
    env = Env(tmp_path)
    env.append("bounce", st("a@x"))

    def gone():
        raise FileNotFoundError("queue file vanished")
    with pytest.raises(FileNotFoundError):
        env.flush("bounce", opener=gone)
    assert env.submitter.writers[0].state == "aborted"
    assert len(statuslog.read(env.path("bounce"))[0]) == 1


def test_repeated_records_after_a_crash_are_reported_once(tmp_path):
    env = Env(tmp_path)
    env.append("bounce", st("a@x"), st("a@x"), st("b@x"))
    env.flush("bounce")
    [msg] = env.messages("s@example.org")
    assert report_recipients(msg) == ["rfc822; a@x", "rfc822; b@x"]


def test_damaged_log_records_are_skipped_with_a_warning(tmp_path):
    env = Env(tmp_path)
    env.append("bounce", st("a@x"))
    with open(env.path("bounce"), "ab") as f:
        f.write(b"recipient=b@x\nstatus=nonsense\n\n")
    assert env.flush("bounce") == "NOTICE1"
    assert any(line.startswith(f"warning: {QID}: ") for line in env.log.lines)


def test_a_5mb_original_streams_in_bounded_memory(tmp_path):
    big = tmp_path / "original"
    line = b"0123456789" * 7 + b"\n"
    with open(big, "wb") as f:
        f.write(ORIGINAL)
        for _ in range(5 * 1024 * 1024 // len(line)):
            f.write(line)
    size = big.stat().st_size
    env = Env(tmp_path, size_limit=10 * 1024 * 1024, keep=False)
    env.append("bounce", st("a@x"))
    tracemalloc.start()
    try:
        env.flush("bounce", ret="FULL", size=size, opener=lambda: open(big, "rb"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    [w] = env.submitter.writers
    assert w.size > size
    assert w.largest <= 65536 + 4096
    assert peak < 1024 * 1024, f"peak {peak} bytes for a {size}-byte original"


def test_without_the_original_the_notice_has_two_parts(tmp_path):
    env = Env(tmp_path, notify_classes=frozenset({"bounce"}))
    env.append("bounce", st("a@x"))
    req = request("s@example.org")
    assert env.result(env.notifier.flush("bounce", QID, attrs.evolve(req, open_content=None)))
    [msg] = env.messages("s@example.org")
    assert [p.get_content_type() for p in msg.get_payload()] == \
        ["text/plain", "message/delivery-status"]
    [pm] = env.messages("postmaster")
    assert pm["To"] == "postmaster@example.com"
