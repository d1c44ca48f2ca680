"""The bench scripts run end to end on a tiny load and print figures (pfx only, no Postfix)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.peers.postfix import SMTP_SINK, SMTP_SOURCE

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.access(SMTP_SOURCE, os.X_OK),
                       reason=f"{SMTP_SOURCE} missing (Debian package postfix)"),
]

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--messages", "20", "--skip-postfix", "--warmup", "0", "--sessions", "5",
         "--timeout", "60"]
FIGURES = re.compile(r"^(\w+)\s+(\d+)\s+pfx\s+20\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s", re.M)


def run_bench(script, *args):
    return subprocess.run([sys.executable, str(ROOT / "bench" / script), *SMALL, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=90,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("script, scenario, recipients", [
    ("accept.py", "accept", ["1", "10"]),
    pytest.param("relay.py", "relay", ["1"], marks=pytest.mark.skipif(
        not os.access(SMTP_SINK, os.X_OK), reason=f"{SMTP_SINK} missing")),
    ("maildir.py", "maildir", ["1"]),
])
def test_script_prints_pfx_figures(script, scenario, recipients):
    done = run_bench(script)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = FIGURES.findall(done.stdout)
    assert [(name, n) for name, n, *_ in rows] == [(scenario, r) for r in recipients], \
        done.stdout
    for _, _, accept_rate, rate, cpu in rows:
        assert float(accept_rate) > 0 and float(rate) > 0 and float(cpu) > 0, done.stdout
    assert "postfix" not in done.stdout.lower().replace("pfx/postfix", "")


def test_json_output_has_the_figures():
    done = run_bench("accept.py", "--json", "--recipients", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    [entry] = json.loads(done.stdout)
    assert entry["scenario"] == "accept" and entry["recipients"] == 1
    assert entry["pfx"]["messages"] == 20 and entry["pfx"]["returncode"] == 0
    assert entry["pfx"]["total_rate"] > 0 and entry["pfx"]["cpu_per_1000"] > 0
    assert "postfix" not in entry
