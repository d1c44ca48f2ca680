"""bench/tables.py and bench/queue_write.py run end to end on a tiny load and print figures."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script, *args):
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_tables_bench_prints_build_time_and_lookup_rates(tmp_path):
    done = run_bench("tables.py", "--entries", "2000", "--queries", "1000",
                     "--postmap", str(tmp_path / "no-postmap"))
    assert done.returncode == 0, done.stderr
    assert re.search(r"^pfx build\s+[\d.]+$", done.stdout, re.M), done.stdout
    assert re.search(r"^pfx lookup\(\)\s+[\d.]+\s+[\d,]+\s+[\d.]+$", done.stdout, re.M)
    assert "p99=" in done.stdout


def test_queue_write_bench_prints_files_per_second(tmp_path):
    done = run_bench("queue_write.py", "--seconds", "0.3", "--writers", "1,2",
                     "--dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    rows = re.findall(r"^\s+(\d+) (thread|process)\s+(\d+)\s+(\d+)\s", done.stdout, re.M)
    assert {(w, k) for w, k, *_ in rows} == {("1", "thread"), ("2", "thread"),
                                            ("1", "process"), ("2", "process")}, done.stdout
    assert all(int(files) > 0 for *_, files, _ in rows)
