"""local(8) reports each final delivery of an expansion as a member status (orig_to=)."""

from pfx.envelope import Recipient

from ondisk_fakes import FakeSubmitter
from test_local_agent import RecordingAgent, deliver, make

STAFF = "staff@mx.example.test"


def shape(status):
    return [(m.recipient.address, m.recipient.orig, m.action, str(m.dsn), m.text, m.relay)
            for m in status.members]


def test_alias_with_two_delivered_and_one_bounced_member(tmp_path):
    agent = make(tmp_path, "staff: bob, carol, dave\n")
    [st] = deliver(agent, STAFF)
    assert (st.action, str(st.dsn), st.text) == ("bounced", "5.1.1", 'unknown user: "dave"')
    assert shape(st) == [
        ("bob@mx.example.test", STAFF, "sent", "2.0.0", "delivered to mailbox", "local"),
        ("carol@mx.example.test", STAFF, "sent", "2.0.0", "delivered to mailbox", "local"),
        ("dave@mx.example.test", STAFF, "bounced", "5.1.1", 'unknown user: "dave"', "local"),
    ]
    assert (tmp_path / "spool" / "bob").exists() and (tmp_path / "spool" / "carol").exists()


def test_a_deferred_member_defers_the_alias(tmp_path):
    agent = make(tmp_path, f"staff: bob, :include:{tmp_path}/missing, dave\n")
    [st] = deliver(agent, Recipient(STAFF, orig="team@orig.test"))
    assert (st.action, str(st.dsn)) == ("deferred", "4.3.0")
    assert [(a, o, act) for a, o, act, _, _, _ in shape(st)] == [
        ("bob@mx.example.test", "team@orig.test", "sent"),
        (STAFF, "team@orig.test", "deferred"),
        ("dave@mx.example.test", "team@orig.test", "bounced")]
    assert st.members[1].text.startswith(f"cannot open include file {tmp_path}/missing: ")


def test_single_delivery_to_another_address_is_a_member(tmp_path):
    agent = make(tmp_path, "staff: bob\n")
    [st] = deliver(agent, STAFF)
    assert (st.action, st.text) == ("sent", "delivered to mailbox")
    assert shape(st) == [("bob@mx.example.test", STAFF, "sent", "2.0.0",
                          "delivered to mailbox", "local")]
    [plain] = deliver(agent, "carol@mx.example.test")
    assert plain.members == ()  # a plain delivery stands for itself


def test_forwarded_members_are_reported_for_the_alias(tmp_path):
    sub = FakeSubmitter()
    agent = make(tmp_path, "list: bob, x@remote.test, y@remote.test\n", submitter=sub)
    [st] = deliver(agent, "list@mx.example.test")
    assert (st.action, st.text) == ("sent", "delivered to mailbox; forwarded as FWD1")
    assert [(a, act, text) for a, _, act, _, text, _ in shape(st)] == [
        ("bob@mx.example.test", "sent", "delivered to mailbox"),
        ("list@mx.example.test", "sent", "forwarded as FWD1")]


def test_mailbox_transport_relay_is_the_other_agents(tmp_path):
    lmtp = RecordingAgent()
    agent = make(tmp_path, "staff: bob, carol\n", agents={"lmtp": lmtp},
                 mailbox_transport="lmtp:unix:private/dovecot-lmtp")
    [st] = deliver(agent, "bob@mx.example.test")
    assert (st.relay, st.members) == ("lmtp", ())
    [st] = deliver(agent, STAFF)
    assert [(a, relay) for a, _, _, _, _, relay in shape(st)] == [
        ("bob@mx.example.test", "lmtp"), ("carol@mx.example.test", "lmtp")]
