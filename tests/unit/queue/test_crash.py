"""SIGKILL a process that writes queue files, 200 times: what it acknowledged survives intact.

The child forks from the test (no interpreter start-up, so 200 kills take seconds), writes
messages of random sizes in a loop and, after its 0th to 3rd acknowledgement and up
to 5 ms more, is killed. It prints "QID SHA256" on a pipe after each commit()
returns: that line is its "250 Ok: queued". After each kill every acknowledged file must
read back with the same content, and every file under a queue-ID name must be a complete
message; leftovers may only be temporary files, which purge_temp removes. This is a
process crash, not a power cut: the page cache survives SIGKILL, so the fsync ordering is
checked by test_qfile's order test instead.
"""

import hashlib
import os
import random
import select
import signal
import time

from pfx.envelope import Envelope, Recipient
from pfx.queue.qfile import QueueFileReader, QueueFileWriter, is_temp_name
from pfx.queue.qid import QueueId, is_queue_id
from pfx.queue.store import QueueStore

KILLS = 200
SIZES = [0, 1, 200, 5000, 65536, 65537, 200_000, 1_000_000]


def child(directory, ack_fd, seed):
    rng = random.Random(seed)
    env = Envelope("crash@example.com", [Recipient(f"r{i}@example.net") for i in range(3)])
    while True:
        content = rng.randbytes(rng.choice(SIZES))
        with QueueFileWriter(directory, env) as w:
            for start in range(0, len(content), 50_000):
                w.write(content[start:start + 50_000])
            qid = w.commit()
        os.write(ack_fd, f"{qid} {hashlib.sha256(content).hexdigest()}\n".encode())


def run_child(directory, seed, wait_acks, delay):
    """Fork a writer; kill it `delay` seconds after its `wait_acks`-th acknowledgement."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns to pytest
        try:
            os.close(read_fd)
            child(directory, write_fd, seed)
        finally:
            os._exit(1)
    os.close(write_fd)
    received = b""
    # Counting acknowledgements, not milliseconds, keeps the test meaningful on a busy machine.
    while received.count(b"\n") < wait_acks and select.select([read_fd], [], [], 10)[0]:
        chunk = os.read(read_fd, 4096)
        if not chunk:
            break
        received += chunk
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status), "the child stopped by itself"
    with os.fdopen(read_fd, "rb") as pipe:
        acks = (received + pipe.read()).decode().splitlines()
    assert len(acks) >= wait_acks
    return dict(line.split() for line in acks)  # one short os.write() each: never torn


def content_digest(path):
    digest = hashlib.sha256()
    with QueueFileReader(path) as reader:  # QueueFileCorrupt here fails the test
        assert len(reader.info.recipients) == 3
        for chunk in reader.iter_content():
            digest.update(chunk)
    return digest.hexdigest()


def test_sigkill_never_loses_or_half_publishes_a_message(tmp_path):
    store = QueueStore(tmp_path, clock=lambda: time.time() + 10)  # purge_temp: all are old
    store.check()
    incoming = tmp_path / "incoming"
    rng = random.Random(4)
    acked = temps = unacked = 0
    started = time.monotonic()
    for round_ in range(KILLS):
        acks = run_child(incoming, round_, rng.randint(0, 3), rng.uniform(0, 0.005))
        names = os.listdir(incoming)
        published = {n for n in names if is_queue_id(n)}
        assert set(acks) <= published, "an acknowledged message is missing"
        for name in published:
            digest = content_digest(incoming / name)
            if name in acks:
                assert digest == acks[name], f"{name} changed after it was acknowledged"
            else:
                unacked += 1  # killed between commit() and the ack: complete, just not announced
        assert all(is_temp_name(n) for n in set(names) - published), names
        temps += len(set(names) - published)
        assert sorted(store.scan("incoming")) == sorted(QueueId(n) for n in published)
        acked += len(acks)
        store.purge_temp(older_than=0)
        for name in published:
            os.unlink(incoming / name)
        assert os.listdir(incoming) == []
    elapsed = time.monotonic() - started
    print(f"{KILLS} kills in {elapsed:.1f}s: {acked} acknowledged, {unacked} complete but "
          f"unacknowledged, {temps} temporary files left mid-write")
    assert temps > KILLS // 10  # some kills did land inside a write
    assert elapsed < 60
