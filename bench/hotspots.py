#!/usr/bin/env python3
"""Where pfx spends its CPU in one bench scenario: py-spy samples the pfx process while
smtp-source sends, then the top functions are printed by own ("self") and inclusive share.

    .venv/bin/python bench/hotspots.py accept [--messages 2000] [--recipients 1] [--top 20]
        [--rate 200] [--gil] [--raw FILE]

Needs py-spy (``pip install py-spy`` into the venv; it attaches with ptrace, so root or
ptrace permission). Also prints how the process tree's CPU splits between the pfx process
itself and the children it reaped (virtual(8)/local(8) privileged helpers when run as
root). Loopback only; pfx, smtp-sink and py-spy are stopped at the end.
"""

import argparse
import collections
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.lib.compare import MODE  # noqa: E402
from bench.lib.measure import CLK_TCK, measure  # noqa: E402
from bench.lib.pfxinstance import PfxInstance  # noqa: E402
from bench.lib.reference import MAILDIR_USERS  # noqa: E402
from tests.support.peers.postfix import SmtpSink  # noqa: E402


def py_spy():
    here = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return here if os.access(here, os.X_OK) else shutil.which("py-spy")


def split_cpu(pid):
    """(user s, system s, reaped children's CPU s) of ``pid`` from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) / CLK_TCK, int(rest[12]) / CLK_TCK,
            (int(rest[13]) + int(rest[14])) / CLK_TCK)


def frame_name(frame):
    """``func (path/file.py:123)`` -> ``path/file.py:func`` with the checkout or
    site-packages prefix cut."""
    func, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + "/"
        path = path.replace(root, "")
    return f"{path}:{func}"


def summarize(raw_text, top):
    own, incl, total = collections.Counter(), collections.Counter(), 0
    for line in raw_text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [frame_name(f) for f in stack.split(";") if " (" in f]
        if not frames:
            continue
        total += n
        own[frames[-1]] += n
        for name in set(frames):
            incl[name] += n
    lines = [f"{total} samples"]
    for title, counter in (("self", own), ("inclusive", incl)):
        lines.append(f"-- top {top} by {title} share")
        for name, n in counter.most_common(top):
            lines.append(f"{100 * n / max(total, 1):6.1f}%  {name}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("scenario", choices=sorted(MODE))
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--size", type=int, default=5120)
    p.add_argument("--recipients", type=int, default=1)
    p.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--gil", action="store_true",
                   help="sample only the thread holding the GIL (py-spy --gil): Python CPU, "
                        "without threads blocked in fsync or waiting")
    p.add_argument("--raw", help="also keep py-spy's collapsed stacks in this file")
    p.add_argument("--timeout", type=float, default=600.0)
    args = p.parse_args(argv)
    spy = py_spy()
    if not spy:
        print("error: py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return 2
    sink = mta = rec = None
    tmp = tempfile.mkdtemp(prefix="pfxspy.")
    raw = args.raw or os.path.join(tmp, "stacks.txt")
    try:
        if args.scenario == "relay":
            sink = SmtpSink(None, backlog=256).start()
        mta = PfxInstance(MODE[args.scenario], relay_to=sink.address if sink else None,
                          maildir_users=MAILDIR_USERS).start()
        options = dict(sequence=True, to="u@example.test") if args.scenario == "maildir" else {}
        expect = args.messages * args.recipients

        def drained():
            if mta.queue_count():
                return False
            return args.scenario != "maildir" or mta.maildir_count() >= expect

        before = split_cpu(mta.pid)
        rec = subprocess.Popen([spy, "record", "--pid", str(mta.pid), "--rate", str(args.rate),
                                "--format", "raw", "--output", raw, "--nonblocking",
                                *(["--gil"] if args.gil else [])],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
        result = measure(args.scenario, "pfx", mta.port, mta.pid, messages=args.messages,
                         sessions=args.sessions, size=args.size, recipients=args.recipients,
                         drained=drained, drain_timeout=args.timeout,
                         source_timeout=args.timeout, **options)
        user, system, kids = (b - a for a, b in zip(before, split_cpu(mta.pid)))
        rec.send_signal(signal.SIGINT)            # py-spy writes its output on SIGINT
        try:
            _, err = rec.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            rec.kill()
            _, err = rec.communicate()
        print(f"# {args.scenario}: {args.messages} msgs x {args.recipients} rcpt, "
              f"{result.total_rate:.1f} msgs/s, CPU-s/1000 {result.cpu_per_1000:.3f} "
              f"(under py-spy, --nonblocking{' --gil' if args.gil else ''})")
        print(f"# CPU of the pfx process itself: user {user:.2f} s, system {system:.2f} s; "
              f"of children it reaped (helpers): {kids:.2f} s")
        if not os.path.exists(raw):
            print(f"py-spy wrote nothing: {err.decode(errors='replace')[-1000:]}")
            return 1
        with open(raw) as f:
            print(summarize(f.read(), args.top))
        return 0
    finally:
        if rec is not None and rec.poll() is None:
            rec.kill()
            rec.wait(timeout=10)
        if mta is not None:
            mta.stop()
        if sink is not None:
            sink.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
