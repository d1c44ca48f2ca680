"""pickup: maildrop files reach cleanup; malformed and foreign files are removed, never fatal."""

import os

import pytest
from twisted.internet.task import Clock

from pfx.config.mastercf import MasterEntry
from pfx.envelope import Client, Envelope, Recipient
from pfx.interfaces import IMailSubmitter
from pfx.pickup.scanner import Pickup
from pfx.pickup.service import PickupService
from pfx.queue.qid import QueueId
from pfx.queue.records import CHUNK_SIZE, QUEUE
from pfx.queue.stream import encode
from tests.unit.cleanup.cleanup_fakes import RecordingLog, make_submitter, result_of

RCPTS = (Recipient("carol"),)


def setup(tmp_path, **config):
    sub, cleanup_log = make_submitter(tmp_path, **config)
    log = RecordingLog()
    providers = {IMailSubmitter: sub}
    return make_pickup(sub, providers, log), sub, log, cleanup_log, providers


def make_pickup(sub, providers, log):
    """A Pickup on sub's store whose require() answers from ``providers`` (a dict that
    the test may change later)."""
    def require(interface):
        if interface not in providers:
            raise LookupError(interface.__name__)
        return providers[interface]
    return Pickup(sub.store, require, sub.runtime, log, myhostname="mx.example.test",
                  mail_name="pfx")


def drop(store, content=b"Subject: hi\n\nbody\n", sender="bob", rcpts=RCPTS, extracted=(),
         attributes=()):
    w = store.new_file(Envelope(sender, rcpts), "maildrop", attributes=attributes)
    w.write(content)
    return str(w.commit(extracted))


def listing(store, queue):
    return sorted(os.listdir(store.queue_dir(queue)))


def incoming_message(store):
    [name] = listing(store, "incoming")
    with store.open("incoming", QueueId(name)) as reader:
        return name, reader.info, b"".join(reader.iter_content())


def test_a_maildrop_file_goes_to_incoming_with_received_and_missing_headers(tmp_path):
    pickup, sub, log, cleanup_log, _ = setup(tmp_path)
    drop(sub.store, attributes=[("full_name", "Bob Smith")], extracted=(Recipient("dave"),))
    result_of(pickup.wake())
    assert listing(sub.store, "maildrop") == []
    qid, info, content = incoming_message(sub.store)
    assert info.sender == "bob@example.test"
    assert [r.address for r in info.recipients] == ["carol@example.test", "dave@example.test"]
    assert info.envelope.client.protocol == "local"
    uid = os.getuid()
    assert content.startswith(
        f"Received: by mx.example.test (pfx, from userid {uid})\n\tid {qid}; ".encode())
    assert b"\nFrom: Bob Smith <bob@example.test>\n" in content
    assert content.endswith(b"\n\nbody\n")
    assert log.lines == [f"{qid}: uid={uid} from=<bob>"]
    assert cleanup_log.lines == [f"{qid}: message-id=<{qid}@mx.example.test>"]


def test_content_filter_is_recorded_for_qmgr(tmp_path):
    pickup, sub, *_ = setup(tmp_path)
    pickup.content_filter = "scan:[127.0.0.1]:10025"
    drop(sub.store)
    result_of(pickup.wake())
    _, info, _ = incoming_message(sub.store)
    assert ("content_filter", "scan:[127.0.0.1]:10025") in info.attributes


def test_big_files_stream_through(tmp_path):
    pickup, sub, *_ = setup(tmp_path)
    body = b"".join(b"%08d\n" % i for i in range(3 * CHUNK_SIZE // 9))
    drop(sub.store, b"Subject: big\n\n" + body)
    result_of(pickup.wake())
    assert incoming_message(sub.store)[2].endswith(b"\n\n" + body)


def test_malformed_and_foreign_files_are_logged_and_removed_valid_ones_still_go(tmp_path):
    pickup, sub, log, *_ = setup(tmp_path)
    store = sub.store
    maildrop = store.queue_dir("maildrop")
    good = drop(store)
    truncated = drop(store, b"Subject: x\n\n" + b"y" * 5000)
    with open(os.path.join(maildrop, truncated), "r+b") as f:
        f.truncate(os.path.getsize(f.name) - 3000)
    foreign = drop(store)  # a file in another format under a queue ID name
    with open(os.path.join(maildrop, foreign), "wb") as f:
        f.write(b"From: someone\n\nnot a queue file\n")
    os.chmod(os.path.join(maildrop, foreign), 0o700)
    privileged = drop(store)  # client facts are not for a local user to set
    with open(os.path.join(maildrop, privileged), "wb") as f:
        env = Envelope("bob", RCPTS, client=Client(name="trusted.example", protocol="ESMTP"))
        f.write(encode(env, b"Subject: x\n\n", arrival=1.0, policy=QUEUE))
    os.chmod(os.path.join(maildrop, privileged), 0o700)
    linked = drop(store)
    os.link(os.path.join(maildrop, linked), tmp_path / "elsewhere")
    result_of(pickup.wake())
    assert listing(store, "maildrop") == []
    assert len(listing(store, "incoming")) == 1
    text = log.text()
    for bad in (truncated, foreign, privileged, linked):
        assert f"warning: maildrop/{bad}:" in text and "malformed file removed" in text
    assert "unknown record type 0x46" in text and "not allowed in a maildrop file" in text
    assert "file has 2 links" in text
    assert (tmp_path / "elsewhere").exists()  # only the maildrop link went
    assert good not in text


def test_files_still_being_written_are_left_alone(tmp_path):
    pickup, sub, *_ = setup(tmp_path)
    w = sub.store.new_file(Envelope("bob", RCPTS), "maildrop")
    w.write(b"Subject: x\n\n")
    result_of(pickup.wake())
    assert os.path.exists(w.temp_path) and listing(sub.store, "incoming") == []
    w.commit()
    result_of(pickup.wake())
    assert len(listing(sub.store, "incoming")) == 1


def test_a_temporary_cleanup_error_leaves_the_file_a_permanent_one_removes_it(tmp_path):
    pickup, sub, log, *_ = setup(tmp_path, queue_minfree=1 << 62)
    name = drop(sub.store)
    result_of(pickup.wake())
    assert listing(sub.store, "maildrop") == [name]
    assert "452 4.3.1 Insufficient system storage; left in maildrop" in log.text()
    pickup, sub, log, *_ = setup(tmp_path / "2", hopcount_limit=1)
    drop(sub.store, b"Received: a\nReceived: b\n\nx\n")
    result_of(pickup.wake())
    assert listing(sub.store, "maildrop") == []
    assert "rejected: 554 5.4.0 Error: too many hops; message removed" in log.text()


def test_without_cleanup_files_wait(tmp_path):
    pickup, sub, log, _, providers = setup(tmp_path)
    del providers[IMailSubmitter]
    name = drop(sub.store)
    result_of(pickup.wake())
    assert listing(sub.store, "maildrop") == [name]
    assert "no cleanup service is running" in log.text()


def test_wake_during_a_pass_coalesces_into_one_more_pass(tmp_path):
    from tests.unit.cleanup.cleanup_fakes import SteppedPool
    pool = SteppedPool()
    sub, _ = make_submitter(tmp_path, pool=pool)
    pickup = Pickup(sub.store, lambda i: sub, sub.runtime, RecordingLog(),
                    myhostname="h", mail_name="pfx")
    d = pickup.wake()
    assert pickup.wake() is d and pickup.wake() is d
    drop(sub.store)  # arrives after the first directory read was queued
    pool.run_all()
    result_of(d)
    assert len(listing(sub.store, "incoming")) == 1 and pickup.running is None


def test_service_wakes_on_its_timer(tmp_path):
    pickup, sub, *_ = setup(tmp_path)
    clock = Clock()
    wakes = []
    pickup.wake = lambda: wakes.append(clock.seconds())
    entry = MasterEntry("pickup", "unix", wakeup=60, command="pickup")
    service = PickupService(pickup, sub.store, clock, clock, entry.wakeup)
    service.services[0].startService = lambda: None  # no real socket in a unit test
    service.services[0].stopService = lambda: None
    service.startService()
    clock.advance(60)
    clock.advance(60)
    assert wakes == [0, 60, 120]
    service.stopService()
    clock.advance(60)
    assert wakes == [0, 60, 120]


def test_a_requeued_message_is_rewritten_again_and_keeps_what_postfix_keeps(tmp_path):
    from pfx.cleanup.mapping import Mappings
    from pfx.queue.requeue import requeue
    from pfx.tables.registry import Registry
    from pfx.tables.types import builtin_types
    virtual = Registry(builtin_types(), warn=lambda m: None).open_list(
        "inline:{ {b@old.example=c@new.example} }")
    pickup, sub, log, _, _ = setup(tmp_path, mappings=Mappings(virtual_alias_maps=virtual))
    pickup.content_filter = "scan:[127.0.0.1]:10025"
    client = Client(name="client.example.org", addr="192.0.2.7", helo="client.example.org",
                    protocol="ESMTP")
    env = Envelope("alice@example.org", (
        Recipient("a@old.example"),
        Recipient("b@old.example", orig="list@example.org", orcpt="rfc822;list@example.org",
                  notify={"FAILURE"})), client=client, envid="E1", ret="HDRS", arrival=1000.0)
    w = sub.store.new_file(env, attributes=[("content_filter", "old:filter")])
    w.write(b"Subject: again\n\nbody\n")
    old = w.commit()
    with sub.store.open("incoming", old) as reader:  # a@ was delivered the first time
        reader.mark_done([reader.info.recipients[0].offset])
    sub.store.move(old, "incoming", "deferred")
    requeue(sub.store, "deferred", old)
    result_of(pickup.wake())
    assert listing(sub.store, "maildrop") == []
    qid, info, content = incoming_message(sub.store)
    assert qid != str(old)
    assert info.recipients == (Recipient(
        "c@new.example", orig="list@example.org", orcpt="rfc822;list@example.org",
        notify={"FAILURE"}, offset=info.recipients[0].offset),)
    env = info.envelope
    assert (env.sender, env.client, env.envid, env.ret, env.arrival) == (
        "alice@example.org", client, "E1", "HDRS", 1000.0)
    assert ("content_filter", "scan:[127.0.0.1]:10025") in info.attributes
    assert ("content_filter", "old:filter") not in info.attributes
    # a new queue lifetime, as Postfix's REC_TYPE_CTIME; the arrival stays for delays
    assert ("create_time", repr(sub.runtime.clock.seconds())) in info.attributes
    assert info.create_time == sub.runtime.clock.seconds() and info.arrival == 1000.0
    assert content.startswith(f"Received: by mx.example.test (pfx, from userid {os.getuid()})"
                              .encode())
    assert content.endswith(b"Subject: again\n\nbody\n")
    assert log.lines == [f"{qid}: uid={os.getuid()} from=<alice@example.org> orig_id={old}"]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file another owner needs root")
def test_client_facts_need_a_trusted_owner_and_an_orig_id(tmp_path):
    pickup, sub, log, *_ = setup(tmp_path)
    maildrop = sub.store.queue_dir("maildrop")
    env = Envelope("bob", RCPTS, client=Client(name="forged.example", protocol="ESMTP"))
    forged = drop(sub.store)  # an orig_id does not help another user's file
    with open(os.path.join(maildrop, forged), "wb") as f:
        f.write(encode(env, b"Subject: x\n\n", arrival=1.0, policy=QUEUE,
                       attributes=[("orig_id", "4jjgH010NyzKPYv")]))
    os.chmod(os.path.join(maildrop, forged), 0o700)
    os.chown(os.path.join(maildrop, forged), 65534, 65534)  # another user's file
    result_of(pickup.wake())
    assert listing(sub.store, "maildrop") == [] and listing(sub.store, "incoming") == []
    assert f"maildrop/{forged}: malformed file removed" in log.text()


def test_a_damaged_requeued_file_goes_to_corrupt_never_away(tmp_path):
    from pfx.queue.requeue import requeue
    pickup, sub, log, *_ = setup(tmp_path)
    w = sub.store.new_file(Envelope("alice@example.org", RCPTS))
    w.write(b"Subject: x\n\n" + b"y" * 5000)
    old = w.commit()
    new = requeue(sub.store, "incoming", old)
    path = sub.store.path("maildrop", new)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 3000)
    result_of(pickup.wake())
    assert listing(sub.store, "maildrop") == [] and listing(sub.store, "incoming") == []
    assert listing(sub.store, "corrupt") == [str(new)]
    assert f"maildrop/{new}: malformed file: " in log.text()
