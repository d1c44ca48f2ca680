"""The QueueManager end to end on a tmp_path queue, task.Clock and fake agents."""

import os

from pfx.envelope import Recipient
from pfx.errors import TableRetry
from pfx.qmgr.backoff import RetryPolicy
from pfx.qmgr.policy import SchedulerConfig, TransportPolicy
from pfx.queue.qid import QueueId

from qmgr_fakes import CONTENT, FakeAgent, FakeNotifier, World, resolve_settings

SIZE = len(CONTENT)


def plan(**by_user):
    """address -> (action, dsn, text) by local part; default sent."""
    def answer(address):
        return by_user.get(address.partition("@")[0], ("sent", "2.0.0", "delivered"))
    return answer


def test_sent_message_is_logged_and_removed(tmp_path):
    w = World(tmp_path)
    w.agents["smtp"].delay = 1.5
    qid = w.submit(arrival=w.clock.seconds() - 10)
    w.manager.start()
    w.clock.advance(1.5)
    assert w.log.lines == [
        f"{qid}: from=<sender@example.org>, size={SIZE}, nrcpt=1 (queue active)",
        f"{qid}: to=<user@example.com>, relay=fake[127.0.0.1], delay=12, "
        f"delays=10/0/0/1.5, dsn=2.0.0, status=sent (delivered)",
        f"{qid}: removed",
    ]
    assert w.where(qid) is None
    [request] = w.agents["smtp"].requests
    assert (request.transport, request.nexthop, request.sender) == \
        ("smtp", "example.com", "sender@example.org")
    assert w.agents["smtp"].contents == [CONTENT]
    assert w.notifier.appended == [] and w.notifier.flushed == []


def test_a_backlog_is_opened_in_one_blocking_call_within_the_active_limit(tmp_path):
    config = SchedulerConfig(active_limit=3, transports={"smtp": TransportPolicy("smtp")})
    w = World(tmp_path, config=config)
    w.agents["smtp"].delay = 5
    batches = []
    held = w.manager._blocking
    run = held._run
    held._run = lambda f, *a: (batches.append(_opens(f, a)), run(f, *a))[1]
    qids = [w.submit() for _ in range(5)]
    w.manager.start()
    assert [n for n in batches if n] == [3]  # the first three together, no more
    assert sum(w.where(q) == "active" for q in qids) == 3
    w.clock.advance(5)  # each removal makes room for one more
    w.clock.advance(5)
    assert sum(batches) == 5 and [w.where(q) for q in qids] == [None] * 5
    assert sum("(queue active)" in line for line in w.log.lines) == 5


def _opens(f, args):
    """How many messages a blocking call reads into the active queue."""
    if f.__name__ != "each":
        return 0
    if getattr(args[0], "__name__", "") == "_load":
        return len(args[1])
    return sum(_opens(g, a) for g, a, _ in args[1])


def test_blocking_calls_of_one_pass_go_to_a_thread_as_one_job(tmp_path):
    from twisted.internet import defer
    w = World(tmp_path)
    queued = []  # a thread pool that runs its jobs when the test says

    def run(f, *args):
        d = defer.Deferred()
        queued.append((d, f, args))
        return d
    w.manager._blocking._run = run
    qids = [w.submit() for _ in range(3)]
    w.manager.start()
    jobs = []
    while queued:
        d, f, args = queued.pop(0)
        jobs.append(f.__name__)
        d.callback(f(*args))
    assert [w.where(q) for q in qids] == [None] * 3
    assert sum("removed" in line for line in w.log.lines) == 3
    # the recovery; the incoming and deferred scans; the scans' ends and the read of
    # all three; their three D records; their three removals
    assert jobs == ["_recover", "each", "each", "each", "each"], jobs


def test_bounced_recipient_is_logged_and_notified(tmp_path):
    w = World(tmp_path)
    w.agents["smtp"].plan = plan(user=("bounced", "5.1.1", "no such user"))
    qid = w.submit()
    w.manager.start()
    assert w.log.lines[1:] == [
        f"{qid}: to=<user@example.com>, relay=fake[127.0.0.1], delay=0, delays=0/0/0/0, "
        f"dsn=5.1.1, status=bounced (no such user)",
        f"{qid}: removed",
    ]
    assert w.notifier.appended == [("bounce", str(qid), "user@example.com", "bounced")]
    assert w.notifier.flushed == [("bounce", str(qid), ("user@example.com",))]
    assert w.where(qid) is None


def test_deferred_message_moves_to_deferred_with_next_attempt_as_mtime(tmp_path):
    w = World(tmp_path)
    w.agents["smtp"].plan = plan(user=("deferred", "4.4.2", "lost connection"))
    qid = w.submit()
    w.manager.start()
    assert w.log.lines[1:] == [
        f"{qid}: to=<user@example.com>, relay=fake[127.0.0.1], delay=0, delays=0/0/0/0, "
        f"dsn=4.4.2, status=deferred (lost connection)"]
    assert w.where(qid) == "deferred"
    assert w.store.next_attempt("deferred", qid) == w.clock.seconds() + 300
    assert w.notifier.appended == [("defer", str(qid), "user@example.com", "deferred")]


def test_final_recipients_are_crossed_off_and_only_the_rest_retried(tmp_path):
    w = World(tmp_path)
    w.agents["smtp"].plan = plan(b=("bounced", "5.1.1", "unknown"),
                                 c=("deferred", "4.2.0", "busy"))
    qid = w.submit(("a@example.com", "b@example.com", "c@example.com"))
    w.manager.start()
    info = w.store.read_info("deferred", qid)
    assert [r.address for r in info.recipients] == ["c@example.com"]
    assert sorted(r.address for r in info.done) == ["a@example.com", "b@example.com"]
    assert w.notifier.flushed == [("bounce", str(qid), ("b@example.com",))]
    # the retry offers only c; nrcpt is the file's count, as Postfix's size record has it
    w.agents["smtp"].plan = plan()
    w.clock.advance(300)
    w.manager.kick(b"D")
    assert [r.address for r in w.agents["smtp"].requests[-1].recipients] == ["c@example.com"]
    assert w.log.lines.count(
        f"{qid}: from=<sender@example.org>, size={SIZE}, nrcpt=3 (queue active)") == 2
    assert w.log.lines[-1] == f"{qid}: removed"


def test_agent_that_raises_defers_and_the_service_keeps_going(tmp_path):
    w = World(tmp_path, agents={"smtp": FakeAgent(None, mode="raise")},
              settings=resolve_settings(transport_maps={"other.example": "relay:"}.get))
    w.agents["relay"] = FakeAgent(w.clock)
    config = SchedulerConfig(transports={"smtp": TransportPolicy("smtp"),
                                         "relay": TransportPolicy("relay")})
    w2 = World(tmp_path / "b", agents=w.agents, config=config, clock=w.clock,
               settings=w.settings)
    bad = w2.submit()
    good = w2.submit(("u@other.example",))
    w2.manager.start()
    lines = w2.log.lines
    assert f"warning: {bad}: transport smtp: agent failed: RuntimeError: agent exploded" \
        in lines
    assert (f"{bad}: to=<user@example.com>, relay=none, delay=0, delays=0/0/0/0, "
            f"dsn=4.3.0, status=deferred (unknown mail transport error)") in lines
    assert w2.where(bad) == "deferred"
    assert f"{good}: removed" in lines and w2.where(good) is None


def test_agent_that_never_answers_is_timed_out(tmp_path):
    w = World(tmp_path, agents={}, time_limit=100)
    w.agents["smtp"] = FakeAgent(w.clock, mode="silent")
    qid = w.submit()
    w.manager.start()
    assert w.where(qid) == "active"
    w.clock.advance(99)
    assert w.where(qid) == "active"
    w.clock.advance(1)
    assert f"warning: {qid}: transport smtp: agent failed: no answer within 100s" in \
        w.log.lines
    assert w.log.lines[-1].endswith("dsn=4.3.0, status=deferred (unknown mail transport "
                                    "error)")
    assert "delays=0/0/0/100," in w.log.lines[-1]
    assert w.where(qid) == "deferred"


def test_agent_with_a_wrong_answer_defers(tmp_path):
    w = World(tmp_path)
    w.agents["smtp"].mode = "short"
    qid = w.submit(("a@example.com", "b@example.com"))
    w.manager.start()
    assert any("agent returned 1 statuses for 2 recipients" in x for x in w.log.lines)
    assert w.where(qid) == "deferred"
    assert len(w.store.read_info("deferred", qid).recipients) == 2


def test_transport_without_agent_is_unavailable(tmp_path):
    w = World(tmp_path, agents={})
    qid = w.submit()
    w.manager.start()
    assert w.log.lines[-1].endswith("dsn=4.3.0, status=deferred (mail transport "
                                    "unavailable)")
    assert w.where(qid) == "deferred"


def test_crash_recovery_moves_active_back_to_incoming(tmp_path):
    w = World(tmp_path)
    qid = w.submit(queue="active")
    w.manager.start()
    assert w.log.lines[0].endswith("(queue active)")
    assert w.log.lines[-1] == f"{qid}: removed"
    assert w.where(qid) is None


def test_corrupt_file_is_quarantined_and_others_still_go(tmp_path):
    w = World(tmp_path)
    good = w.submit()
    bad = QueueId.from_time(w.clock.seconds(), 12345)
    path = w.store.path("incoming", bad)
    with open(path, "wb") as f:
        f.write(b"this is not a queue file")
    os.chmod(path, 0o700)
    w.manager.start()
    assert (f'warning: saving corrupt file "{bad}" from queue "active" to queue "corrupt"'
            in w.log.lines)
    assert w.where(bad) == "corrupt"
    assert os.stat(w.store.path("corrupt", bad)).st_mode & 0o777 == 0o400
    assert f"{good}: removed" in w.log.lines


def test_backoff_schedule_through_deferred_scans(tmp_path):
    w = World(tmp_path)
    w.agents["smtp"].plan = plan(user=("deferred", "4.4.1", "connect failed"))
    w.manager.start()
    qid = w.submit()
    w.manager.kick(b"I")
    start = w.clock.seconds()
    for _ in range(50):  # queue_run_delay = 300: the D trigger every 300 s
        w.clock.advance(300)
        w.manager.kick(b"D")
    attempts = [r for r in w.agents["smtp"].requests if r.queue_id == str(qid)]
    assert len(attempts) > 5
    times = [line for line in w.log.with_id(qid) if "(queue active)" in line]
    assert len(times) == len(attempts)
    # the deferred files were offered when due: 0, 300, 600, 1200, 2400, 4800, 9000, ...
    assert w.store.next_attempt("deferred", qid) > w.clock.seconds() - 300
    assert start  # the schedule itself is checked in test_qmgr_service with timers


def test_expired_message_is_returned_to_sender(tmp_path):
    w = World(tmp_path, retry=RetryPolicy(maximal_queue_lifetime=1000))
    w.agents["smtp"].plan = plan(user=("deferred", "4.4.1", "connect failed"))
    qid = w.submit(arrival=w.clock.seconds() - 2000)
    w.manager.start()
    assert w.log.lines[-2:] == [
        f"{qid}: from=<sender@example.org>, status=expired, returned to sender",
        f"{qid}: removed",
    ]
    assert w.notifier.flushed == [("expire", str(qid), ("user@example.com",))]
    assert w.where(qid) is None


def test_expiry_waits_when_the_notice_cannot_be_sent(tmp_path):
    w = World(tmp_path, retry=RetryPolicy(maximal_queue_lifetime=1000),
              notifier=FakeNotifier(fail_flush=True))
    w.agents["smtp"].plan = plan(user=("deferred", "4.4.1", "connect failed"))
    qid = w.submit(arrival=w.clock.seconds() - 2000)
    w.manager.start()
    assert w.where(qid) == "deferred"
    assert any("expire notice not sent" in x for x in w.log.lines)


def test_a_requeued_message_has_a_new_lifetime_and_keeps_its_arrival(tmp_path):
    # postsuper -r: cleanup recorded create_time; the lifetime counts from it (Postfix's
    # REC_TYPE_CTIME), the delays in the log still from the arrival
    from pfx.envelope import Envelope
    w = World(tmp_path, retry=RetryPolicy(maximal_queue_lifetime=1000))
    w.agents["smtp"].plan = plan(user=("deferred", "4.4.1", "connect failed"))
    now = w.clock.seconds()
    writer = w.store.new_file(Envelope("sender@example.org", (Recipient("user@example.com"),),
                                       arrival=now - 2000),
                              attributes=[("create_time", repr(now - 10))])
    writer.write(CONTENT)
    qid = writer.commit()
    w.manager.start()
    assert w.where(qid) == "deferred" and w.notifier.flushed == []
    assert any(f"{qid}: to=<user@example.com>" in x and "delay=2000" in x for x in w.log.lines)
    # the backoff, too, counts from create_time: the minimum, not the age since arrival
    assert w.store.next_attempt("deferred", qid) == now + 300


def test_incoming_and_deferred_take_turns(tmp_path):
    w = World(tmp_path)
    i1, i2 = w.submit(("a@example.com",)), w.submit(("b@example.com",))
    d1, d2 = (w.submit((f"{x}@example.com",), queue="deferred") for x in "cd")
    for qid in (d1, d2):
        w.store.set_next_attempt("deferred", qid, w.clock.seconds() - 1)
    w.manager.start()
    order = [line.split(":")[0] for line in w.log.lines if "(queue active)" in line]
    incoming, deferred = {str(i1), str(i2)}, {str(d1), str(d2)}
    assert [q in incoming for q in order] == [True, False, True, False]
    assert set(order) == incoming | deferred


def test_deferred_files_not_due_stay_unless_flushed(tmp_path):
    w = World(tmp_path)
    qid = w.submit(queue="deferred")
    w.store.set_next_attempt("deferred", qid, w.clock.seconds() + 1000)
    w.manager.start()
    assert w.where(qid) == "deferred"
    w.manager.kick(b"A")
    w.manager.kick(b"F")
    w.manager.kick(b"D")  # postqueue -f sends A F D
    assert w.where(qid) is None


def test_hold_queue_is_never_scanned(tmp_path):
    w = World(tmp_path)
    qid = w.submit(queue="hold")
    w.manager.start()
    w.manager.kick(b"AFDIW")
    assert w.where(qid) == "hold" and w.agents["smtp"].requests == []


def test_delay_warning_is_sent_once(tmp_path):
    w = World(tmp_path, retry=RetryPolicy(delay_warning_time=500))
    w.agents["smtp"].plan = plan(user=("deferred", "4.4.1", "connect failed"))
    w.manager.start()
    qid = w.submit()
    w.manager.kick(b"I")
    for _ in range(10):
        w.clock.advance(300)
        w.manager.kick(b"D")
    delays = [f for f in w.notifier.flushed if f[0] == "delay"]
    assert delays == [("delay", str(qid), ("user@example.com",))]


def test_double_bounce_is_discarded_by_qmgr(tmp_path):
    w = World(tmp_path)
    qid = w.submit(("double-bounce@mx.example.test",), sender="")
    w.manager.start()
    assert w.log.lines[1:] == [
        f"{qid}: to=<double-bounce@mx.example.test>, relay=none, delay=0, "
        f"delays=0/0/0/0, dsn=2.0.0, status=sent (undeliverable postmaster notification "
        f"discarded)",
        f"{qid}: removed"]
    assert w.agents["smtp"].requests == []


def test_relocated_recipient_bounces_with_5_1_6(tmp_path):
    settings = resolve_settings(relocated={"old@example.com": "new@example.net"}.get)
    w = World(tmp_path, settings=settings)
    qid = w.submit(("old@example.com", "user@example.com"))
    w.manager.start()
    assert (f"{qid}: to=<old@example.com>, relay=none, delay=0, delays=0/0/0/0, "
            f"dsn=5.1.6, status=bounced (User has moved to new@example.net)") in w.log.lines
    assert w.notifier.flushed == [("bounce", str(qid), ("old@example.com",))]
    assert w.log.lines[-1] == f"{qid}: removed"


def test_resolver_failure_defers_with_4_3_0(tmp_path):
    def broken(key):
        raise TableRetry("hash:/etc/pfx/transport is unavailable")
    w = World(tmp_path, settings=resolve_settings(transport_maps=broken))
    qid = w.submit()
    w.manager.start()
    assert w.log.lines[-1].endswith("dsn=4.3.0, status=deferred (address resolver failure)")
    assert w.where(qid) == "deferred"


def test_without_a_bounce_service_mail_still_flows(tmp_path):
    w = World(tmp_path, notifier=None)
    w.agents["smtp"].plan = plan(user=("bounced", "5.1.1", "unknown"))
    qid = w.submit()
    w.manager.start()
    assert w.log.lines[-1] == f"{qid}: removed"


def test_bounce_log_failure_keeps_the_recipient(tmp_path):
    w = World(tmp_path, notifier=FakeNotifier(fail_append=True))
    w.agents["smtp"].plan = plan(user=("bounced", "5.1.1", "unknown"))
    qid = w.submit()
    w.manager.start()
    assert w.where(qid) == "deferred"
    assert [r.address for r in w.store.read_info("deferred", qid).recipients] == \
        ["user@example.com"]


def test_recipients_enter_in_pieces_within_the_recipient_limit(tmp_path):
    config = SchedulerConfig(recipient_limit=2, recipient_minimum=1,
                             transports={"smtp": TransportPolicy("smtp", recipient_limit=1)})
    w = World(tmp_path, config=config)
    qid = w.submit(tuple(f"u{i}@example.com" for i in range(5)))
    w.manager.start()
    assert len(w.agents["smtp"].requests) == 5
    assert w.log.lines[-1] == f"{qid}: removed"


def test_orig_to_is_logged_when_it_differs(tmp_path):
    w = World(tmp_path)
    qid = w.submit((Recipient("user@example.com", orig="alias@example.com"),))
    w.manager.start()
    assert (f"{qid}: to=<user@example.com>, orig_to=<alias@example.com>, "
            f"relay=fake[127.0.0.1]") in w.log.lines[1]


def test_kick_from_cleanup_picks_up_new_mail(tmp_path):
    w = World(tmp_path)
    w.manager.start()
    qid = w.submit()
    assert w.where(qid) == "incoming"
    w.manager.kick(b"I")
    assert w.where(qid) is None


def test_notify_success_gets_a_success_notice(tmp_path):
    w = World(tmp_path)
    qid = w.submit((Recipient("user@example.com", notify={"SUCCESS"}), "plain@example.com"))
    w.manager.start()
    assert w.notifier.appended == [("trace", str(qid), "user@example.com", "sent")]
    assert w.notifier.flushed == [("success", str(qid), ("user@example.com",))]
    assert w.log.lines[-1] == f"{qid}: removed"


def test_dead_destination_defers_the_rest_without_trying(tmp_path):
    config = SchedulerConfig(transports={"smtp": TransportPolicy(
        "smtp", initial_concurrency=1)})
    w = World(tmp_path, config=config)
    w.agents["smtp"].plan = lambda a: ("deferred", "4.4.1", "connect to example.com: refused")
    w.agents["smtp"].delay = 1
    qids = [w.submit((f"{x}@example.com",)) for x in "abc"]
    w.manager.start()
    w.clock.advance(1)
    assert len(w.agents["smtp"].requests) == 1
    suspended = [x for x in w.log.lines if "delivery temporarily suspended: connect to "
                 "example.com: refused" in x]
    assert len(suspended) == 2 and all("relay=none" in x for x in suspended)
    assert [w.where(qid) for qid in qids] == ["deferred"] * 3
