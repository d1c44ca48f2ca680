"""sendmail and postdrop as functions: flags, exit codes, maildrop files, -bs, signals."""

import io
import os
import pwd
import signal
import sys
import types

import pytest

from pfx.cli import postdrop, sendmail
from pfx.envelope import Client, Envelope, Recipient
from pfx.queue.qid import QueueId
from pfx.queue.records import MAILDROP, QUEUE
from pfx.queue.store import QueueStore
from pfx.queue.stream import encode
from tests.conftest import ConfigDir

USER = pwd.getpwuid(os.getuid()).pw_name
UID = os.getuid()


class Stdin:
    def __init__(self, data):
        self.buffer = data if hasattr(data, "readline") else io.BytesIO(data)


@pytest.fixture
def cfg(tmp_path):
    c = ConfigDir(tmp_path)
    c.write()
    c.store = QueueStore(tmp_path / "var" / "spool")
    c.store.check(repair=True)
    return c


def run(cfg, monkeypatch, argv, stdin=b"", with_config=True):
    monkeypatch.setattr(sys, "stdin", Stdin(stdin))
    return sendmail.main((["-C", str(cfg.path)] if with_config else []) + list(argv))


def maildrop(cfg):
    out = []
    for qid in cfg.store.scan("maildrop"):
        with cfg.store.open("maildrop", qid) as reader:
            out.append((reader.info, b"".join(reader.iter_content())))
    return out


def leftovers(cfg):
    return os.listdir(cfg.store.queue_dir("maildrop"))


def test_options_parse_like_sendmail():
    o = sendmail.parse_args(["-ti", "-fbob", "-F", "Bob B", "-N", "success, delay", "-R",
                             "hdrs", "-V", "env-1", "-B", "8bitmime", "-oi", "-om", "-U", "--",
                             "-x@y", "z"])
    assert (o.extract, o.dot_ends, o.sender, o.full_name) == (True, False, "bob", "Bob B")
    assert (o.notify, o.ret, o.envid, o.body_type) == (
        frozenset({"SUCCESS", "DELAY"}), "HDRS", "env-1", "8BITMIME")
    assert o.recipients == ["-x@y", "z"] and o.warnings == []
    assert sendmail.parse_args(["-q"]).mode == "q"
    o = sendmail.parse_args(["-qRexample.com"])
    assert (o.mode, o.queue_arg) == ("qR", "example.com")
    assert sendmail.parse_args(["-bs"]).mode == "s"
    assert sendmail.parse_args(["-oi", "a"]).dot_ends is False
    assert sendmail.parse_args(["-r", "x@y", "a"]).sender == "x@y"
    assert sendmail.parse_args(["-C/etc/pfx/main.cf"]).config_dir == "/etc/pfx"
    o = sendmail.parse_args(["-N", "never,success", "-R", "some", "-V", "a b", "x"])
    assert o.warnings == ["bad -N option value -- ignored", "bad -R option value -- ignored",
                          "bad syntax in -V option value -- ignored"]


def test_bad_options_are_usage_errors(capsys, cfg, monkeypatch):
    assert run(cfg, monkeypatch, ["-Z", "x"]) == 64
    assert capsys.readouterr().err == ("sendmail: invalid option -- 'Z'\n"
                                       "sendmail: fatal: usage: sendmail [options]\n")
    assert run(cfg, monkeypatch, ["-B", "9bit", "x"]) == 64
    assert "-B option needs 8BITMIME or 7BIT" in capsys.readouterr().err


def test_a_message_lands_in_maildrop_up_to_the_lone_dot(cfg, monkeypatch, capsys):
    rc = run(cfg, monkeypatch, ["-f", "bob", "-F", "Bob", "-N", "never", "-V", "e1", "-R", "full",
                                "carol, dave@example.test"],
             b"Subject: hi\r\n\r\nhello\r\n.\r\nnot this\r\n")
    assert rc == 0, capsys.readouterr().err
    [(info, content)] = maildrop(cfg)
    assert content == b"Subject: hi\n\nhello\n"
    assert info.sender == "bob" and info.envelope.envid == "e1" and info.envelope.ret == "FULL"
    assert [(r.address, r.notify) for r in info.recipients] == [
        ("carol", frozenset({"NEVER"})), ("dave@example.test", frozenset({"NEVER"}))]
    assert info.attributes == (("full_name", "Bob"),)
    assert info.envelope.client == Client()  # nothing a local user could claim


def test_dash_i_keeps_the_dot_and_a_leading_from_line_is_dropped(cfg, monkeypatch):
    assert run(cfg, monkeypatch, ["-i", "carol"],
               b"From bob Wed Nov 25 10:00:00 2026\nSubject: x\n\n.\nmore\n") == 0
    [(info, content)] = maildrop(cfg)
    assert content == b"Subject: x\n\n.\nmore\n" and info.sender == USER


def test_dash_t_extracts_to_cc_bcc_and_adds_command_line_recipients(cfg, monkeypatch):
    message = (b"To: Carol <carol@example.test>,\n dave\nCc: \"Smith, E\" <e@example.test>\n"
               b"Bcc: f@example.test\nSubject: To: nobody@example.test\n\nTo: body@x\n")
    assert run(cfg, monkeypatch, ["-t", "g@example.test"], message) == 0
    [(info, _)] = maildrop(cfg)
    assert [r.address for r in info.recipients] == [
        "g@example.test", "carol@example.test", "dave", "e@example.test", "f@example.test"]


def test_resent_recipients_win_with_dash_t(cfg, monkeypatch):
    message = b"To: a@example.test\nResent-To: b@example.test\n\nx\n"
    assert run(cfg, monkeypatch, ["-t"], message) == 0
    [(info, _)] = maildrop(cfg)
    assert [r.address for r in info.recipients] == ["b@example.test"]


def test_missing_recipients_exit_64_and_leave_nothing(cfg, monkeypatch, capsys):
    assert run(cfg, monkeypatch, [], b"Subject: x\n\nhi\n") == 64
    assert capsys.readouterr().err == (
        f"sendmail: fatal: {USER}({UID}): Recipient addresses must be specified on the "
        "command line or via the -t option\n")
    assert run(cfg, monkeypatch, ["-t"], b"Subject: x\n\nhi\n") == 64
    assert capsys.readouterr().err == (
        f"sendmail: fatal: {USER}({UID}): No recipient addresses found in message header\n")
    assert leftovers(cfg) == []


def test_users_outside_authorized_submit_users_get_77(cfg, monkeypatch, capsys):
    cfg.write(main_extra="authorized_submit_users = !" + USER + ", static:anyone\n")
    assert run(cfg, monkeypatch, ["carol"], b"x\n") == 77
    assert capsys.readouterr().err == (
        f"sendmail: fatal: User {USER}({UID}) is not allowed to submit mail\n")
    assert sendmail.submit_allowed("bob", ["static:anyone"])
    assert not sendmail.submit_allowed("bob", [])
    assert sendmail.submit_allowed("bob", ["alice", "bob"])


def test_queue_write_errors_exit_75(cfg, monkeypatch, capsys):
    os.rmdir(cfg.store.queue_dir("maildrop"))
    assert run(cfg, monkeypatch, ["carol"], b"x\n") == 75
    assert capsys.readouterr().err == (f"sendmail: fatal: {USER}({UID}): error writing queue "
                                       "file: No such file or directory\n")


def test_a_signal_deletes_the_partial_file(cfg, monkeypatch, capsys):
    class Killer(io.BytesIO):
        def readline(self, limit=-1):
            line = super().readline(limit)
            if line == b"kill\n":
                os.kill(os.getpid(), signal.SIGTERM)
            return line
    before = signal.getsignal(signal.SIGTERM)
    assert run(cfg, monkeypatch, ["carol"], Killer(b"Subject: x\n\n" + b"y" * 100000 + b"\nkill\n"
                                                 b"more\n")) == 75
    assert f"{USER}({UID}): caught signal {int(signal.SIGTERM)}" in capsys.readouterr().err
    assert leftovers(cfg) == []
    assert signal.getsignal(signal.SIGTERM) == before


def test_tools_are_called_or_reported_missing(cfg, monkeypatch, capsys):
    calls = []
    fake = types.ModuleType("pfx.cli.postqueue")
    fake.main = lambda argv: calls.append(argv) or 0
    monkeypatch.setitem(sys.modules, "pfx.cli.postqueue", fake)
    assert run(cfg, monkeypatch, ["-bp"]) == 0
    assert run(cfg, monkeypatch, ["-q"]) == 0
    assert run(cfg, monkeypatch, ["-qIABC"]) == 0
    c = ["-c", str(cfg.path)]
    assert calls == [c + ["-p"], c + ["-f"], c + ["-i", "ABC"]]
    aliases = types.ModuleType("pfx.cli.postalias")
    aliases.newaliases_main = lambda argv: calls.append(("newaliases", argv)) or 0
    monkeypatch.setitem(sys.modules, "pfx.cli.postalias", aliases)
    assert run(cfg, monkeypatch, ["-bi"]) == 0 and run(cfg, monkeypatch, ["-I"]) == 0
    assert calls[-2:] == [("newaliases", c)] * 2
    monkeypatch.setitem(sys.modules, "pfx.cli.postqueue", None)
    assert run(cfg, monkeypatch, ["-bp"]) == 69
    assert "postqueue is not available" in capsys.readouterr().err


def test_bs_speaks_smtp_and_queues_each_transaction(cfg, monkeypatch):
    from pfx.cli.sendmail_bs import smtp_session
    from pfx.cli.sendmail import load_settings
    dialogue = (b"EHLO me\r\nMAIL FROM:<bob@example.test>\r\nRCPT TO:<carol@example.test>\r\n"
                b"DATA\r\nSubject: one\r\n\r\n..dot\r\n.\r\n"
                b"MAIL FROM:<>\r\nRCPT TO:<dave> NOTIFY=NEVER\r\nDATA\r\nx\r\n.\r\nQUIT\r\n")
    out = io.BytesIO()
    assert smtp_session(load_settings(str(cfg.path)), io.BufferedReader(io.BytesIO(dialogue)),
                        out) == 0
    lines = out.getvalue().decode().split("\r\n")
    assert lines[0] == "220 mx.example.test ESMTP pfx"
    assert lines[1] == "250-mx.example.test" and "250 CHUNKING" in lines
    queued = [l for l in lines if l.startswith("250 2.0.0 Ok: queued as ")]
    assert len(queued) == 2 and lines[-2] == "221 2.0.0 Bye"
    got = sorted(maildrop(cfg), key=lambda m: m[0].sender, reverse=True)
    assert got[0][0].sender == "bob@example.test" and got[0][1] == b"Subject: one\n\n.dot\n"
    assert got[1][0].sender == "" and got[1][0].recipients == (
        Recipient("dave", notify={"NEVER"}, offset=got[1][0].recipients[0].offset),)
    assert {q.rsplit(" ", 1)[1] for q in queued} == {str(q) for q in cfg.store.scan("maildrop")}


def test_bs_end_of_input_in_data_leaves_nothing(cfg):
    from pfx.cli.sendmail_bs import smtp_session
    from pfx.cli.sendmail import load_settings
    out = io.BytesIO()
    dialogue = b"HELO me\r\nMAIL FROM:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\npartial\r\n"
    assert smtp_session(load_settings(str(cfg.path)), io.BufferedReader(io.BytesIO(dialogue)),
                        out) == 0
    assert leftovers(cfg) == []


def test_postdrop_copies_a_record_stream_and_refuses_bad_ones(cfg, monkeypatch, capsys):
    env = Envelope("bob", (Recipient("carol"),), arrival=5.0)
    good = encode(env, b"Subject: x\n\nbody\n", policy=MAILDROP,
                  attributes=[("full_name", "Bob")], extracted=(Recipient("dave"),))
    monkeypatch.setattr(sys, "stdin", Stdin(good))
    assert postdrop.main(["-c", str(cfg.path)]) == 0
    [(info, content)] = maildrop(cfg)
    assert content == b"Subject: x\n\nbody\n" and info.attributes == (("full_name", "Bob"),)
    assert [r.address for r in info.recipients] == ["carol", "dave"]
    for bad in (good[:-20], encode(Envelope("bob", (), client=Client(name="x"), arrival=1.0),
                                   policy=QUEUE)):
        monkeypatch.setattr(sys, "stdin", Stdin(bad))
        assert postdrop.main(["-c", str(cfg.path)]) == 65
        assert f"postdrop: fatal: uid={UID}: malformed input: " in capsys.readouterr().err
    assert len(leftovers(cfg)) == 1  # the good one only
    assert isinstance(QueueId(leftovers(cfg)[0]), QueueId)
