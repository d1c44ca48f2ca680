"""Started as root, local(8) writes as the recipient through the helper child, never as root."""

import os
import shutil
import tempfile

import pytest

from pfx.agents.local.agent import LocalAgent
from pfx.agents.local.params import LocalConfig
from pfx.delivery.lock import LockPolicy

from ondisk_fakes import MESSAGE, passwd, request, result_of, runtime

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
BOB, DAEMON = 65534, 1  # nobody and daemon on Debian


@pytest.fixture
def world():
    top = tempfile.mkdtemp(prefix="pfx-priv-")
    os.chmod(top, 0o755)
    spool = os.path.join(top, "spool")
    os.mkdir(spool)
    os.chmod(spool, 0o775)  # root's, as /var/mail is: the helper creates as root
    home = os.path.join(top, "bob")
    os.mkdir(home)
    os.chown(home, BOB, BOB)
    yield top
    shutil.rmtree(top)


def make(top, **kw):
    aliases = os.path.join(top, "aliases")
    with open(aliases, "w") as f:
        f.write('checkdaemon: "|test $(id -u) = 1 && test $(id -G) = 1"\n')
    from pfx.cli import postalias
    assert postalias.main([f"hash:{aliases}"]) == 0
    cfg = LocalConfig(alias_maps=f"hash:{aliases}", mydestination=("mx.example.test",),
                      myorigin="mx.example.test", spool_directory=os.path.join(top, "spool"),
                      lock=LockPolicy(attempts=3, delay=0.01), default_privs="daemon", **kw)
    users = passwd({"bob": (os.path.join(top, "bob"), BOB, BOB),
                    "daemon": ("/usr/sbin", DAEMON, DAEMON)})
    return LocalAgent(cfg, runtime(), passwd=users)


def deliver(agent, rcpt):
    [st] = result_of(agent.deliver(request(rcpt))).statuses
    return st


def test_spool_mailbox_is_created_for_and_written_as_the_user(world):
    st = deliver(make(world), "bob@mx.example.test")
    assert (st.action, st.text) == ("sent", "delivered to mailbox")
    path = os.path.join(world, "spool", "bob")
    assert os.stat(path).st_uid == BOB
    assert open(path, "rb").read().endswith(MESSAGE.replace(b"\nFrom", b"\n>From") + b"\n")
    assert not os.path.exists(path + ".lock")


def test_home_maildir_is_written_as_the_user(world):
    st = deliver(make(world, home_mailbox="Maildir/"), "bob@mx.example.test")
    assert (st.action, st.text) == ("sent", "delivered to maildir")
    new = os.path.join(world, "bob", "Maildir", "new")
    [name] = os.listdir(new)
    assert os.stat(os.path.join(new, name)).st_uid == BOB
    assert os.stat(new).st_uid == BOB


def test_alias_commands_run_as_default_privs(world):
    st = deliver(make(world), "checkdaemon@mx.example.test")
    assert st.action == "sent", st.text


def test_forward_targets_run_as_the_user(world):
    fwd = os.path.join(world, "bob", ".forward")
    with open(fwd, "w") as f:
        f.write(f"{world}/bob/saved\n")
    os.chown(fwd, BOB, BOB)
    st = deliver(make(world), "bob@mx.example.test")
    assert st.text == f"delivered to file: {world}/bob/saved"
    assert os.stat(os.path.join(world, "bob", "saved")).st_uid == BOB


def test_a_planted_symlink_reaches_nothing(world):
    victim = os.path.join(world, "victim")
    with open(victim, "wb") as f:
        f.write(b"root's file\n")
    os.symlink(victim, os.path.join(world, "spool", "bob"))
    st = deliver(make(world), "bob@mx.example.test")
    assert st.action == "deferred"
    assert open(victim, "rb").read() == b"root's file\n"
    os.unlink(os.path.join(world, "spool", "bob"))
    # a mailbox owned by someone else is refused too
    with open(os.path.join(world, "spool", "bob"), "wb"):
        pass
    os.chown(os.path.join(world, "spool", "bob"), DAEMON, DAEMON)
    os.truncate(os.path.join(world, "spool", "bob"), 0)
    with open(os.path.join(world, "spool", "bob"), "ab") as f:
        f.write(b"x")
    st = deliver(make(world), "bob@mx.example.test")
    assert st.action == "deferred" and "not owned by uid" in st.text
