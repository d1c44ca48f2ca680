"""bench/deferred.py (issue 6's 100,000-message deferred queue proof) runs on a small queue."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_deferred_queue_bench_prints_start_time_and_memory():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "deferred.py"), "--messages",
                           "200", "--timeout", "60", "--json"], cwd=ROOT, capture_output=True,
                          text=True, timeout=150, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    loaded = result["loaded"]
    assert loaded["messages"] == 200 and loaded["left"] == 0 and loaded["delivered"] == 200
    assert loaded["start_s"] > 0 and loaded["first_delivery_s"] is not None
    assert loaded["peak_rss"] > 0 and result["baseline"]["peak_rss"] > 0
