"""local(8): mailbox and Maildir bytes, aliases, :include:, .forward, forwarding, loops."""

import os
import time

import pytest
from zope.interface.verify import verifyObject

from pfx.agents.local.agent import CONFIG_ERROR, LocalAgent
from pfx.agents.local.params import LocalConfig
from pfx.cli import postalias
from pfx.delivery.lock import LockPolicy
from pfx.envelope import Recipient
from pfx.interfaces import IDeliveryAgent

from ondisk_fakes import MESSAGE, FakeSubmitter, passwd, request, result_of, runtime

NOW = 1_700_000_000.25
FROM_LINE = f"From a@example.test  {time.asctime(time.localtime(NOW))}\n".encode()
QUOTED = MESSAGE.replace(b"\nFrom the", b"\n>From the")


def make(tmp_path, aliases="", submitter=None, users=None, agents=None, **kw):
    alias_file = tmp_path / "aliases"
    alias_file.write_text(aliases)
    assert postalias.main([f"hash:{alias_file}"]) == 0  # as newaliases builds it
    kw.setdefault("spool_directory", str(tmp_path / "spool"))
    cfg = LocalConfig(alias_maps=f"hash:{alias_file}",
                      mydestination=("mx.example.test", "localhost"),
                      myorigin="mx.example.test", lock=LockPolicy(attempts=3, delay=0.01),
                      **kw)
    (tmp_path / "spool").mkdir(exist_ok=True)
    users = users if users is not None else {"bob": tmp_path / "bob", "carol": tmp_path / "carol"}
    for home in users.values():
        os.makedirs(home, exist_ok=True)
    return LocalAgent(cfg, runtime(submitter, agents=agents), passwd=passwd(users),
                      geteuid=lambda: 1000)


def deliver(agent, *rcpts, **kw):
    return result_of(agent.deliver(request(*rcpts, **kw))).statuses


def test_mbox_bytes_are_exactly_what_local8_writes(tmp_path):
    agent = make(tmp_path)
    verifyObject(IDeliveryAgent, agent)
    [st] = deliver(agent, Recipient("Bob@mx.example.test", orig="bob@orig.test"))
    assert (st.action, str(st.dsn), st.text, st.relay) == (
        "sent", "2.0.0", "delivered to mailbox", "local")
    assert (tmp_path / "spool" / "bob").read_bytes() == (
        FROM_LINE + b"Return-Path: <a@example.test>\nX-Original-To: bob@orig.test\n"
        b"Delivered-To: bob@mx.example.test\n" + QUOTED + b"\n")


def test_two_messages_append_and_null_sender(tmp_path):
    agent = make(tmp_path)
    deliver(agent, "bob@mx.example.test")
    deliver(agent, "bob@mx.example.test", sender="", content=b"Subject: x\n\nno newline")
    data = (tmp_path / "spool" / "bob").read_bytes()
    assert data.count(b"\nFrom ") == 1 and data.startswith(b"From a@example.test  ")
    second = data[data.index(b"\nFrom ") + 1:]
    assert second.startswith(b"From MAILER-DAEMON  ")
    assert second.endswith(b"Return-Path: <>\nX-Original-To: bob@mx.example.test\n"
                           b"Delivered-To: bob@mx.example.test\nSubject: x\n\nno newline\n\n")


def test_home_maildir(tmp_path):
    agent = make(tmp_path, home_mailbox="Maildir/")
    [st] = deliver(agent, "bob@mx.example.test")
    assert st.text == "delivered to maildir"
    [name] = os.listdir(tmp_path / "bob" / "Maildir" / "new")
    assert os.listdir(tmp_path / "bob" / "Maildir" / "tmp") == []
    assert (tmp_path / "bob" / "Maildir" / "cur").is_dir()
    sec, rest = name.split(".", 1)
    assert sec == "1700000000" and rest.startswith("M250000P") and "Q" in rest
    assert (tmp_path / "bob" / "Maildir" / "new" / name).read_bytes() == (
        b"Return-Path: <a@example.test>\nX-Original-To: bob@mx.example.test\n"
        b"Delivered-To: bob@mx.example.test\n" + MESSAGE)


def test_home_mailbox_file_and_spool_maildir(tmp_path):
    agent = make(tmp_path, home_mailbox="Mailbox")
    deliver(agent, "bob@mx.example.test")
    assert (tmp_path / "bob" / "Mailbox").read_bytes().startswith(FROM_LINE)
    agent = make(tmp_path, spool_directory=str(tmp_path / "mdspool") + "/")
    [st] = deliver(agent, "carol@mx.example.test")
    assert st.text == "delivered to maildir"
    assert len(os.listdir(tmp_path / "mdspool" / "carol" / "new")) == 1


def test_unknown_user_bounces(tmp_path):
    [st] = deliver(make(tmp_path), "nouser@mx.example.test")
    assert (st.action, str(st.dsn), st.text) == ("bounced", "5.1.1", 'unknown user: "nouser"')


def test_root_without_a_usable_default_privs_defers(tmp_path):
    agent = make(tmp_path)  # the fake passwd has no "nobody"
    agent._geteuid = lambda: 0
    [st] = deliver(agent, "bob@mx.example.test")
    assert (st.action, str(st.dsn), st.text) == ("deferred", "4.3.5", CONFIG_ERROR)
    assert not (tmp_path / "spool" / "bob").exists()


def test_alias_to_several_users_and_nested(tmp_path):
    agent = make(tmp_path, "staff: bob, team\nteam: carol@mx.example.test, bob\n")
    [st] = deliver(agent, "staff@mx.example.test")
    assert (st.action, st.text) == ("sent", "delivered to mailbox")
    bob = (tmp_path / "spool" / "bob").read_bytes()
    assert bob.count(b"\nReturn-Path:") == 1  # bob reached twice, delivered once
    assert b"X-Original-To: staff@mx.example.test\nDelivered-To: staff@mx.example.test\n" in bob
    assert (tmp_path / "spool" / "carol").exists()


def test_alias_to_file_and_command(tmp_path):
    out = tmp_path / "cmd.out"
    agent = make(tmp_path, f'log: {tmp_path}/log.mbox, "|/bin/sh -c \'cat > {out}\'"\n')
    [st] = deliver(agent, "log@mx.example.test")
    assert st.action == "sent"
    assert st.text == (f"delivered to file: {tmp_path}/log.mbox; delivered to command: "
                       f"/bin/sh -c 'cat > {out}'")
    assert (tmp_path / "log.mbox").read_bytes().endswith(QUOTED + b"\n")
    assert out.read_bytes() == (FROM_LINE + b"Return-Path: <a@example.test>\n"
                                b"X-Original-To: log@mx.example.test\n"
                                b"Delivered-To: log@mx.example.test\n" + MESSAGE)


def test_command_environment_and_exit_codes(tmp_path):
    env = tmp_path / "env"
    agent = make(tmp_path, f"envy: \"|/usr/bin/env > {env}\"\nfail: \"|exit 67\"\n"
                           "temp: \"|echo 4.2.1 try later; exit 75\"\n",
                 recipient_delimiter="+")
    deliver(agent, Recipient("envy+tag@mx.example.test", orig="o@x.test"), sender="s@x.test")
    lines = dict(line.split("=", 1) for line in env.read_text().splitlines())
    assert lines["RECIPIENT"] == "envy+tag@mx.example.test" and lines["EXTENSION"] == "tag"
    assert lines["SENDER"] == "s@x.test" and lines["ORIGINAL_RECIPIENT"] == "o@x.test"
    assert lines["LOCAL"] == "envy+tag" and lines["DOMAIN"] == "mx.example.test"
    assert lines["USER"] == "envy" and lines["CLIENT_ADDRESS"] == "127.0.0.1"
    assert lines["PATH"] == "/usr/bin:/bin"
    [st] = deliver(agent, "fail@mx.example.test")
    assert (st.action, str(st.dsn), st.text) == (
        "bounced", "5.1.1", "user unknown")
    [st] = deliver(agent, "temp@mx.example.test")
    assert (st.action, str(st.dsn)) == ("deferred", "4.2.1")
    assert st.text == "try later"  # pipe_command.c: the output's own code and text


def test_hostile_address_never_reaches_a_shell(tmp_path):
    env = tmp_path / "env"
    agent = make(tmp_path, f"x: \"|/usr/bin/env > {env}\"\n", recipient_delimiter="+")
    deliver(agent, "x+$(touch${IFS}pwned);`id`@mx.example.test", sender="a'b\"c@x.test")
    text = env.read_text()
    assert "EXTENSION=__touch__ifs_pwned___id_\n" in text and "SENDER=a_b_c@x.test" in text
    assert not (tmp_path / "pwned").exists()


def test_command_time_limit_kills_and_defers(tmp_path):
    agent = make(tmp_path, 'slow: "|sleep 30"\n', command_time_limit=0.3)
    start = time.monotonic()
    [st] = deliver(agent, "slow@mx.example.test")
    assert time.monotonic() - start < 5
    assert (st.action, str(st.dsn), st.text) == (
        "deferred", "4.3.0", 'Command time limit exceeded: "sleep 30"')


def test_include_and_restrictions(tmp_path):
    inc = tmp_path / "list.inc"
    inc.write_text("# members\nbob\ncarol\n")
    bad = tmp_path / "bad.inc"
    bad.write_text(f'"|cat > {tmp_path}/x", {tmp_path}/file\n')
    agent = make(tmp_path, f"list: :include:{inc}\nbad: :include:{bad}\n")
    [st] = deliver(agent, "list@mx.example.test")
    assert st.action == "sent"
    assert (tmp_path / "spool" / "bob").exists() and (tmp_path / "spool" / "carol").exists()
    [st] = deliver(agent, "bad@mx.example.test")
    assert (st.action, str(st.dsn), st.text) == ("bounced", "5.7.1",
                                                  "mail to command is restricted")
    assert not (tmp_path / "x").exists() and not (tmp_path / "file").exists()


def test_remote_alias_is_forwarded_with_owner_sender(tmp_path):
    sub = FakeSubmitter()
    agent = make(tmp_path, "list: bob, x@remote.test, y@remote.test\nowner-list: bob\n",
                 submitter=sub)
    [st] = deliver(agent, Recipient("list@mx.example.test", orcpt="rfc822;list@mx.example.test"))
    assert (st.action, st.text) == ("sent", "delivered to mailbox; forwarded as FWD1")
    [(env, data)] = sub.messages
    assert env.sender == "owner-list@mx.example.test"
    assert [r.address for r in env.recipients] == ["x@remote.test", "y@remote.test"]
    assert env.recipients[0].orig == "list@mx.example.test"
    assert env.recipients[0].orcpt == "rfc822;list@mx.example.test"
    assert data == b"Delivered-To: list@mx.example.test\n" + MESSAGE
    assert b"Return-Path: <owner-list@mx.example.test>" in (tmp_path / "spool" / "bob").read_bytes()


def test_forward_without_cleanup_defers(tmp_path):
    agent = make(tmp_path, "x: far@remote.test\n")
    [st] = deliver(agent, "x@mx.example.test")
    assert (st.action, str(st.dsn)) == ("deferred", "4.3.0")


def test_forwarding_loop_bounces(tmp_path):
    agent = make(tmp_path, "x: far@remote.test\n", submitter=FakeSubmitter())
    looped = b"Delivered-To: other@x.test\nDelivered-To: X@MX.example.test\n" + MESSAGE
    [st] = deliver(agent, "x@mx.example.test", content=looped)
    assert (st.action, str(st.dsn), st.text) == (
        "bounced", "5.4.6", "mail forwarding loop for x@mx.example.test")


def test_alias_loops_terminate(tmp_path):
    agent = make(tmp_path, "a: b\nb: a\nbob: bob, carol\n")
    [st] = deliver(agent, "a@mx.example.test")
    assert (st.action, st.text) == ("bounced", 'unknown user: "a"')
    [st] = deliver(agent, "bob@mx.example.test")
    assert st.action == "sent"
    assert (tmp_path / "spool" / "bob").exists() and (tmp_path / "spool" / "carol").exists()


def test_dot_forward_with_extension(tmp_path):
    sub = FakeSubmitter()
    agent = make(tmp_path, submitter=sub, recipient_delimiter="+")
    (tmp_path / "bob" / ".forward").write_text("\\bob, far@remote.test\n")
    (tmp_path / "bob" / ".forward+lists").write_text(f"{tmp_path}/lists.mbox\n")
    [st] = deliver(agent, "bob@mx.example.test")
    assert st.text == "delivered to mailbox; forwarded as FWD1"
    assert (tmp_path / "spool" / "bob").exists()
    [st] = deliver(agent, "bob+lists@mx.example.test")
    assert st.text == f"delivered to file: {tmp_path}/lists.mbox"


def test_luser_relay(tmp_path):
    sub = FakeSubmitter()
    agent = make(tmp_path, submitter=sub, luser_relay="catchall+$user@remote.test")
    [st] = deliver(agent, "nobody@mx.example.test")
    assert st.text == "forwarded as FWD1"
    assert sub.messages[0][0].recipients[0].address == "catchall+nobody@remote.test"


def test_alias_database_unavailable_defers(tmp_path):
    agent = make(tmp_path)
    agent.aliases = agent.rt.tables.open_list("nosuchtype:/x")
    [st] = deliver(agent, "bob@mx.example.test")
    assert (st.action, str(st.dsn)) == ("deferred", "4.3.0")
    assert st.text.startswith("table lookup problem: ")


def test_mailbox_size_limit_bounces_and_truncates(tmp_path):
    agent = make(tmp_path, size_limit=300)
    deliver(agent, "bob@mx.example.test")
    before = (tmp_path / "spool" / "bob").read_bytes()
    [st] = deliver(agent, "bob@mx.example.test")
    assert (st.action, str(st.dsn)) == ("bounced", "5.2.2")
    assert st.text == (f"cannot update mailbox {tmp_path}/spool/bob for user bob. "
                       "File too large")
    assert (tmp_path / "spool" / "bob").read_bytes() == before


def test_mailbox_command(tmp_path):
    out = tmp_path / "mc"
    agent = make(tmp_path, mailbox_command=f"/bin/sh -c 'cat > {out}'")
    [st] = deliver(agent, "bob@mx.example.test")
    assert st.text == f"delivered to command: /bin/sh -c 'cat > {out}'"
    assert out.read_bytes().endswith(MESSAGE)


class RecordingAgent:
    """Another master.cf service's agent: records what it is handed, answers sent."""

    def __init__(self):
        self.requests = []

    def deliver(self, request):
        from twisted.internet import defer
        from pfx.dsn import Dsn
        from pfx.envelope import DeliveryResult, RecipientStatus
        self.requests.append(request)
        return defer.succeed(DeliveryResult(
            RecipientStatus(r, "sent", Dsn("2.0.0"), "250 2.0.0 Saved", "lmtp")
            for r in request.recipients))

    def stop(self):
        pass


@pytest.mark.parametrize("param", ["mailbox_transport", "fallback_transport"])
def test_transport_handoff_passes_the_recipient_to_that_agent(tmp_path, param):
    lmtp = RecordingAgent()
    agent = make(tmp_path, agents={"lmtp": lmtp}, **{param: "lmtp:unix:private/dovecot-lmtp"})
    rcpt = "bob@mx.example.test" if param == "mailbox_transport" else "nouser@mx.example.test"
    [st] = deliver(agent, rcpt)
    assert (st.action, str(st.dsn), st.text) == ("sent", "2.0.0", "250 2.0.0 Saved")
    [handed] = lmtp.requests
    assert (handed.transport, handed.nexthop) == ("lmtp", "unix:private/dovecot-lmtp")
    assert [r.address for r in handed.recipients] == [rcpt]


def test_transport_handoff_to_a_missing_service_defers(tmp_path):
    agent = make(tmp_path, mailbox_transport="lmtp:unix:private/dovecot-lmtp")
    [st] = deliver(agent, "bob@mx.example.test")
    assert (st.action, str(st.dsn)) == ("deferred", "4.3.0")
    assert st.text == "mail transport unavailable: no master.cf service lmtp"


def test_forward_that_is_a_directory_is_skipped_and_a_symlink_defers(tmp_path):
    agent = make(tmp_path)
    (tmp_path / "bob" / ".forward").mkdir()
    [st] = deliver(agent, "bob@mx.example.test")
    assert st.text == "delivered to mailbox"
    (tmp_path / "secret").write_text("root@elsewhere.test\n")
    os.symlink(tmp_path / "secret", tmp_path / "carol" / ".forward")
    statuses = deliver(agent, "carol@mx.example.test", "bob@mx.example.test")
    assert [(s.action, str(s.dsn)) for s in statuses] == [("deferred", "4.3.0"),
                                                         ("sent", "2.0.0")]
    assert statuses[0].text.startswith("cannot read .forward file of user carol: ")


def test_locked_mailbox_defers_with_postfix_text(tmp_path):
    agent = make(tmp_path)
    (tmp_path / "spool" / "bob.lock").write_text("")
    [st] = deliver(agent, "bob@mx.example.test")
    assert (st.action, str(st.dsn)) == ("deferred", "4.2.0")
    assert st.text == (f"cannot update mailbox {tmp_path}/spool/bob for user bob. "
                       "unable to lock for exclusive access: "
                       f"{tmp_path}/spool/bob.lock exists")


def test_factory_builds_from_main_cf_settings(tmp_path):
    from pfx.agents.local.plugin import LocalAgentFactory
    from pfx.config.settings import Setting, Settings
    from pfx.discover import discover
    from ondisk_fakes import runtime as rt

    explicit = {"myhostname": Setting("mx.example.test"), "mydomain": Setting("example.test"),
                "alias_maps": Setting(""), "home_mailbox": Setting("Maildir/"),
                "mailbox_delivery_lock": Setting("flock, dotlock"),
                "recipient_delimiter": Setting("+-")}
    settings = Settings(discover().registry(), explicit, str(tmp_path)).for_service("local")
    agent = LocalAgentFactory().make_agent(settings, rt())
    cfg = agent.cfg
    assert cfg.mydestination == ("mx.example.test", "localhost.example.test", "localhost")
    assert cfg.lock.kinds == ("flock", "dotlock") and cfg.lock.delay == 1
    assert cfg.forward_path == ("$home/.forward${recipient_delimiter}${extension}",
                                "$home/.forward")
    assert cfg.allow_commands == ("alias", "forward") and cfg.command_time_limit == 1000
    assert agent.aliases is None and cfg.default_privs == "nobody"
    bad = Settings(discover().registry(), {"mailbox_delivery_lock": Setting("lockf")},
                   str(tmp_path)).for_service("local")
    with pytest.raises(Exception, match="invalid mailbox lock method"):
        LocalAgentFactory().make_agent(bad, rt())


def test_missing_postmaster_alias_discards(tmp_path):
    [st] = deliver(make(tmp_path), "Postmaster@mx.example.test")
    assert (st.action, str(st.dsn), st.text) == ("sent", "2.0.0", "discarded")


def test_mailbox_command_maps_pick_a_command_per_user(tmp_path):
    out = tmp_path / "per-user"
    # inline:{ {key=value with spaces} }: the inner braces keep the command's spaces
    agent = make(tmp_path, mailbox_command_maps=f"inline:{{{{bob=/bin/sh -c 'cat > {out}'}}}}")
    [st] = deliver(agent, "bob@mx.example.test")
    assert st.text == f"delivered to command: /bin/sh -c 'cat > {out}'"
    [st] = deliver(agent, "carol@mx.example.test")
    assert st.text == "delivered to mailbox"
    lmtp = RecordingAgent()
    agent = make(tmp_path, agents={"lmtp": lmtp},
                 mailbox_transport_maps="inline:{bob=lmtp:unix:x}")
    [st] = deliver(agent, "bob@mx.example.test")
    assert st.action == "sent" and lmtp.requests[0].nexthop == "unix:x"
    [st] = deliver(agent, "carol@mx.example.test")
    assert st.text == "delivered to mailbox"
