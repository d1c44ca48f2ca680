"""postsuper -r's conversion: a queue file -> a maildrop file with what is still to deliver."""

import os

import pytest

from pfx.envelope import Client, Envelope, Recipient
from pfx.queue.qfile import QueueFileReader
from pfx.queue.qid import QueueId
from pfx.queue.records import FLAG_EXTRACT, MAILDROP, REQUEUE
from pfx.queue.requeue import NotRequeued, requeue
from pfx.queue.store import QueueStore
from pfx.errors import QueueFileCorrupt

ARRIVAL = 1795600832.25
CLIENT = Client(name="client.example.org", addr="192.0.2.7", port="4711",
                helo="client.example.org", protocol="ESMTP", sasl_method="PLAIN",
                sasl_username="alice")
CONTENT = b"Subject: requeue\nFrom: a@example.org\n\nbody line\n" + b"x" * 70000 + b"\n"


@pytest.fixture
def store(tmp_path):
    s = QueueStore(tmp_path / "spool")
    s.check()
    return s


def queued(store, recipients, *, queue="deferred", done=(), attributes=(), flags=0,
           content=CONTENT):
    env = Envelope("alice@example.org", recipients, client=CLIENT, envid="ENV-1", ret="HDRS",
                   body_type="8BITMIME", smtputf8=True, arrival=ARRIVAL)
    with store.new_file(env, attributes=attributes, flags=flags) as w:
        w.write(content)
        qid = w.commit(extracted=(Recipient("bcc@example.net", notify={"NEVER"}),))
    if done:
        with store.open("incoming", qid) as reader:
            reader.mark_done([r.offset for r in reader.info.recipients if r.address in done])
    if queue != "incoming":
        store.move(qid, "incoming", queue)
    return qid


def maildrop_files(store):
    return sorted(n for n in os.listdir(store.queue_dir("maildrop")) if "." not in n)


def test_only_pending_recipients_with_their_dsn_and_original_recipient(store):
    rcpts = [Recipient("done@example.com", orig="list@example.com"),
             Recipient("b@example.com", orig="list@example.com", orcpt="rfc822;list@example.com",
                       notify={"SUCCESS", "FAILURE"}),
             Recipient("c@example.com", notify={"NEVER"})]
    qid = queued(store, rcpts, done=("done@example.com",),
                 attributes=[("content_filter", "scan:[127.0.0.1]:10025"),
                             ("redirect", "elsewhere@example.com")],
                 flags=FLAG_EXTRACT)
    os.makedirs(os.path.dirname(store.path("defer", qid)), exist_ok=True)
    open(store.path("defer", qid), "w").close()
    new = requeue(store, "deferred", qid)
    assert new is not None and new != qid
    assert store.find(qid) is None  # the original is gone ...
    assert not os.path.exists(store.path("defer", qid))
    assert maildrop_files(store) == [str(new)]  # ... into maildrop/, under a new name
    with QueueFileReader(store.path("maildrop", new), policy=REQUEUE) as reader:
        info = reader.info
        content = b"".join(reader.iter_content())
    assert info.done == ()
    assert info.recipients == (
        Recipient("b@example.com", orig="list@example.com", orcpt="rfc822;list@example.com",
                  notify={"SUCCESS", "FAILURE"}, offset=info.recipients[0].offset),
        Recipient("c@example.com", notify={"NEVER"}, offset=info.recipients[1].offset),
        Recipient("bcc@example.net", notify={"NEVER"}, offset=info.recipients[2].offset))
    env = info.envelope
    assert (env.sender, env.envid, env.ret, env.body_type, env.smtputf8, env.arrival) == (
        "alice@example.org", "ENV-1", "HDRS", "8BITMIME", True, ARRIVAL)
    assert env.client == CLIENT
    # content_filter and redirect go, as Postfix's pickup drops them; sendmail -t too
    assert info.attributes == (("orig_id", str(qid)),)
    assert info.flags & FLAG_EXTRACT == 0
    assert content == CONTENT
    assert info.sizes.body_offset == CONTENT.index(b"\n\n") + 1  # as the original


def test_a_local_user_could_not_have_written_it(store):
    new = requeue(store, "hold", queued(store, [Recipient("b@example.com")], queue="hold"))
    with pytest.raises(QueueFileCorrupt, match="not allowed in a maildrop file"):
        QueueFileReader(store.path("maildrop", new), policy=MAILDROP)


def test_from_every_message_queue(store):
    for queue in ("incoming", "active", "deferred", "hold"):
        qid = queued(store, [Recipient("b@example.com")], queue=queue)
        assert requeue(store, queue, qid) is not None and store.find(qid) is None
    assert len(maildrop_files(store)) == 4


def test_not_there_or_not_ready_is_not_found(store):
    qid = queued(store, [Recipient("b@example.com")])
    assert requeue(store, "hold", qid) is None
    w = store.new_file(Envelope("a@example.org", [Recipient("b@example.com")]))
    w.write(b"Subject: x\n\n")
    os.link(w.temp_path, store.path("incoming", w.queue_id))  # still being written
    assert requeue(store, "incoming", w.queue_id) is None
    assert maildrop_files(store) == [] and store.find(qid) == "deferred"


def test_corrupt_file_is_reported_and_moved_to_corrupt(store):
    qid = queued(store, [Recipient("b@example.com")])
    path = store.path("deferred", qid)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 30)
    with pytest.raises(NotRequeued, match=f"{qid}: corrupt queue file in deferred: .*"
                                          "moved to queue corrupt"):
        requeue(store, "deferred", qid)
    assert store.find(qid) == "corrupt" and maildrop_files(store) == []
    assert [n for n in os.listdir(store.queue_dir("maildrop"))] == []  # no temporary left


def test_corrupt_content_found_while_copying(store):
    qid = queued(store, [Recipient("b@example.com")])
    path = store.path("deferred", qid)
    with open(path, "r+b") as f:  # damage a content record's type byte
        with store.open("deferred", qid) as reader:
            at = reader.info.sizes.content_offset
        f.seek(at)
        f.write(b"Z")
    with pytest.raises(NotRequeued, match="moved to queue corrupt"):
        requeue(store, "deferred", qid)
    assert store.find(qid) == "corrupt" and os.listdir(store.queue_dir("maildrop")) == []


def test_nothing_left_to_deliver_stays(store):
    qid = queued(store, [Recipient("b@example.com")], done=("b@example.com",))
    # the extracted bcc is still pending; cross it off too
    with store.open("deferred", qid) as reader:
        reader.mark_done([r.offset for r in reader.info.recipients])
    with pytest.raises(NotRequeued, match="no recipients left"):
        requeue(store, "deferred", qid)
    assert store.find(qid) == "deferred" and maildrop_files(store) == []


def test_original_taken_away_meanwhile_leaves_no_copy(store, monkeypatch):
    import pfx.queue.requeue as mod
    qid = queued(store, [Recipient("b@example.com")])
    real = mod.copy_to_maildrop

    def copy_then_finish(store_, reader, owner=None):
        new = real(store_, reader, owner)
        os.unlink(store.path("deferred", qid))  # qmgr delivered it meanwhile
        return new
    monkeypatch.setattr(mod, "copy_to_maildrop", copy_then_finish)
    assert requeue(store, "deferred", qid) is None
    assert maildrop_files(store) == [] and store.find(qid) is None


def test_original_moved_by_qmgr_meanwhile_is_removed_there(store, monkeypatch):
    import pfx.queue.requeue as mod
    qid = queued(store, [Recipient("b@example.com")], queue="active")
    real = mod.copy_to_maildrop

    def copy_then_defer(store_, reader, owner=None):
        new = real(store_, reader, owner)
        store.move(qid, "active", "deferred")
        return new
    monkeypatch.setattr(mod, "copy_to_maildrop", copy_then_defer)
    new = requeue(store, "active", qid)
    assert maildrop_files(store) == [str(new)] and store.find(qid) is None


def test_crash_before_the_original_is_removed_duplicates_never_loses(store, monkeypatch):
    import pfx.queue.requeue as mod
    qid = queued(store, [Recipient("b@example.com")])

    def crash(*args):
        raise KeyboardInterrupt  # the process dies between commit and unlink
    monkeypatch.setattr(mod, "_remove_original", crash)
    with pytest.raises(KeyboardInterrupt):
        requeue(store, "deferred", qid)
    [copy] = maildrop_files(store)
    assert store.find(qid) == "deferred"  # both: delivered twice at worst
    assert QueueId(copy) != qid


@pytest.mark.parametrize("log", ["bounce", "trace"])
def test_a_notice_still_to_send_keeps_the_message(store, log):
    qid = queued(store, [Recipient("b@example.com")])
    open(store.path(log, qid), "w").close()
    with pytest.raises(NotRequeued, match="notice is still to be sent; left in queue deferred"):
        requeue(store, "deferred", qid)
    assert store.find(qid) == "deferred" and maildrop_files(store) == []
    assert os.path.exists(store.path(log, qid))


@pytest.mark.parametrize("value, expected", [
    (None, ARRIVAL), (repr(ARRIVAL + 5.5), ARRIVAL + 5.5), ("nan", ARRIVAL), ("inf", ARRIVAL),
    ("soon", ARRIVAL), (repr(ARRIVAL - 1), ARRIVAL)])
def test_create_time_is_where_the_lifetime_starts(value, expected):
    from pfx.queue.stream import decode, encode
    env = Envelope("a@example.org", [Recipient("b@example.com")], arrival=ARRIVAL)
    attributes = [] if value is None else [("create_time", value)]
    info, _ = decode(encode(env, b"Subject: x\n\n", attributes=attributes))
    assert info.create_time == expected and info.arrival == ARRIVAL
