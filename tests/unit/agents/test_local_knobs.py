"""local(8) settings that change what is delivered where: local_command_shell,
prepend_delivered_header, allow_mail_to_commands / allow_mail_to_files and
fallback_transport_maps, each as local(8) and postconf(5) describe them."""

import os

from pfx.agents.local.command import build_argv
from pfx.envelope import Recipient

from ondisk_fakes import MESSAGE, FakeSubmitter
from test_local_agent import FROM_LINE, QUOTED, RecordingAgent, deliver, make


def test_local_command_shell_gets_the_command_as_its_last_argument(tmp_path):
    # postconf(5): "local_command_shell = /bin/bash -c"; pipe_command.c splits the
    # setting and appends the command, adding no -c of its own
    assert build_argv("cat > x", "/bin/bash -c") == ["/bin/bash", "-c", "cat > x"]
    assert build_argv("/usr/bin/procmail", "/usr/sbin/smrsh -c") == [
        "/usr/sbin/smrsh", "-c", "/usr/bin/procmail"]
    argv, out = tmp_path / "argv", tmp_path / "out"
    shell = tmp_path / "shell"
    shell.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {argv}\nexec /bin/sh \"$@\"\n")
    shell.chmod(0o755)
    agent = make(tmp_path, f'x: "|cat > {out}"\n', command_shell=f"{shell} -c")
    [st] = deliver(agent, "x@mx.example.test")
    assert (st.action, st.text) == ("sent", f"delivered to command: cat > {out}")
    assert argv.read_text() == f"-c\ncat > {out}\n"
    assert out.read_bytes().endswith(MESSAGE)


def test_prepend_delivered_header_chooses_the_contexts(tmp_path):
    out = tmp_path / "cmd.out"
    aliases = f'x: {tmp_path}/x.mbox, "|cat > {out}", far@remote.test\n'
    sub = FakeSubmitter()
    agent = make(tmp_path, aliases, submitter=sub, delivered_header=("command",))
    [st] = deliver(agent, "x@mx.example.test")
    assert st.action == "sent"
    assert (tmp_path / "x.mbox").read_bytes() == (
        FROM_LINE + b"Return-Path: <a@example.test>\nX-Original-To: x@mx.example.test\n"
        + QUOTED + b"\n")
    assert out.read_bytes() == (FROM_LINE + b"Return-Path: <a@example.test>\n"
                                b"X-Original-To: x@mx.example.test\n"
                                b"Delivered-To: x@mx.example.test\n" + MESSAGE)
    [(_, data)] = sub.messages
    assert data == MESSAGE  # "forward" left out: no Delivered-To on the forwarded copy
    # the mailbox is a "file" context in mailbox.c
    agent = make(tmp_path, "", delivered_header=())
    deliver(agent, "bob@mx.example.test")
    assert b"Delivered-To:" not in (tmp_path / "spool" / "bob").read_bytes()


def test_allow_mail_to_commands_and_files_by_origin(tmp_path):
    out = tmp_path / "cmd.out"
    agent = make(tmp_path, f"list: {tmp_path}/alias.mbox\n",
                 allow_files=("alias",), allow_commands=())
    (tmp_path / "bob" / ".forward").write_text(f"{tmp_path}/fwd.mbox\n")
    (tmp_path / "carol" / ".forward").write_text(f'"|cat > {out}"\n')
    [st] = deliver(agent, "list@mx.example.test")
    assert st.action == "sent" and (tmp_path / "alias.mbox").exists()
    statuses = deliver(agent, "bob@mx.example.test", "carol@mx.example.test")
    assert [(s.action, str(s.dsn), s.text) for s in statuses] == [
        ("bounced", "5.7.1", "mail to file is restricted"),
        ("bounced", "5.7.1", "mail to command is restricted")]
    assert not (tmp_path / "fwd.mbox").exists() and not out.exists()


def test_fallback_transport_maps_before_fallback_transport(tmp_path):
    lmtp, other = RecordingAgent(), RecordingAgent()
    agent = make(tmp_path, agents={"lmtp": lmtp, "other": other},
                 fallback_transport_maps="inline:{dave=lmtp:unix:x}",
                 fallback_transport="other:y")
    statuses = deliver(agent, "dave@mx.example.test", Recipient("erin@mx.example.test"))
    assert [s.action for s in statuses] == ["sent", "sent"]
    assert [(r.nexthop, r.recipients[0].address) for r in lmtp.requests] == [
        ("unix:x", "dave@mx.example.test")]
    assert [(r.nexthop, r.recipients[0].address) for r in other.requests] == [
        ("y", "erin@mx.example.test")]
    assert not os.path.exists(tmp_path / "spool" / "dave")


def test_a_full_duplicate_filter_never_refuses_a_big_list(tmp_path):
    # duplicate_filter_limit only bounds what been_here.c remembers; a list longer than
    # that is delivered in full (local(8) has no other expansion size limit)
    names = ["bob", "carol", "dave", "erin", "frank"]
    agent = make(tmp_path, "list: " + ", ".join(names) + "\nloop: loop2\nloop2: loop\n",
                 users={n: tmp_path / n for n in names}, duplicate_limit=2)
    [st] = deliver(agent, "list@mx.example.test")
    assert (st.action, st.text) == ("sent", "delivered to mailbox")
    assert all((tmp_path / "spool" / n).exists() for n in names)
    [st] = deliver(agent, "loop@mx.example.test")  # still terminates
    assert st.action == "bounced"
