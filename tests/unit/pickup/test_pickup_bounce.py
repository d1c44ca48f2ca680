"""pickup returns mail that cleanup refuses to its sender, as Postfix's CLEANUP_FLAG_BOUNCE."""

import email
import os

from pfx.bounce.service import BounceConfig, Notifier
from pfx.envelope import Envelope, Recipient
from pfx.interfaces import IMailSubmitter, INotifier
from pfx.queue.qid import QueueId
from tests.unit.cleanup.cleanup_fakes import RecordingLog, make_submitter, result_of
from tests.unit.pickup.test_pickup import make_pickup


def setup(tmp_path, notifier_fails=False, **config):
    sub, _ = make_submitter(tmp_path, **config)
    log, bounce_log = RecordingLog(), RecordingLog()
    cfg = BounceConfig(myhostname="mx.example.test", myorigin="example.test",
                       lookup={"myhostname": "mx.example.test"}.get)
    notifier = Notifier(cfg, sub.store, sub.runtime, bounce_log, lambda: sub)
    if notifier_fails:
        notifier.flush = lambda *a: result_of_failure(OSError("bounce is broken"))
    pickup = make_pickup(sub, {IMailSubmitter: sub, INotifier: notifier}, log)
    return pickup, sub, log, bounce_log


def result_of_failure(exc):
    from twisted.internet import defer
    return defer.fail(exc)


def drop(store, content):
    w = store.new_file(Envelope("bob", (Recipient("carol"), Recipient("dave"))), "maildrop")
    w.write(content)
    return str(w.commit())


def queue(store, name):
    return sorted(os.listdir(store.queue_dir(name)))


def test_a_refused_local_submission_is_bounced_to_its_sender(tmp_path):
    pickup, sub, log, bounce_log = setup(tmp_path, hopcount_limit=1)
    drop(sub.store, b"Received: a\nReceived: b\nSubject: looping\n\nx\n")
    result_of(pickup.wake())
    assert queue(sub.store, "maildrop") == [] and queue(sub.store, "bounce") == []
    [qid] = {line.split(":")[0] for line in log.lines if "status=bounced" in line}
    assert [line for line in log.lines if "status=bounced" in line] == [
        f"{qid}: to=<{r}>, relay=none, delay=0, delays=0/0/0/0, dsn=5.4.0, "
        "status=bounced (too many hops)" for r in ("carol", "dave")]
    [notice_line] = bounce_log.lines
    assert notice_line.startswith(f"{qid}: sender non-delivery notification: ")
    [name] = queue(sub.store, "incoming")
    with sub.store.open("incoming", QueueId(name)) as reader:
        assert reader.info.sender == ""
        assert [r.address for r in reader.info.recipients] == ["bob@example.test"]
        notice = email.message_from_bytes(b"".join(reader.iter_content()))
    text = notice.as_string()
    # The envelope as submitted: pickup cannot see cleanup's rewriting of a refused message.
    assert "<carol>: too many hops" in text and "Diagnostic-Code: X-Postfix; too many hops" in text
    assert "Subject: looping" in text  # the returned message


def test_when_the_notice_cannot_be_sent_the_file_stays_for_the_next_pass(tmp_path):
    pickup, sub, log, _ = setup(tmp_path, notifier_fails=True, hopcount_limit=1)
    name = drop(sub.store, b"Received: a\nReceived: b\n\nx\n")
    result_of(pickup.wake())
    assert queue(sub.store, "maildrop") == [name] and queue(sub.store, "incoming") == []
    assert "bounce notice not sent: bounce is broken" in log.text()
