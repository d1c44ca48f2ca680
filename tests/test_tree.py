"""The test tree has no packages, so pytest imports test files by basename: they must be
unique, or a whole directory silently fails to collect."""

from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_test_file_basenames_are_unique():
    names = Counter(p.name for base in (ROOT / "tests", ROOT / "docs")
                    for p in base.rglob("test_*.py"))
    assert [n for n, count in names.items() if count > 1] == []
