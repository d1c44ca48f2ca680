"""mbox locking as Dovecot expects it: writers never interleave; a lock holder delays us."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from pfx.delivery import mbox
from pfx.delivery.lock import LockBusy, LockPolicy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def message(tag, lines=200):
    body = b"".join(b"%s line %d\n" % (tag, i) for i in range(lines))
    return b"From " + tag + b"  Thu Jan  1 00:00:00 1970\nSubject: " + tag + b"\n\n" + body + b"\n"


def writer(data):
    def write(out):
        for i in range(0, len(data), 100):  # many small writes: interleaving would show
            out.write(data[i:i + 100])
    return write


def check_intact(path, tags):
    text = open(path, "rb").read()
    chunks = [c for c in text.split(b"\n\nFrom ")]
    assert len(chunks) == len(tags)
    found = sorted(m.split(b"Subject: ")[1].split(b"\n")[0] for m in chunks)
    assert found == sorted(tags)
    for m in chunks:
        tag = m.split(b"Subject: ")[1].split(b"\n")[0]
        assert m.count(tag + b" line") == 200 and b" line " in m


def test_parallel_threads_and_processes_never_interleave(tmp_path):
    path = str(tmp_path / "mbox")
    policy = LockPolicy(attempts=400, delay=0.01)
    script = ("import sys; from pfx.delivery import mbox; from pfx.delivery.lock import "
              "LockPolicy\nfor i in range(10):\n"
              "    tag = b'p%s-%d' % (sys.argv[2].encode(), i)\n"
              "    body = b''.join(b'%s line %d\\n' % (tag, j) for j in range(200))\n"
              "    data = b'From ' + tag + b'  Thu Jan  1 00:00:00 1970\\nSubject: ' + tag"
              " + b'\\n\\n' + body + b'\\n'\n"
              "    mbox.append(sys.argv[1], lambda out: [out.write(data[k:k+100]) for k in "
              "range(0, len(data), 100)], LockPolicy(attempts=400, delay=0.01))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, path, str(n)], cwd=ROOT)
             for n in range(3)]
    tags = [b"t%d" % i for i in range(40)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda t: mbox.append(path, writer(message(t)), policy), tags))
    assert [p.wait(30) for p in procs] == [0, 0, 0]
    tags += [b"p%d-%d" % (n, i) for n in range(3) for i in range(10)]
    check_intact(path, tags)
    assert not os.path.exists(path + ".lock")


HOLDER = """
import fcntl, os, sys, time
path = sys.argv[1]
fd = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
f = open(path, "ab")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
os.unlink(path + ".lock")
fcntl.lockf(f, fcntl.LOCK_UN)
"""


@pytest.mark.parametrize("kinds", [("fcntl", "dotlock"), ("fcntl",), ("dotlock",)])
def test_a_reader_holding_the_lock_delays_delivery(tmp_path, kinds):
    path = str(tmp_path / "mbox")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, path, "0.6"],
                              stdout=subprocess.PIPE)
    assert holder.stdout.readline() == b"locked\n"
    start = time.monotonic()
    mbox.append(path, writer(message(b"late")), LockPolicy(kinds, attempts=200, delay=0.02))
    assert time.monotonic() - start > 0.3
    holder.wait(10)
    holder.stdout.close()
    check_intact(path, [b"late"])


def test_lock_not_had_in_time_is_a_temporary_error(tmp_path):
    path = str(tmp_path / "mbox")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, path, "1.0"],
                              stdout=subprocess.PIPE)
    assert holder.stdout.readline() == b"locked\n"
    with pytest.raises(LockBusy) as e:
        mbox.append(path, writer(message(b"x")), LockPolicy(attempts=2, delay=0.01))
    assert e.value.strerror.startswith("unable to lock for exclusive access")
    holder.kill()
    holder.wait(10)
    holder.stdout.close()
    assert os.path.getsize(path) == 0


def test_a_failed_write_truncates_back(tmp_path):
    path = str(tmp_path / "mbox")
    mbox.append(path, writer(message(b"first")))
    size = os.path.getsize(path)

    def broken(out):
        out.write(b"From x  Thu Jan  1 00:00:00 1970\n" + b"y" * 100_000)
        raise OSError(28, "No space left on device")
    with pytest.raises(OSError):
        mbox.append(path, broken)
    assert os.path.getsize(path) == size
    assert not os.path.exists(path + ".lock")


def test_stale_dotlock_is_removed(tmp_path):
    path = str(tmp_path / "mbox")
    open(path + ".lock", "w").close()
    os.utime(path + ".lock", (time.time() - 1000, time.time() - 1000))
    mbox.append(path, writer(message(b"m")), LockPolicy(attempts=3, delay=0.01, stale=500))
    check_intact(path, [b"m"])


def test_symlinked_mailbox_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    os.symlink(target, tmp_path / "mbox")
    with pytest.raises(OSError):
        mbox.append(str(tmp_path / "mbox"), writer(message(b"m")))
    assert target.read_bytes() == b""
