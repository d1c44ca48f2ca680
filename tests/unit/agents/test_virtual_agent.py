"""virtual(8): mailbox maps, Maildir vs mbox, uid/gid checks, limits, status texts."""

import os
import shutil
import tempfile
import time
from pathlib import Path

import attrs
import pytest
from twisted.logger import globalLogPublisher

from pfx.agents.virtual import CONFIG_ERROR, VirtualAgent, VirtualAgentFactory
from pfx.config.settings import Settings
from pfx.delivery.lock import LockPolicy
from pfx.discover import discover
from pfx.envelope import Recipient
from pfx.runtime.logging import MailLog

from ondisk_fakes import MESSAGE, request, result_of, runtime, tables

NOW = 1_700_000_000.25


def make(tmp_path, maps="", uids="static:5000", gids="static:5000", euid=1000, **kw):
    (tmp_path / "vmailbox").write_text(maps)
    reg = tables()
    rt = runtime(registry=reg)
    return VirtualAgent(rt, str(tmp_path / "vmail"), reg.open_list(f"texthash:{tmp_path}/vmailbox"),
                        reg.open_list(uids), reg.open_list(gids), lock=LockPolicy(attempts=2,
                                                                                  delay=0.01),
                        delimiter="+", geteuid=lambda: euid, **kw)


def run(agent, *rcpts, **kw):
    return result_of(agent.deliver(request(*rcpts, transport="virtual", **kw))).statuses


MAPS = "info@example.com example.com/info/\nbob@example.com example.com/bob\n@catch.test catch/\n"


def test_maildir_and_mbox_bytes(tmp_path):
    agent = make(tmp_path, MAPS)
    st = run(agent, Recipient("Info+x@Example.com", orig="o@example.com"), "bob@example.com")
    assert [(s.action, s.text, s.relay) for s in st] == [
        ("sent", "delivered to maildir", "virtual"), ("sent", "delivered to mailbox", "virtual")]
    [name] = os.listdir(tmp_path / "vmail/example.com/info/new")
    assert (tmp_path / "vmail/example.com/info/new" / name).read_bytes() == (
        b"Return-Path: <a@example.test>\nX-Original-To: o@example.com\n"
        b"Delivered-To: info+x@example.com\n" + MESSAGE)
    stamp = time.asctime(time.localtime(NOW)).encode()
    assert (tmp_path / "vmail/example.com/bob").read_bytes() == (
        b"From a@example.test  " + stamp + b"\nReturn-Path: <a@example.test>\n"
        b"X-Original-To: bob@example.com\nDelivered-To: bob@example.com\n"
        + MESSAGE.replace(b"\nFrom the", b"\n>From the") + b"\n")


def test_catchall_and_unknown(tmp_path):
    agent = make(tmp_path, MAPS)
    st = run(agent, "any@catch.test", "nobody@example.com")
    assert st[0].text == "delivered to maildir"
    assert (st[1].action, str(st[1].dsn), st[1].text) == (
        "bounced", "5.1.1", 'unknown user: "nobody@example.com"')


def test_uid_below_minimum_defers_as_config_error(tmp_path):
    agent = make(tmp_path, MAPS, uids="static:99")
    [st] = run(agent, "bob@example.com")
    assert (st.action, str(st.dsn), st.text) == ("deferred", "4.3.5", CONFIG_ERROR)
    assert not (tmp_path / "vmail").exists()
    agent = make(tmp_path, MAPS, gids="inline:{other@example.com=5000}")
    [st] = run(agent, "bob@example.com")
    assert (st.action, str(st.dsn)) == ("deferred", "4.3.5")
    agent = make(tmp_path, MAPS, gids="static:12")  # a low gid is fine, only 0 is not
    [st] = run(agent, "bob@example.com")
    assert st.action == "sent"


def test_bad_uid_warning_names_the_table(tmp_path):
    seen = []
    globalLogPublisher.addObserver(seen.append)
    try:
        agent = make(tmp_path, MAPS, uids="static:99")
        agent.rt = attrs.evolve(agent.rt, log=MailLog("pfx", "virtual"))
        run(agent, "bob@example.com")
    finally:
        globalLogPublisher.removeObserver(seen.append)
    texts = [e.get("pfx_text") for e in seen if "pfx_text" in e]
    assert "warning: recipient bob@example.com: bad uid 99 in static:99" in texts


def test_path_escape_refused_and_table_trouble_defers(tmp_path):
    agent = make(tmp_path, "evil@example.com ../../etc/\n")
    [st] = run(agent, "evil@example.com")
    assert (st.action, str(st.dsn)) == ("deferred", "4.3.5")
    agent = make(tmp_path, MAPS, uids="nosuchtype:x")
    [st] = run(agent, "bob@example.com")
    assert (st.action, str(st.dsn)) == ("deferred", "4.3.0")


def test_mailbox_limit_bounces(tmp_path):
    agent = make(tmp_path, MAPS, size_limit=50)
    st = run(agent, "bob@example.com", "info@example.com")
    assert [(s.action, str(s.dsn)) for s in st] == [("bounced", "5.2.2"), ("bounced", "5.2.2")]
    assert (tmp_path / "vmail/example.com/bob").read_bytes() == b""
    assert os.listdir(tmp_path / "vmail/example.com/info/new") == []
    assert os.listdir(tmp_path / "vmail/example.com/info/tmp") == []


def test_loop(tmp_path):
    agent = make(tmp_path, MAPS)
    [st] = run(agent, "bob@example.com", content=b"Delivered-To: Bob@example.com\n" + MESSAGE)
    assert (st.action, str(st.dsn), st.text) == (
        "bounced", "5.4.6", "mail forwarding loop for bob@example.com")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_as_root_the_helper_writes_as_the_mapped_ids():
    top = tempfile.mkdtemp(prefix="pfx-virt-")
    try:
        os.chmod(top, 0o755)
        os.mkdir(os.path.join(top, "vmail"))
        os.chown(os.path.join(top, "vmail"), 5000, 5000)
        agent = make(Path(top), MAPS, euid=0)
        st = run(agent, "info@example.com", "bob@example.com")
        assert [s.text for s in st] == ["delivered to maildir", "delivered to mailbox"]
        bob = os.path.join(top, "vmail/example.com/bob")
        assert (os.stat(bob).st_uid, os.stat(bob).st_gid) == (5000, 5000)
        new = os.path.join(top, "vmail/example.com/info/new")
        assert os.stat(os.path.join(new, os.listdir(new)[0])).st_uid == 5000
    finally:
        shutil.rmtree(top)


def test_factory_reads_settings(tmp_path):
    (tmp_path / "vmailbox").write_text(MAPS)
    registry = discover().registry()
    settings = Settings(registry, {}, str(tmp_path)).for_service("virtual")
    agent = VirtualAgentFactory().make_agent(settings, runtime())
    assert agent.minimum_uid == 100 and agent.size_limit == 51200000
    assert agent.lock.kinds == ("fcntl", "dotlock") and agent.maps is None
