"""Golden tests: golden/NAME.TYPE sources with NAME.TYPE.ref answers, in pfx and real postmap."""

from pathlib import Path

import pytest

from pfx.cli import postmap
from tests.unit.tables.conftest import REAL_POSTMAP, copy_source

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.with_suffix("").name for p in GOLDEN.glob("*.ref"))


def load_ref(name):
    pairs = []
    for line in (GOLDEN / f"{name}.ref").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.split("\t", 1)
        pairs.append((key, None if value == "-" else value))
    return pairs


def test_every_golden_source_has_answers():
    sources = {p.name for p in GOLDEN.iterdir() if p.suffix != ".ref"}
    assert sources == set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_pfx_answers(name, tmp_path, registry, warnings):
    kind = name.rsplit(".", 1)[1]
    source = copy_source(GOLDEN / name, tmp_path)
    if kind in ("hash", "btree"):
        assert postmap.main([f"{kind}:{source}"]) == 0
    table = registry.open_strict(f"{kind}:{source}")
    got = [(key, table.lookup(key)) for key, _ in load_ref(name)]
    assert got == load_ref(name)


@pytest.mark.parametrize("name", CASES)
def test_real_postmap_agrees(name, tmp_path, real_postfix):
    kind = name.rsplit(".", 1)[1]
    real_postfix.require(kind)
    source = copy_source(GOLDEN / name, tmp_path)
    if kind in ("hash", "btree"):
        done = real_postfix.run(REAL_POSTMAP, f"{kind}:{source}")
        assert done.returncode == 0, done.stderr
    pairs = load_ref(name)
    found = real_postfix.query(f"{kind}:{source}", [key for key, _ in pairs])
    assert [(key, found.get(key)) for key, _ in pairs] == pairs
