"""pfx beside the reference Postfix: one scenario, both MTAs, same load, printed as ratios.

Each bench script (bench/accept.py, relay.py, maildir.py) calls :func:`main` with its
scenario. For every recipient count asked for, it starts a private pfx
(:class:`bench.lib.pfxinstance.PfxInstance`), warms it up, measures it with smtp-source
(:func:`bench.lib.measure.measure`: msgs/s until the queue is empty, CPU of the process tree
per 1000 messages), stops it; then the same for a private Postfix started by
:func:`bench.lib.reference.run_reference` (unless --skip-postfix), and prints both rows and
the pfx/Postfix ratios. Everything is on 127.0.0.1 and is stopped at the end of each run.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

from tests.support.peers.common import PeerFailed, PeerUnavailable
from tests.support.peers.postfix import SMTP_SOURCE, SmtpSink

from .measure import measure
from .pfxinstance import PfxInstance
from .reference import MAILDIR_USERS, run_reference

MODE = {"accept": "discard", "relay": "relay", "maildir": "maildir"}


def run_pfx(scenario, *, messages=5000, sessions=20, size=5120, recipients=1, reuse=False,
            warmup=200, drain_timeout=600.0, source_timeout=1800.0, keep=None):
    """Start pfx for ``scenario``, warm it up, measure, stop everything; return a Result.
    ``keep(instance)``, if given, is called before the stop (e.g. to copy the maillog)."""
    sink = mta = None
    try:
        if scenario == "relay":
            sink = SmtpSink(None, backlog=256).start()
        mta = PfxInstance(MODE[scenario], relay_to=sink.address if sink else None,
                          maildir_users=MAILDIR_USERS).start()
        options = dict(sessions=sessions, size=size, recipients=recipients, reuse=reuse,
                       source_timeout=source_timeout)
        if scenario == "maildir":
            options.update(sequence=True, to="u@example.test")

        def run(count, name):
            expect = (mta.maildir_count() if scenario == "maildir" else 0) + count * recipients

            def drained():
                if not mta.alive():
                    raise RuntimeError(f"pfx exited during {name}:\n{mta.output()[-2000:]}")
                if mta.queue_count():
                    return False
                return scenario != "maildir" or mta.maildir_count() >= expect

            return measure(name, "pfx", mta.port, mta.pid, messages=count, drained=drained,
                           drain_timeout=drain_timeout, **options)

        if warmup:
            run(warmup, "warmup")
        result = run(messages, scenario)
        if keep is not None:
            keep(mta)
        return result
    finally:
        if mta is not None:
            mta.stop()
        if sink is not None:
            sink.stop()


def ratios(pfx, postfix):
    """pfx/Postfix: msgs/s (accept, total; > 1 means pfx is faster) and CPU per message
    (> 1 means pfx uses more)."""
    def div(a, b):
        return round(a / b, 3) if b else None
    return {"accept_rate": div(pfx.accept_rate, postfix.accept_rate),
            "total_rate": div(pfx.total_rate, postfix.total_rate),
            "cpu_per_1000": div(pfx.cpu_per_1000, postfix.cpu_per_1000)}


HEADER = (f"{'scenario':<9} {'rcpt':>4} {'MTA':<13} {'msgs':>6} {'accept msg/s':>12} "
          f"{'msgs/s':>8} {'CPU-s/1000':>10} {'total_s':>8} {'cpu_s':>7}")


def row(r):
    line = (f"{r.scenario:<9} {r.recipients:>4} {r.server:<13} {r.messages:>6} "
            f"{r.accept_rate:>12.1f} {r.total_rate:>8.1f} {r.cpu_per_1000:>10.3f} "
            f"{r.total_seconds:>8.2f} {r.server_cpu_seconds:>7.2f}")
    if r.returncode != 0:
        line += f"  FAILED rc={r.returncode}: {r.stderr.strip()[-200:]}"
    return line


def ratio_row(scenario, recipients, q):
    def fmt(v, width):
        return f"{v:>{width - 1}.2f}x" if v is not None else f"{'-':>{width}}"
    return (f"{scenario:<9} {recipients:>4} {'pfx/Postfix':<13} {'':>6} "
            f"{fmt(q['accept_rate'], 12)} {fmt(q['total_rate'], 8)} "
            f"{fmt(q['cpu_per_1000'], 10)}")


def parser(scenario, default_recipients):
    p = argparse.ArgumentParser(
        description=f"pfx beside Postfix, scenario {scenario!r}: msgs/s until the queue is "
                    "empty and server CPU-s per 1000 messages (see bench/lib/compare.py)")
    p.add_argument("--messages", type=int, default=5000)
    p.add_argument("--sessions", type=int, default=20, help="smtp-source -s")
    p.add_argument("--size", type=int, default=5120, help="payload bytes (smtp-source -l)")
    p.add_argument("--recipients", default=",".join(map(str, default_recipients)),
                   help="comma-separated recipient counts per message (smtp-source -r), "
                        "one run each (default: %(default)s)")
    p.add_argument("--reuse", action="store_true",
                   help="several messages per connection (smtp-source -d)")
    p.add_argument("--warmup", type=int, default=200,
                   help="messages sent and drained before measuring (default: %(default)s)")
    p.add_argument("--skip-postfix", action="store_true", help="measure pfx only")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds allowed for smtp-source, and then for the drain, per run")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    return p


def main(scenario, default_recipients=(1,), argv=None):
    args = parser(scenario, default_recipients).parse_args(argv)
    try:
        counts = [int(n) for n in args.recipients.split(",") if n.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1 or args.messages < 1 or args.sessions < 1:
        print("error: --recipients, --messages and --sessions must be positive",
              file=sys.stderr)
        return 2
    if not os.access(SMTP_SOURCE, os.X_OK):
        print(f"error: {SMTP_SOURCE} is not installed (Debian package postfix)",
              file=sys.stderr)
        return 2
    common = dict(messages=args.messages, sessions=args.sessions, size=args.size,
                  reuse=args.reuse, warmup=args.warmup, drain_timeout=args.timeout)
    out = [] if args.json else None

    def say(text):
        if out is None:
            print(text, flush=True)

    conn = "-d (connection reuse)" if args.reuse else "one connection per message"
    say(f"# {scenario}: {platform.node()}, {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.2f}; smtp-source -m {args.messages} -s {args.sessions} "
        f"-l {args.size}, {conn}, warm-up {args.warmup}")
    say(HEADER)
    failed = False
    for n in counts:
        entry = {"scenario": scenario, "recipients": n}
        t0 = time.monotonic()
        try:
            pfx = run_pfx(scenario, recipients=n, source_timeout=args.timeout, **common)
        except (RuntimeError, PeerFailed, subprocess.TimeoutExpired) as e:
            say(f"{scenario:<9} {n:>4} {'pfx':<13} FAILED: {e}")
            entry["pfx_error"], failed = str(e), True
            pfx = None
        else:
            say(row(pfx))
            entry["pfx"] = pfx.as_dict()
            failed |= pfx.returncode != 0
        entry["pfx_wall_seconds"] = round(time.monotonic() - t0, 1)
        postfix = None
        if not args.skip_postfix:
            try:
                postfix = run_reference(scenario, recipients=n, **common)
            except PeerUnavailable as e:
                say(f"{scenario:<9} {n:>4} {'postfix':<13} skipped: {e}")
                entry["postfix_error"] = str(e)
            except (RuntimeError, PeerFailed, subprocess.TimeoutExpired) as e:
                say(f"{scenario:<9} {n:>4} {'postfix':<13} FAILED: {e}")
                entry["postfix_error"], failed = str(e), True
            else:
                say(row(postfix))
                entry["postfix"] = postfix.as_dict()
                failed |= postfix.returncode != 0
        if pfx is not None and postfix is not None:
            entry["ratio"] = q = ratios(pfx, postfix)
            say(ratio_row(scenario, n, q))
        if out is not None:
            out.append(entry)
    say("# msgs/s: messages / seconds from the first connection until the queue is empty"
        + (" and every message is in a Maildir" if scenario == "maildir" else "")
        + "; CPU-s/1000: server process tree (user+system), per 1000 messages; ratios are "
          "pfx/Postfix (msgs/s > 1: pfx faster; CPU > 1: pfx uses more)")
    if out is not None:
        print(json.dumps(out, indent=1))
    return 1 if failed else 0
