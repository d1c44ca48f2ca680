"""Build and query a large hash table with pfx postmap and with the real postmap; print the figures.

    python bench/tables.py [--entries 1000000] [--queries 200000] [--postmap /usr/sbin/postmap]

Both programs get the same source file (in separate directories, since both write
``name.db``). Timed: the build as a whole process each; ``postmap -q -`` over the same
keys (half present, half absent) as a whole process each; and pfx's in-process
lookup() on an open table, which is what the daemon does. The real postmap is
skipped, with a note, when it is not installed.
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def make_source(path, entries):
    with open(path, "w") as f:
        for i in range(entries):
            f.write(f"user{i}@example{i % 997}.com\tOK relay {i}\n")


def sample_keys(entries, queries, seed=1):
    rng = random.Random(seed)
    keys = []
    for n in range(queries):
        i = rng.randrange(entries)
        # Half hits, half misses (a user number beyond the table).
        keys.append(f"user{i}@example{i % 997}.com" if n % 2 == 0 else f"user{entries + i}@x.com")
    return keys


def timed(argv, stdin=None, env=None):
    start = time.perf_counter()
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.strip()}")
    return elapsed, done.stdout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200_000)
    parser.add_argument("--postmap", default="/usr/sbin/postmap")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = parser.parse_args(argv)

    work = tempfile.mkdtemp(prefix="pfx-bench-tables-")
    pfx_src = os.path.join(work, "pfx", "big")
    real_src = os.path.join(work, "real", "big")
    os.makedirs(os.path.dirname(pfx_src))
    os.makedirs(os.path.dirname(real_src))
    make_source(pfx_src, args.entries)
    shutil.copy(pfx_src, real_src)
    keys = sample_keys(args.entries, args.queries)
    stdin = "".join(k + "\n" for k in keys)
    env = dict(os.environ, PYTHONPATH=ROOT)
    pfx_cli = [sys.executable, "-m", "pfx.cli.postmap"]
    print(f"entries={args.entries} queries={args.queries} (half hits) scratch={work}")

    figures = {}
    figures["pfx build"], _ = timed(pfx_cli + [f"hash:{pfx_src}"], env=env)
    figures["pfx -q -"], out = timed(pfx_cli + ["-q", "-", f"hash:{pfx_src}"], stdin, env)
    pfx_found = out.count("\n")

    from pfx.tables.indexed import IndexedTable

    table = IndexedTable(pfx_src + ".db", "hash")
    start = time.perf_counter()
    hits = sum(table.lookup(k) is not None for k in keys)
    figures["pfx lookup()"] = time.perf_counter() - start
    assert hits == pfx_found == (len(keys) + 1) // 2, (hits, pfx_found)
    # Per-lookup latency: the figure that must stay well under a millisecond.
    samples = []
    clock = time.perf_counter_ns
    for k in keys[:50_000]:
        t0 = clock()
        table.lookup(k)
        samples.append(clock() - t0)
    samples.sort()
    latency = {q: samples[min(len(samples) - 1, int(len(samples) * q))] / 1000
               for q in (0.5, 0.99, 0.999)}
    latency["max"] = samples[-1] / 1000

    real = os.access(args.postmap, os.X_OK)
    if real:
        conf = os.path.join(work, "conf")
        os.makedirs(conf)
        with open(os.path.join(conf, "main.cf"), "w") as f:
            f.write("compatibility_level = 3.6\n")
        base = [args.postmap, "-c", conf]
        figures["postmap build"], _ = timed(base + [f"hash:{real_src}"])
        figures["postmap -q -"], out = timed(base + ["-q", "-", f"hash:{real_src}"], stdin)
        assert out.count("\n") == pfx_found, "the two tables disagree"

    n = len(keys)
    print(f"{'':22}{'seconds':>10}{'lookups/s':>14}{'us/lookup':>12}")
    for name, seconds in figures.items():
        rate = "" if "build" in name else f"{n / seconds:14,.0f}{seconds / n * 1e6:12.2f}"
        print(f"{name:22}{seconds:10.2f}{rate}")
    print("pfx lookup() latency us: " +
          ", ".join(f"{'p%g' % (q * 100) if q != 'max' else q}={v:.1f}"
                    for q, v in latency.items()))
    size = os.path.getsize(pfx_src + ".db")
    print(f"pfx .db size: {size / 1e6:.1f} MB", end="")
    if real:
        print(f"; postmap .db size: {os.path.getsize(real_src + '.db') / 1e6:.1f} MB")
        build_ratio = figures["pfx build"] / figures["postmap build"]
        print(f"ratio pfx/postmap build time: {build_ratio:.2f}")
        print(f"ratio pfx/postmap -q - time:  {figures['pfx -q -'] / figures['postmap -q -']:.2f}")
        print(f"ratio pfx lookup() / postmap -q - (per key): "
              f"{figures['pfx lookup()'] / figures['postmap -q -']:.2f}")
    else:
        print(f"\n{args.postmap} not installed: no comparison with the real Postfix")
    if not args.keep:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
