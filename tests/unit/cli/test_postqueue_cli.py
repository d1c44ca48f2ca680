"""postqueue -p/-j/-f/-i/-s and mailq, against output taken from Postfix 3.7 (long queue IDs)."""

import json
import os
import time

import pytest

from pfx.cli import mailq, postqueue
from pfx.queue.store import QueueStore

# Real `postqueue -p` output of Postfix 3.7 with enable_long_queue_ids = yes (TZ=UTC).
POSTFIX_DEFERRED = """\
----Queue ID----- --Size-- ---Arrival Time---- --Sender/Recipient------
4jZFYD3n43zJHrG        246 Wed Nov 25 10:00:32 root@ok.test
                   (connect to 127.0.0.1[127.0.0.1]:49593: Connection refused)
                                               a@ok.test
                   (connect to 127.0.0.1[127.0.0.1]:49594: Connection refused)
                                               b@defer.test

4jZFYD3vRdzJHrF!       261 Wed Nov 25 10:00:32 MAILER-DAEMON
                   (connect to 127.0.0.1[127.0.0.1]:49593: Connection refused)
                                               c@ok.test

4jZFYD4Y69zJKP0*      5313 Wed Nov 25 10:00:32 someone.with.a.very.long.address.name@some.very.long.domain.example.test
                   (connect to 127.0.0.1[127.0.0.1]:49593: Connection refused)
                                               d@ok.test
                                               e@ok.test

-- 5 Kbytes in 3 Requests.
"""
REFUSED = "connect to 127.0.0.1[127.0.0.1]:{}: Connection refused"
# A defer log as Postfix's bounce daemon wrote it (defer/8/4jZFYD3n43zJHrG).
POSTFIX_DEFER_LOG = """
<a@ok.test>: connect to 127.0.0.1[127.0.0.1]:49593: Connection refused
recipient=a@ok.test
offset=226
dsn_orig_rcpt=rfc822;a@ok.test
status=4.4.1
action=delayed
reason=connect to 127.0.0.1[127.0.0.1]:49593: Connection refused


<b@defer.test>: connect to 127.0.0.1[127.0.0.1]:49594: Connection refused
recipient=b@defer.test
offset=286
dsn_orig_rcpt=rfc822;b@defer.test
status=4.4.1
action=delayed
reason=connect to 127.0.0.1[127.0.0.1]:49594: Connection refused

"""
LONG = ("host 127.0.0.1[127.0.0.1] said: 451 4.3.0 this is a really long deferral reason "
        "that goes on and on well past the seventy-six column limit")
# Postfix 3.7, defer log naming only the second recipient, with a reason over 76 columns.
POSTFIX_UNAVAILABLE = f"""\
4jZFZM0Nt7zJJvj        360 Wed Nov 25 10:00:32 root@ok.test
({LONG})
                                               b@defer.test
                                                          (reason unavailable)
                                               a@ok.test
"""
POSTFIX_JSON = ('{"queue_name": "deferred", "queue_id": "4jZFZM0Nt7zJJvj", "arrival_time": '
                '1795600832, "message_size": 360, "forced_expire": false, "sender": '
                '"root@ok.test", "recipients": [{"address": "b@defer.test", "delay_reason": '
                f'"{LONG}"}}, {{"address": "a@ok.test"}}]}}\n')


def with_ids(text, *pairs):
    """Postfix's sample with its queue IDs replaced by ours, keeping the 17-column field."""
    for theirs, ours in pairs:
        for mark in ("*", "!", ""):
            text = text.replace(f"{theirs + mark:<17}", f"{ours + mark:<17}")
    return text


def run(capsys, *argv, module=postqueue):
    rc = module.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_empty_queue(q, capsys):
    assert run(capsys, "-c", q.dir, "-p") == (0, "Mail queue is empty\n", "")
    assert run(capsys, "-c", q.dir, "-j") == (0, "", "")


def test_listing_matches_postfix(q, capsys):
    one = q.add("root@ok.test", ["a@ok.test", "b@defer.test"], "deferred", size=246)
    q.defer_log(one, text=POSTFIX_DEFER_LOG)
    two = q.add("", ["c@ok.test"], "hold", size=261)
    q.defer_log(two, ("c@ok.test", REFUSED.format(49593)))
    three = q.add("someone.with.a.very.long.address.name@some.very.long.domain.example.test",
                  ["d@ok.test", "e@ok.test"], "active", size=5313)
    q.defer_log(three, ("d@ok.test", REFUSED.format(49593)), ("e@ok.test", REFUSED.format(49593)))
    rc, out, err = run(capsys, "-c", q.dir, "-p")
    assert (rc, err) == (0, "")
    # showq's order is active, then deferred, then hold
    blocks = POSTFIX_DEFERRED.split("\n\n")
    expected = "\n\n".join([blocks[0].split("\n", 1)[0] + "\n" + blocks[2], blocks[0].split("\n", 1)[1],
                            blocks[1], blocks[3]])
    assert out == with_ids(expected, ("4jZFYD3n43zJHrG", str(one)), ("4jZFYD3vRdzJHrF", str(two)),
                           ("4jZFYD4Y69zJKP0", str(three)))


def test_reason_unavailable_and_long_reason(q, capsys):
    qid = q.add("root@ok.test", ["a@ok.test", "b@defer.test"], "deferred", size=360)
    q.defer_log(qid, ("b@defer.test", LONG))
    rc, out, _ = run(capsys, "-c", q.dir, "-p")
    assert out.split("\n", 1)[1] == with_ids(POSTFIX_UNAVAILABLE, ("4jZFZM0Nt7zJJvj", str(qid))) \
        + "\n-- 0 Kbytes in 1 Request.\n"
    rc, out, _ = run(capsys, "-c", q.dir, "-j")
    assert out == POSTFIX_JSON.replace("4jZFZM0Nt7zJJvj", str(qid))
    assert json.loads(out)["recipients"][1] == {"address": "a@ok.test"}


def test_queue_order_marks_and_maildrop(q, capsys):
    ids = {name: q.add(rcpts=[f"{name}@ok.test"], queue=name)
           for name in ("hold", "deferred", "incoming", "active")}
    with q.store.new_file(q.store.read_info("hold", ids["hold"]).envelope, "maildrop") as w:
        w.write(b"\n")
        ids["maildrop"] = w.commit()
    rc, out, _ = run(capsys, "-c", q.dir, "-p")
    heads = [line.split()[0] for line in out.splitlines()[1:] if line[:1].isalnum()]
    assert heads == [str(ids["maildrop"]), f"{ids['active']}*", str(ids["incoming"]),
                     str(ids["deferred"]), f"{ids['hold']}!"]
    assert out.endswith("\n-- 0 Kbytes in 5 Requests.\n")
    queues = [json.loads(line)["queue_name"] for line in run(capsys, "-c", q.dir, "-j")[1].splitlines()]
    assert queues == ["maildrop", "active", "incoming", "deferred", "hold"]


def test_done_recipients_are_not_listed(q, capsys):
    q.add(rcpts=["a@ok.test", "b@ok.test"], done=("a@ok.test",))
    out = run(capsys, "-c", q.dir, "-p")[1]
    assert "b@ok.test" in out and "a@ok.test" not in out


def test_addresses_are_quoted_and_made_printable(q, capsys):
    q.add("odd person@ok.test", ["tab\there@ok.test", "ü@ok.test"])  # internal form
    out = run(capsys, "-c", q.dir, "-p")[1]
    assert '"odd person"@ok.test' in out
    assert '"tab?here"@ok.test' in out
    assert " ü@ok.test" in out  # UTF-8 is atext under SMTPUTF8
    obj = json.loads(run(capsys, "-c", q.dir, "-j")[1])
    assert obj["recipients"][0]["address"] == '"tab?here"@ok.test'


def test_json_string_escapes_as_postfix():
    assert postqueue.json_string('a"b\\c\n\x01\x7f') == '"a\\"b\\\\c\\n\\u0001\\u007F"'
    assert postqueue.json_string("x\udcff") == '"x?"'


def test_quote_local():
    assert postqueue.quote_local("a.b@x") == "a.b@x"
    assert postqueue.quote_local("a..b@x") == '"a..b"@x'
    assert postqueue.quote_local('a"b@x') == '"a\\"b"@x'
    assert postqueue.quote_local("postmaster") == "postmaster"


def test_vanished_file_is_skipped_silently(q, capsys, monkeypatch):
    gone, kept = q.add(rcpts=["gone@ok.test"]), q.add(rcpts=["kept@ok.test"])
    real = QueueStore.read_info

    def racing_read_info(self, queue, qid):
        if qid == gone:  # qmgr moved it between the scan and the read
            os.unlink(self.path(queue, qid))
        return real(self, queue, qid)

    monkeypatch.setattr(QueueStore, "read_info", racing_read_info)
    rc, out, err = run(capsys, "-c", q.dir, "-p")
    assert (rc, err) == (0, "")
    assert str(kept) in out and str(gone) not in out and "in 1 Request." in out


def test_corrupt_file_is_reported_and_skipped(q, capsys):
    bad, good = q.add(queue="deferred"), q.add(rcpts=["ok@ok.test"])
    path = q.store.path("deferred", bad)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 3)
    rc, out, err = run(capsys, "-c", q.dir, "-p")
    assert rc == 0 and str(good) in out and str(bad) not in out
    assert err.startswith(f"postqueue: warning: deferred/{bad}: ")


def test_flush_sends_postfix_request_bytes(q, capsys, qmgr_socket):
    assert run(capsys, "-c", q.dir, "-f") == (0, "", "")
    assert qmgr_socket() == b"FADI"


def test_flush_when_down(q, capsys):
    rc, out, err = run(capsys, "-c", q.dir, "-f")
    assert (rc, out) == (69, "")
    assert err == "postqueue: fatal: Cannot flush mail queue - mail system is down\n"


def test_flush_one_message(q, capsys, qmgr_socket):
    qid, other = q.add(queue="deferred"), q.add(queue="deferred")
    os.utime(q.store.path("deferred", qid), (0, time.time() + 3600))
    assert run(capsys, "-c", q.dir, "-i", str(qid)) == (0, "", "")
    assert q.where(qid) == "incoming" and q.where(other) == "deferred"
    assert q.store.next_attempt("incoming", qid) <= time.time()
    assert qmgr_socket() == b"IF"


def test_flush_one_message_when_down_and_bad_name(q, capsys):
    qid = q.add(queue="deferred")
    rc, _, err = run(capsys, "-c", q.dir, "-i", str(qid))
    assert rc == 69 and "mail system is down" in err
    rc, _, err = run(capsys, "-c", q.dir, "-i", "x/y")
    assert (rc, err) == (69, 'postqueue: fatal: Cannot flush queue ID - invalid name: "x/y"\n')


def test_flush_site(q, capsys, qmgr_socket):
    a = q.add(rcpts=["u@Site.test"], queue="deferred")
    b = q.add(rcpts=["u@other.test"], queue="deferred")
    c = q.add(rcpts=["u@site.test"], queue="hold")
    assert run(capsys, "-c", q.dir, "-s", "site.test") == (0, "", "")
    assert (q.where(a), q.where(b), q.where(c)) == ("incoming", "deferred", "hold")
    assert qmgr_socket() == b"IF"


@pytest.mark.parametrize("argv", [[], ["-p", "-j"], ["-x"], ["-p", "extra"]])
def test_usage(q, capsys, argv):
    rc, out, err = run(capsys, "-c", q.dir, *argv)
    assert rc == 69 and out == ""
    assert err.endswith("postqueue: fatal: " + postqueue.USAGE + "\n")


def test_missing_config(tmp_path, capsys):
    rc, _, err = run(capsys, "-c", str(tmp_path / "nowhere"), "-p")
    assert rc == 1 and err == f"postqueue: fatal: open {tmp_path}/nowhere/main.cf: No such file or directory\n"


def test_mail_config_environment(q, capsys, monkeypatch):
    monkeypatch.setenv("MAIL_CONFIG", q.dir)
    assert run(capsys, "-p") == (0, "Mail queue is empty\n", "")


def test_mailq_is_postqueue_p(q, capsys):
    q.add(queue="deferred")
    expected = run(capsys, "-c", q.dir, "-p")
    assert run(capsys, "-c", q.dir, module=mailq) == expected
    assert run(capsys, "-c", q.dir, "-v", "-Ac", module=mailq) == expected


def test_unreadable_queue_is_a_clean_fatal(q, capsys, monkeypatch):
    def denied(self, queue, **kwargs):
        raise PermissionError(13, "Permission denied", self.queue_dir(queue))

    monkeypatch.setattr(QueueStore, "scan", denied)
    rc, out, err = run(capsys, "-c", q.dir, "-p")
    assert rc == 1 and err == f"postqueue: fatal: {q.store.root}/maildrop: Permission denied\n"
