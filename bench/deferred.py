#!/usr/bin/env python3
"""Issue 6: pfx starting on a big deferred queue (100,000 messages by default), all due.

    .venv/bin/python bench/deferred.py [--messages 100000] [--size 2048] [--timeout 1800]
        [--watch SECONDS] [--json]

A private pfx (bench/lib/pfxinstance.py, mode discard) is started twice: once on an empty
queue (the baseline), once on a queue directory filled beforehand with --messages copies of
one real queue file under fresh queue IDs in deferred/, every one due now. Figures: start
time (twistd start to smtpd's banner), time to the first delivery, time until the queue is
empty (or --watch seconds, when given), msgs/s, and memory: the pfx process's peak resident
set (VmHWM) beside the baseline's. qmgr holds at most qmgr_message_active_limit messages
and a bounded window of scanned queue IDs (pfx.qmgr.feed), so the peak should depend on
those limits, not on the size of the queue: the "growth" line is the stated bound to watch.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.lib.measure import queue_files  # noqa: E402
from bench.lib.pfxinstance import PfxInstance  # noqa: E402
from pfx.envelope import Envelope, Recipient  # noqa: E402
from pfx.queue.qid import QueueId  # noqa: E402
from pfx.queue.store import QueueStore  # noqa: E402


def fill_deferred(spool, messages, size):
    """``messages`` due queue files in deferred/, copies of one written by QueueFileWriter."""
    store = QueueStore(spool)
    store.check()
    body = (b"Subject: deferred bench\n\n" + b"x" * 75 + b"\n") * max(1, size // 76)
    envelope = Envelope("bench@sender.test", [Recipient("user@example.test")])
    with store.new_file(envelope) as writer:
        writer.write(body)
        template_id = writer.commit()
    template = store.path("incoming", template_id)
    with open(template, "rb") as f:
        data = f.read()
    mode = os.stat(template).st_mode & 0o7777
    os.unlink(template)
    due = time.time() - 60
    start = int(due) - messages  # distinct, plausible creation times
    for i in range(messages):
        qid = QueueId.make(start + i, i % 1_000_000, 1_000_000 + i)
        path = store.path("deferred", qid)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.utime(path, (due, due))


class FilledInstance(PfxInstance):
    """A discard-mode pfx whose queue is filled before twistd starts."""

    def __init__(self, messages, size, **kw):
        super().__init__("discard", **kw)
        self.messages, self.size, self.fill_seconds = messages, size, None

    def write_config(self):
        super().write_config()
        if self.fill_seconds is None and self.messages:
            started = time.monotonic()
            fill_deferred(self.spool, self.messages, self.size)
            self.fill_seconds = time.monotonic() - started

    def argv(self):
        self.launched = time.monotonic()
        return super().argv()


def vm(pid, field):
    """VmRSS / VmHWM of ``pid`` in bytes, 0 if gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def run(messages, size, timeout, watch=None):
    inst = FilledInstance(messages, size, start_timeout=max(60.0, timeout))
    out = {"messages": messages}
    with inst:
        pid = inst.pid
        out["start_s"] = time.monotonic() - inst.launched
        out["fill_s"] = inst.fill_seconds or 0.0
        deadline = inst.launched + timeout
        stop_at = inst.launched + watch if watch else deadline
        first = None
        left = queue_files(inst.spool)
        while left and time.monotonic() < min(stop_at, deadline) and inst.alive():
            time.sleep(0.5 if first is None else 2.0)
            left = queue_files(inst.spool)
            if first is None and left < messages:
                first = time.monotonic() - inst.launched
        elapsed = time.monotonic() - inst.launched
        out.update(first_delivery_s=first, left=left, elapsed_s=elapsed,
                   delivered=messages - left, peak_rss=vm(pid, "VmHWM"), rss=vm(pid, "VmRSS"))
        if not inst.alive():
            raise SystemExit(f"pfx died:\n{inst.output()[-2000:]}")
    busy = elapsed - out["start_s"]  # from smtpd's banner to the empty queue (or the end)
    out["msgs_per_s"] = out["delivered"] / busy if busy > 0 else 0.0
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--size", type=int, default=2048, help="content bytes per message")
    p.add_argument("--timeout", type=float, default=1800.0, help="give up after (s)")
    p.add_argument("--watch", type=float, default=None,
                   help="stop watching after this many seconds instead of at an empty queue")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    base = run(0, args.size, 60.0)
    loaded = run(args.messages, args.size, args.timeout, args.watch)
    result = {"baseline": base, "loaded": loaded,
              "growth_bytes": loaded["peak_rss"] - base["peak_rss"]}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    mb = 1 << 20
    first = loaded["first_delivery_s"]
    print(f"deferred queue of {args.messages} messages ({args.size} B), filled in "
          f"{loaded['fill_s']:.1f} s")
    print(f"start (twistd to banner): {loaded['start_s']:.2f} s "
          f"(empty queue: {base['start_s']:.2f} s)")
    print(f"first delivery after {first:.2f} s" if first is not None else "no delivery seen")
    print(f"delivered {loaded['delivered']} in {loaded['elapsed_s']:.1f} s, "
          f"{loaded['msgs_per_s']:.1f} msgs/s after start; left {loaded['left']}")
    print(f"peak RSS (VmHWM): {loaded['peak_rss'] / mb:.1f} MB "
          f"(empty queue: {base['peak_rss'] / mb:.1f} MB); growth "
          f"{result['growth_bytes'] / mb:.1f} MB = "
          f"{result['growth_bytes'] / max(1, args.messages):.0f} B per queued message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
