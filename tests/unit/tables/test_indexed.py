"""The SQLite-backed hash/btree format: round trips, atomic rebuilds, in-place updates."""

import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pfx.errors import TableConfigError
from pfx.tables import indexed
from pfx.tables.base import fold_key

keys = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
               min_size=1, max_size=20)
values = st.text(min_size=1, max_size=30)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(keys, values, max_size=30), keys)
def test_round_trip_is_a_folded_dict(tmp_path_factory, entries, probe):
    path = str(tmp_path_factory.mktemp("rt") / "t.db")
    folded = {}
    for k, v in entries.items():
        folded.setdefault(fold_key(k), v)
    indexed.build(path, [(fold_key(k), v) for k, v in entries.items()])
    table = indexed.IndexedTable(path, "hash")
    for k in entries:
        assert table.lookup(k) == folded[fold_key(k)]
    assert table.lookup(probe) == folded.get(fold_key(probe))
    assert dict(table.items()) == folded


def test_undecodable_bytes_survive(tmp_path):
    path = str(tmp_path / "t.db")
    key = b"caf\xe9".decode("utf-8", "surrogateescape")
    indexed.build(path, [(key, "latin1 key")])
    assert indexed.IndexedTable(path, "hash", fold=False).lookup(key) == "latin1 key"


def test_a_failed_build_leaves_the_old_table_and_no_temp_file(tmp_path):
    path = str(tmp_path / "t.db")
    indexed.build(path, [("a", "old")])
    before = open(path, "rb").read()

    def entries():
        yield ("a", "new")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        indexed.build(path, entries())
    assert open(path, "rb").read() == before
    assert os.listdir(tmp_path) == ["t.db"]


def test_reader_keeps_the_old_file_until_a_good_one_appears(tmp_path):
    path = str(tmp_path / "t.db")
    indexed.build(path, [("a", "1")])
    table = indexed.IndexedTable(path, "hash")
    with open(path + ".new", "wb") as f:
        f.write(b"garbage" * 100)
    os.replace(path + ".new", path)
    assert table.lookup("a") == "1"  # the broken replacement is ignored
    indexed.build(path, [("a", "2")])
    assert table.lookup("a") == "2"


def test_update_and_delete_in_place(tmp_path):
    path = str(tmp_path / "t.db")
    indexed.update(path, [("a", "1")])  # creates the table
    table = indexed.IndexedTable(path, "hash")
    indexed.update(path, [("b", "2"), ("a", "x")])
    assert (table.lookup("a"), table.lookup("b")) == ("1", "2")
    indexed.update(path, [("a", "x")], dup="replace")
    assert table.lookup("a") == "x"
    assert indexed.delete(path, ["a", "zz"]) == ["a"]
    assert table.lookup("a") is None
    with pytest.raises(TableConfigError):
        indexed.delete(str(tmp_path / "missing.db"), ["a"])


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(TableConfigError, match="No such file"):
        indexed.IndexedTable(str(tmp_path / "none.db"), "hash")
