"""Queue-file write+fsync throughput (files/s) with 1 and 20 concurrent writers.

Each writer loops for --seconds: QueueFileWriter in incoming/, --size bytes of content,
commit() (file fsync, link, directory fsync), as cleanup does before smtpd says 250.
Writers are threads (fsync releases the GIL) or forked processes. Run from a checkout:

    .venv/bin/python bench/queue_write.py [--seconds 3] [--size 4096] [--writers 1,20]
"""

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from pfx.envelope import Client, Envelope, Recipient  # noqa: E402
from pfx.queue.qfile import QueueFileWriter  # noqa: E402

ENVELOPE = Envelope("bench@example.com", [Recipient(f"user{i}@example.net") for i in range(3)],
                    client=Client("mx.example.org", "192.0.2.10", helo="mx.example.org"))


def writer_loop(directory, content, deadline):
    """Write queue files until deadline; -> list of per-file seconds."""
    latencies = []
    while time.monotonic() < deadline:
        start = time.monotonic()
        with QueueFileWriter(directory, ENVELOPE) as w:
            w.write(content)
            w.commit()
        latencies.append(time.monotonic() - start)
    return latencies


def _process_main(directory, content, deadline, queue):
    queue.put(writer_loop(directory, content, deadline))


def run(kind, writers, directory, content, seconds):
    deadline = time.monotonic() + seconds
    results = []
    if kind == "thread":
        lock = threading.Lock()

        def target():
            got = writer_loop(directory, content, deadline)
            with lock:
                results.extend(got)
        workers = [threading.Thread(target=target) for _ in range(writers)]
    else:
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        workers = [ctx.Process(target=_process_main, args=(directory, content, deadline, queue))
                   for _ in range(writers)]
    started = time.monotonic()
    for w in workers:
        w.start()
    if kind != "thread":
        for _ in workers:
            results.extend(queue.get())
    for w in workers:
        w.join()
    return results, time.monotonic() - started


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per run (default 3)")
    parser.add_argument("--size", type=int, default=4096, help="content bytes per file")
    parser.add_argument("--writers", default="1,20", help="comma-separated writer counts")
    parser.add_argument("--kinds", default="thread,process", help="thread and/or process")
    parser.add_argument("--dir", default=None, help="where to make the scratch queue (disk!)")
    args = parser.parse_args(argv)
    content = (b"Subject: bench\n\n" + b"x" * 76 + b"\n") * (args.size // 93 + 1)
    content = content[:args.size]
    scratch = tempfile.mkdtemp(prefix="pfx-bench-", dir=args.dir)
    try:
        print(f"queue_write: {args.size}-byte messages, {args.seconds:g} s per run, in {scratch}")
        print(f"{'writers':>7} {'kind':<8} {'files':>7} {'files/s':>9} {'MB/s':>7} {'p50 ms':>7} {'p99 ms':>7}")
        for kind in args.kinds.split(","):
            for writers in (int(n) for n in args.writers.split(",")):
                directory = os.path.join(scratch, f"{kind}-{writers}")
                os.mkdir(directory, 0o700)
                lat, elapsed = run(kind, writers, directory, content, args.seconds)
                lat.sort()
                p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
                print(f"{writers:>7} {kind:<8} {len(lat):>7} {len(lat) / elapsed:>9.0f} "
                      f"{len(lat) * args.size / elapsed / 1e6:>7.1f} "
                      f"{statistics.median(lat) * 1e3:>7.2f} {p99 * 1e3:>7.2f}", flush=True)
                shutil.rmtree(directory)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
