"""Expanded recipients: one log line, log entry and notice line per member (orig_to=)."""

from twisted.internet import defer

from pfx.dsn import Dsn
from pfx.envelope import DeliveryResult, Recipient, RecipientStatus

from qmgr_fakes import FakeNotifier, World

STAFF = "staff@example.com"


class ExpandingAgent:
    """Answers an alias with one member status per (address, action, dsn, text)."""

    def __init__(self, members):
        self.members, self.requests = members, []

    def deliver(self, request):
        self.requests.append(request)
        out = []
        for r in request.recipients:
            members = tuple(RecipientStatus(Recipient(a, orig=r.address), act, Dsn(dsn), text,
                                            "local") for a, act, dsn, text in self.members)
            worst = next((m for act in ("deferred", "bounced") for m in members
                          if m.action == act), members[0])
            out.append(RecipientStatus(r, worst.action, worst.dsn, worst.text, "local",
                                       members=members))
        return defer.succeed(DeliveryResult(out))

    def stop(self):
        return defer.succeed(None)


class RecordingNotifier(FakeNotifier):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.statuses = []

    def append(self, kind, queue_id, status):
        self.statuses.append((kind, status))
        return super().append(kind, queue_id, status)


BOB = ("bob@example.com", "sent", "2.0.0", "delivered to mailbox")
CAROL = ("carol@example.com", "sent", "2.0.0", "delivered to mailbox")
DAVE = ("dave@example.com", "bounced", "5.1.1", 'unknown user: "dave"')
CAROL_LATER = ("carol@example.com", "deferred", "4.2.2", "mailbox full")


def world(tmp_path, members, **kw):
    return World(tmp_path, agents={"smtp": ExpandingAgent(members)},
                 notifier=RecordingNotifier(), **kw)


def line(qid, to, dsn, status, text):
    return (f"{qid}: to=<{to}>, orig_to=<{STAFF}>, relay=local, delay=0, delays=0/0/0/0, "
            f"dsn={dsn}, status={status} ({text})")


def test_two_delivered_one_bounced_member(tmp_path):
    w = world(tmp_path, [BOB, CAROL, DAVE])
    qid = w.submit((STAFF,))
    w.manager.start()
    assert w.log.lines[1:] == [
        line(qid, "bob@example.com", "2.0.0", "sent", "delivered to mailbox"),
        line(qid, "carol@example.com", "2.0.0", "sent", "delivered to mailbox"),
        line(qid, "dave@example.com", "5.1.1", "bounced", 'unknown user: "dave"'),
        f"{qid}: removed",
    ]
    assert w.notifier.appended == [("bounce", str(qid), "dave@example.com", "bounced")]
    [(_, entry)] = w.notifier.statuses
    assert (entry.recipient.orig, entry.recipient.offset is not None) == (STAFF, True)
    assert w.notifier.flushed == [("bounce", str(qid), ("dave@example.com",))]
    assert w.where(qid) is None


def test_a_deferred_member_keeps_the_alias_for_a_whole_retry(tmp_path):
    w = world(tmp_path, [BOB, CAROL_LATER, DAVE])
    qid = w.submit((STAFF, "other@example.com"))
    w.manager.start()
    assert w.log.lines[1:] == [
        line(qid, "bob@example.com", "2.0.0", "sent", "delivered to mailbox"),
        line(qid, "carol@example.com", "4.2.2", "deferred", "mailbox full"),
        line(qid, "dave@example.com", "5.1.1", "bounced", 'unknown user: "dave"'),
        line(qid, "bob@example.com", "2.0.0", "sent", "delivered to mailbox").replace(
            STAFF, "other@example.com"),
        line(qid, "carol@example.com", "4.2.2", "deferred", "mailbox full").replace(
            STAFF, "other@example.com"),
        line(qid, "dave@example.com", "5.1.1", "bounced", 'unknown user: "dave"').replace(
            STAFF, "other@example.com"),
    ]
    assert [(k, a) for k, _, a, _ in w.notifier.appended] == [
        ("defer", "carol@example.com"), ("bounce", "dave@example.com")] * 2
    info = w.store.read_info("deferred", qid)
    assert [r.address for r in info.recipients] == [STAFF, "other@example.com"]
    assert info.done == ()
    assert w.notifier.flushed == [("bounce", str(qid), ("dave@example.com",) * 2)]


def test_all_members_delivered_crosses_the_alias_off(tmp_path):
    w = world(tmp_path, [BOB, CAROL])
    qid = w.submit((STAFF, "x@other.example"))
    w.manager.start()
    assert sum("status=sent" in entry for entry in w.log.lines) == 4
    assert w.where(qid) is None and w.notifier.appended == []


def test_soft_bounce_defers_a_bounced_member(tmp_path):
    w = world(tmp_path, [BOB, DAVE])
    w.manager._soft_bounce = True
    qid = w.submit((STAFF,))
    w.manager.start()
    assert w.log.lines[2] == line(qid, "dave@example.com", "4.1.1", "deferred",
                                  'unknown user: "dave"')
    assert [r.address for r in w.store.read_info("deferred", qid).recipients] == [STAFF]


def test_members_must_be_plain_statuses():
    import pytest
    member = RecipientStatus(Recipient("bob@x"), "sent", Dsn("2.0.0"))
    with pytest.raises(ValueError):
        RecipientStatus(Recipient("a@x"), "sent", Dsn("2.0.0"),
                        members=(RecipientStatus(Recipient("b@x"), "sent", Dsn("2.0.0"),
                                                 members=(member,)),))
    with pytest.raises(ValueError):
        RecipientStatus(Recipient("a@x"), "sent", Dsn("2.0.0"), members=("bob@x",))
