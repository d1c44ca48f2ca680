"""pipe(8): master.cf attributes, macros without a shell, flags, exit statuses, time limit."""

import os
import time

import pytest
from pfx.agents.pipe import PipeAgent, PipeAgentFactory, expand_argv, parse_args, unescape
from pfx.config.mastercf import split_args
from pfx.config.settings import Settings
from pfx.discover import discover
from pfx.envelope import Client, Recipient
from pfx.errors import ConfigError

from ondisk_fakes import MESSAGE, request, result_of, runtime

NOW = 1_700_000_000.25


def agent(args, service="maildrop", time_limit=10, delimiter="+", **kw):
    words = split_args(args, "master.cf", 1)  # as master.cf gives them: { } groups
    return PipeAgent(service, parse_args(words, service), runtime(clock=None),
                     time_limit, "", delimiter, geteuid=lambda: 1000, **kw)


def run(a, *rcpts, **kw):
    return result_of(a.deliver(request(*rcpts, transport="maildrop", **kw))).statuses


def test_argv_runs_directly_with_one_argument_per_recipient(tmp_path):
    out = tmp_path / "args"
    a = agent(f"flags=hu argv=/bin/sh -c {{printf '%s|' \"$@\" > {out}}} sh "
              "-f ${sender} ${nexthop} -- ${recipient} ${user}:${extension}:${mailbox} $$x")
    statuses = run(a, "Bob+Tag@MX.Example.test", "$(touch x)@mx.example.test",
                   sender="s p@x.test", nexthop="MX.Example.test")
    assert [s.action for s in statuses] == ["sent", "sent"]
    assert statuses[0].text == "delivered via maildrop service"
    assert out.read_text().split("|")[:-1] == [
        "-f", "s p@x.test", "mx.example.test", "--", "bob+tag@mx.example.test",
        "$(touch x)@mx.example.test", "bob:tag:bob+tag", "$(touch x)::$(touch x)", "$x"]
    assert not os.path.exists("x")


def test_flags_q_and_null_sender(tmp_path):
    out = tmp_path / "args"
    a = agent(f"flags=q null_sender= argv=/bin/sh -c {{printf '%s|' \"$@\" > {out}}} sh "
              "${sender} ${recipient}")
    run(a, "a b@x.test", sender="")  # internal form: quoting is the q flag's job
    assert out.read_text() == '|"a b"@x.test|'


def test_headers_from_line_and_body_flags(tmp_path):
    out = tmp_path / "msg"
    a = agent(f"flags=FRODB.> eol=\\r\\n argv=/bin/sh -c {{cat > {out}}}")
    content = b"Subject: s\n\nFrom me\n.dot\nend"
    [st] = run(a, Recipient("Bob@x.test", orig="orig@y.test"), content=content)
    assert st.action == "sent"
    stamp = time.asctime(time.localtime(NOW)).encode()
    assert out.read_bytes() == (
        b"From a@example.test  " + stamp + b"\r\nReturn-Path: <a@example.test>\r\n"
        b"X-Original-To: orig@y.test\r\nDelivered-To: bob@x.test\r\n"
        b"Subject: s\r\n\r\n>From me\r\n..dot\r\nend\r\n\r\n")


def test_delivered_to_loop_bounces_only_that_recipient(tmp_path):
    a = agent("flags=D argv=/bin/true")
    content = b"Delivered-To: bob@x.test\n" + MESSAGE
    st = run(a, "BOB@x.test", "carol@x.test", content=content)
    assert [(s.action, str(s.dsn)) for s in st] == [("bounced", "5.4.6"), ("sent", "2.0.0")]
    assert st[0].text == "mail forwarding loop for BOB@x.test"


@pytest.mark.parametrize("script,action,dsn,text", [
    ("exit 75", "deferred", "4.3.0", "temporary failure"),
    ("exit 67", "bounced", "5.1.1", "user unknown"),
    ("echo Invalid user specified. >&2; exit 67", "bounced", "5.1.1",
     "user unknown. Command output: Invalid user specified."),
    ("echo no such user >&2; exit 1", "bounced", "5.3.0",
     'Command died with status 1: "/bin/sh". Command output: no such user'),
    ("echo 4.2.2 over quota; exit 1", "deferred", "4.2.2", "over quota"),
    ("echo 5.2.2 mailbox full; exit 75", "bounced", "5.2.2", "mailbox full"),
    ("echo 4.2.2x; exit 1", "bounced", "5.3.0",
     'Command died with status 1: "/bin/sh". Command output: 4.2.2x'),
    ("kill -TERM $$$$", "deferred", "4.3.0", 'Command died with signal 15: "/bin/sh"'),
    ("echo fine", "sent", "2.0.0", "delivered via maildrop service (fine)"),
])
def test_exit_status_mapping(script, action, dsn, text):
    [st] = run(agent("argv=/bin/sh -c {" + script + "}"), "u@x.test")
    assert (st.action, str(st.dsn), st.text, st.relay) == (action, dsn, text, "maildrop")


def test_time_limit_kills_and_defers():
    start = time.monotonic()
    [st] = run(agent("argv=/bin/sleep 30", time_limit=0.3), "u@x.test")
    assert time.monotonic() - start < 5
    assert (st.action, str(st.dsn), st.text) == (
        "deferred", "4.3.0", 'Command time limit exceeded: "/bin/sleep"')


def test_size_limit_and_missing_program():
    [st] = run(agent("size=10 argv=/bin/true"), "u@x.test")
    assert (st.action, str(st.dsn), st.text) == ("bounced", "5.2.3", "message too large")
    [st] = run(agent("argv=/nonexistent/prog"), "u@x.test")
    assert (st.action, str(st.dsn)) == ("deferred", "4.3.0")


def test_client_macros(tmp_path):
    out = tmp_path / "args"
    a = agent(f"argv=/bin/sh -c {{printf '%s|' \"$@\" > {out}}} sh ${{client_address}} "
              "${client_helo} ${sasl_username} ${queue_id} ${size} ${original_recipient}")
    run(a, Recipient("u@x.test", orig="o@y.test"),
        client=Client(addr="192.0.2.1", helo="h.example", sasl_username="joe"))
    assert out.read_text() == f"192.0.2.1|h.example|joe|4QID1|{len(MESSAGE)}|o@y.test|"


@pytest.mark.parametrize("args,error", [
    ("flags=R", "missing argv= attribute"),
    ("flags=Z argv=/bin/true", 'unknown flag "Z"'),
    ("argv=/bin/echo ${nosuch}", 'unknown macro "${nosuch}"'),
    ("colour=red argv=/bin/true", 'unknown pipe attribute "colour"'),
])
def test_bad_rows_are_config_errors(args, error):
    with pytest.raises(ConfigError) as e:
        parse_args(args.split(), "x")
    assert error in str(e.value)


def test_eol_escapes():
    assert unescape("\\r\\n") == "\r\n" and unescape("\\015\\012") == "\r\n"


def test_factory_reads_the_master_row():
    settings = Settings(discover().registry(), {}, "/nonexistent")
    row = settings.for_service("maildrop", master_args=("flags=DRhu", "user=nobody",
                                                       "argv=/usr/bin/maildrop", "-d",
                                                       "${recipient}"))
    a = PipeAgentFactory().make_agent(row, runtime())
    assert a.argv == ["/usr/bin/maildrop", "-d", "${recipient}"] and a.flags == "DRhu"
    assert a.time_limit == 1000
    if os.geteuid() == 0:
        assert a.ids == (65534, 65534)
        with pytest.raises(ConfigError, match="root privileges"):
            PipeAgentFactory().make_agent(
                settings.for_service("x", master_args=("user=root", "argv=/bin/true")),
                runtime())


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to user=")
def test_as_root_the_command_runs_as_user():
    a = PipeAgent("p", parse_args(["user=nobody", "argv=/usr/bin/id", "-u"], "p"),
                  runtime(), 10, "")
    [st] = run(a, "u@x.test")
    assert st.text == "delivered via p service (65534)"


def test_expand_argv_keeps_dollar_in_values():
    assert expand_argv(["${sender}", "x${recipient}"], {"sender": "$y"},
                       [{"recipient": "$(a)"}, {"recipient": "b"}]) == ["$y", "x$(a)", "xb"]


def test_stop_waits_for_work_in_progress():
    from twisted.internet import defer
    pending = defer.Deferred()
    a = agent("argv=/bin/true")
    a.rt = type(a.rt)(reactor=a.rt.reactor, clock=a.rt.clock,
                      run_blocking=lambda f, *args: pending)
    a.deliver(request("u@x.test"))
    stopped = []
    a.stop().addCallback(stopped.append)
    assert stopped == []
    pending.callback(None)
    assert stopped == [None]
