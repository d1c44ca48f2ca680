"""Issue 6's crash test: kill -9 pfx while mail flows; count duplicates and losses.

Messages are dropped into incoming/ as cleanup would leave them, a test agent appends
one fsync'ed line per delivered recipient, and pfx is killed with SIGKILL at random
moments, restarted, killed again (a bounded number of rounds), then left to finish.
Every recipient must be delivered at least once; a repeat is allowed only for what was
in flight at a kill (at most maxproc deliveries per kill).
"""

import os
import random
import signal
import textwrap
import time
from collections import Counter

import pytest

from pfx.envelope import Envelope, Recipient
from pfx.queue.store import QueueStore

pytestmark = pytest.mark.e2e

AGENT = '''
"""Test-only agent: appends "QUEUEID RECIPIENT" per delivery to $crashrec_log (fsync)."""

import os
import time

from twisted.internet.defer import succeed
from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.dsn import Dsn
from pfx.envelope import DeliveryResult, RecipientStatus
from pfx.interfaces import IDeliveryAgent, IDeliveryAgentFactory
from pfx.plugin import Param


@implementer(IPlugin, IDeliveryAgentFactory)
class CrashRecFactory:
    name = "crashrec"
    description = "test agent: record each delivery in a file"
    parameters = (Param("crashrec_log", ""),)

    def make_agent(self, settings, runtime):
        return CrashRec(settings.get_str("crashrec_log"), runtime)


@implementer(IDeliveryAgent)
class CrashRec:
    def __init__(self, path, runtime):
        self.path, self.runtime = path, runtime

    def deliver(self, request):
        d = self.runtime.run_blocking(self._write, request)
        return d.addCallback(lambda _: DeliveryResult(
            RecipientStatus(r, "sent", Dsn("2.0.0"), "recorded", "crashrec")
            for r in request.recipients))

    def _write(self, request):
        time.sleep(0.002)  # something is in flight when the kill comes
        data = "".join(f"{request.queue_id} {r.address}\\n" for r in request.recipients)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data.encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def stop(self):
        return succeed(None)


crashrec = CrashRecFactory()
'''

MAXPROC = 5
ROUNDS = 6
PER_ROUND = 60


def drop(store, n, rng):
    sent = []
    for i in range(n):
        rcpts = tuple(Recipient(f"u{i}.{k}@example.com") for k in range(rng.randint(1, 3)))
        writer = store.new_file(Envelope("s@example.org", rcpts))
        writer.write(b"Subject: crash\n\nbody\n")
        qid = str(writer.commit())
        sent.extend((qid, r.address) for r in rcpts)
    return sent


def queued(store):
    return sum(1 for q in ("incoming", "active", "deferred") for _ in store.scan(
        q, ready_only=False))


def test_kill_9_while_mail_flows_loses_nothing(config_dir, run_twistd, tmp_path):
    plugins = tmp_path / "plugins"
    (plugins / "twisted" / "plugins").mkdir(parents=True)
    (plugins / "twisted" / "plugins" / "pfx_crashrec.py").write_text(textwrap.dedent(AGENT))
    record = tmp_path / "deliveries"
    config_dir.write(main_extra=f"default_transport = crashrec\ncrashrec_log = {record}\n",
                     master=("qmgr unix n - n 300 1 qmgr\n"
                             f"crashrec unix - - n - {MAXPROC} crashrec\n"))
    store = QueueStore(config_dir.path / "var" / "spool")
    store.check(repair=True)
    rng = random.Random(int(os.environ.get("PFX_CRASH_SEED", "6")))
    expected, kills = [], 0
    for _ in range(ROUNDS):
        expected += drop(store, PER_ROUND, rng)
        proc = run_twistd(config_dir.path, extra_paths=[plugins])
        time.sleep(rng.uniform(0.3, 1.2))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=10)
    proc = run_twistd(config_dir.path, extra_paths=[plugins])
    deadline = time.monotonic() + 60
    while queued(store) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)  # a clean stop waits for deliveries in flight; slow under load

    seen = Counter(tuple(line.split(" ", 1)) for line in
                   record.read_text().splitlines()) if record.exists() else Counter()
    lost = [key for key in expected if seen[key] == 0]
    duplicates = sum(count - 1 for count in seen.values() if count > 1)
    print(f"\ncrash test: {len(expected)} recipients in {ROUNDS * PER_ROUND} messages, "
          f"{kills} kills: {len(lost)} lost, {duplicates} delivered twice or more")
    assert not lost, f"lost {len(lost)}: {lost[:5]}"
    assert not set(seen) - set(expected)
    assert queued(store) == 0
    assert not list(store.scan("corrupt", ready_only=False))
    # a repeat only for what was in flight: at most MAXPROC deliveries of <= 3 recipients
    assert duplicates <= kills * MAXPROC * 3
