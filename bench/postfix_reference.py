#!/usr/bin/env python3
"""Print Postfix's reference figures (msgs/s, server CPU-s per 1000 msgs) for the pfx benches.

    .venv/bin/python bench/postfix_reference.py [--messages 5000] [--sessions 20] [--size 5120]
        [--reuse] [--repeat N] [--json] [accept relay maildir]

Scenarios: accept (discard after queueing), relay (to smtp-sink), maildir (virtual(8), 100
Maildirs); see bench/lib/reference.py. Needs root and the Debian postfix package. Everything
runs on 127.0.0.1 with ports from free_port() and is stopped at the end.
"""

import argparse
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.lib.measure import format_json, format_row, HEADER  # noqa: E402
from bench.lib.reference import SCENARIOS, run_reference  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                   help=f"any of {', '.join(SCENARIOS)} (default: all)")
    p.add_argument("--messages", type=int, default=5000)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--size", type=int, default=5120, help="payload bytes per message")
    p.add_argument("--recipients", type=int, default=1)
    p.add_argument("--reuse", action="store_true",
                   help="several messages per connection (smtp-source -d)")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--repeat", type=int, default=1,
                   help="runs per scenario, each on a fresh instance (the machine is shared)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    args.scenarios = args.scenarios or list(SCENARIOS)
    for name in args.scenarios:
        if name not in SCENARIOS:
            p.error(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    if not args.json:
        conn = "-d (connection reuse)" if args.reuse else "one connection per message"
        print(f"# Postfix reference on {platform.node()}: {os.cpu_count()} CPUs, "
              f"smtp-source {conn}, warm-up {args.warmup} msgs", flush=True)
        print(HEADER, flush=True)
    results = []
    for _ in range(max(1, args.repeat)):
        for scenario in args.scenarios:
            r = run_reference(scenario, messages=args.messages, sessions=args.sessions,
                              size=args.size, recipients=args.recipients, reuse=args.reuse,
                              warmup=args.warmup)
            results.append(r)
            if not args.json:
                print(format_row(r), flush=True)
    if args.json:
        print(format_json(results))
    return 0 if all(r.returncode == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
