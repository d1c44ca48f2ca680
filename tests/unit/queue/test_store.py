"""The queue directory: layout and modes, moves, lazy scans, quarantine, temp-file purge."""

import ast
import os
import pathlib
import stat
import time
import tracemalloc

import pytest

from pfx.envelope import Envelope, Recipient
from pfx.errors import QueueFileCorrupt
from pfx.queue.qid import QueueId
from pfx.queue.store import LAYOUT, QueueStore

ENV = Envelope("s@x", [Recipient("r@x")])
NOW = 1_700_000_000.0


@pytest.fixture
def store(tmp_path):
    s = QueueStore(tmp_path / "spool", clock=lambda: NOW)
    s.check()
    return s


def submit(store, content=b"Subject: x\n\nbody\n"):
    with store.new_file(ENV) as w:
        w.write(content)
        return w.commit()


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_check_creates_layout_with_safe_modes(tmp_path):
    s = QueueStore(tmp_path / "spool")
    assert s.check(repair=False)[0].endswith("missing")
    found = s.check()
    assert any(line.endswith("incoming: created") for line in found)
    for name, want in LAYOUT.items():
        assert mode(tmp_path / "spool" / name) == want, name
    assert sorted(os.listdir(tmp_path / "spool" / "deferred")) == list("0123456789ABCDEF")
    assert mode(tmp_path / "spool" / "defer" / "A") == 0o700
    assert s.check() == []  # idempotent


def test_check_repairs_modes_and_leaves_odd_things_alone(store, tmp_path):
    os.chmod(tmp_path / "spool" / "active", 0o777)
    os.rmdir(tmp_path / "spool" / "trace")
    (tmp_path / "spool" / "trace").write_text("not a dir")
    assert any("active: mode 0777, should be 0700" in x for x in store.check(repair=False))
    found = store.check()
    assert mode(tmp_path / "spool" / "active") == 0o700
    assert any("trace: not a directory" in x for x in found)
    assert (tmp_path / "spool" / "trace").read_text() == "not a dir"


def test_check_moves_files_to_the_right_hash_directory(tmp_path):
    shallow = QueueStore(tmp_path, hash_queue_depth=1)
    shallow.check()
    qid = submit(shallow)
    shallow.move(qid, "incoming", "deferred")
    deep = QueueStore(tmp_path, hash_queue_depth=2)
    assert any("misplaced: moved" in x for x in deep.check())
    assert os.path.exists(deep.path("deferred", qid))
    assert list(deep.scan("deferred")) == [qid]


def test_check_renames_a_file_whose_inode_changed(store):
    qid = submit(store)
    path = store.path("incoming", qid)
    copy = path + ".restored"  # as if restored from a backup: a new inode (both exist at once)
    pathlib.Path(copy).write_bytes(pathlib.Path(path).read_bytes())
    os.chmod(copy, 0o700)
    os.rename(copy, path)
    found = store.check()
    [new] = list(store.scan("incoming"))
    assert found == [f"incoming/{qid}: does not match inode number: renamed to {new}"]
    assert new.inode == os.stat(store.path("incoming", new)).st_ino
    assert (new.seconds, new.microseconds) == (qid.seconds, qid.microseconds)
    assert store.read_info("incoming", new).sender == "s@x"


def test_paths_are_built_from_queue_ids_only(store):
    qid = QueueId.make(1_700_000_000, 0xABCDE, 42)
    assert store.path("incoming", qid).endswith(f"spool/incoming/{qid}")
    assert store.path("deferred", qid).endswith(f"spool/deferred/A/{qid}")
    with pytest.raises(TypeError):
        store.path("incoming", "../../etc/passwd")
    with pytest.raises(ValueError):
        store.path("../etc", qid)


def test_a_message_moves_by_rename_through_the_queues(store):
    qid = submit(store)
    assert list(store.scan("incoming")) == [qid]
    store.move(qid, "incoming", "active")
    assert store.find(qid) == "active" and list(store.scan("incoming")) == []
    store.move(qid, "active", "deferred", mtime=NOW + 300)
    assert store.find(qid) == "deferred"
    assert store.next_attempt("deferred", qid) == NOW + 300
    assert list(store.scan("deferred", due=NOW)) == []  # not yet
    assert list(store.scan("deferred", due=NOW + 300)) == [qid]
    store.set_next_attempt("deferred", qid, NOW)
    assert list(store.scan("deferred", due=NOW)) == [qid]
    assert store.read_info("deferred", qid).sender == "s@x"
    with pytest.raises(FileNotFoundError):
        store.move(qid, "active", "hold")
    assert store.remove("deferred", qid) and not store.remove("deferred", qid)
    assert store.find(qid) is None


def test_move_never_replaces_a_file(store):
    qid = submit(store)
    pathlib.Path(store.path("hold", qid)).write_bytes(b"other")
    with pytest.raises(FileExistsError):
        store.move(qid, "incoming", "hold")
    assert store.find(qid) == "incoming"


def test_scan_skips_temp_unready_and_foreign_names(store, tmp_path):
    qid = submit(store)
    incoming = tmp_path / "spool" / "incoming"
    (incoming / "123.4.abcdef01").write_bytes(b"temp")
    (incoming / "README").write_bytes(b"junk")
    unready = QueueId.make(1_700_000_000, 1, 99)
    (incoming / str(unready)).write_bytes(b"half")
    os.chmod(incoming / str(unready), 0o600)
    assert list(store.scan("incoming")) == [qid]
    assert sorted(store.scan("incoming", ready_only=False)) == sorted([qid, unready])


def test_scan_skips_names_the_caller_already_holds(store):
    first, second = submit(store), submit(store)
    assert list(store.scan("incoming", skip=frozenset({str(first)}))) == [second]


def test_scanned_ids_equal_constructed_ones(store):
    qid = submit(store)
    (found,) = store.scan("incoming")
    assert found == QueueId(str(qid)) and hash(found) == hash(QueueId(str(qid)))


def test_corrupt_file_is_quarantined_with_a_warning(tmp_path):
    warnings = []
    store = QueueStore(tmp_path, warn=warnings.append)
    store.check()
    qid = submit(store)
    store.move(qid, "incoming", "active")
    path = pathlib.Path(store.path("active", qid))
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(QueueFileCorrupt):
        store.open("active", qid)
    store.quarantine("active", qid)
    assert warnings == [f'saving corrupt file "{qid}" from queue "active" to queue "corrupt"']
    assert store.find(qid) == "corrupt" and list(store.scan("corrupt")) == [qid]
    assert mode(store.path("corrupt", qid)) == 0o400


def test_maildrop_files_use_the_maildrop_policy(store):
    with store.new_file(ENV, queue="maildrop", attributes=[("full_name", "Sam")]) as w:
        w.write(b"Subject: x\n\nhi\n")
        qid = w.commit()
    with store.open("maildrop", qid) as r:
        assert r.info.attributes == (("full_name", "Sam"),)
    with pytest.raises(ValueError):
        store.new_file(ENV, queue="active")


def test_purge_temp_removes_only_stale_temporary_files(store, tmp_path):
    qid = submit(store)
    old, young = tmp_path / "spool/incoming/1.2.aaaa", tmp_path / "spool/maildrop/3.4.bbbb"
    old.write_bytes(b"x")
    young.write_bytes(b"x")
    os.utime(old, (NOW - 7200, NOW - 7200))
    os.utime(young, (NOW - 60, NOW - 60))
    assert store.purge_temp(3600) == [str(old)]
    assert young.exists() and store.find(qid) == "incoming"


def test_scanning_100000_deferred_files_is_lazy(tmp_path):
    store = QueueStore(tmp_path)
    store.check()
    for i in range(100_000):
        qid = QueueId.make(1_700_000_000 + i // 1000, (i * 7919) % 1_000_000, i)
        os.close(os.open(store.path("deferred", qid), os.O_CREAT | os.O_WRONLY, 0o700))
    assert sum(1 for _ in store.scan("deferred", due=time.time())) == 100_000
    # Tracing makes Python slow, so trace the start of a scan: one that loads the
    # whole queue first (a list of 100,000 QueueIds is ~10 MB) peaks right there.
    scan = store.scan("deferred", due=time.time())
    tracemalloc.start()
    try:
        first = next(scan)
        seen = 1 + sum(1 for _ in zip(range(4999), scan))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        scan.close()
    assert seen == 5000 and isinstance(first, QueueId)
    assert peak < 100_000, peak  # measured: about 6 KB


def test_queue_package_is_pure():
    """No reactor and no Twisted in pfx.queue (DESIGN layer L2)."""
    root = pathlib.Path(__file__).parents[3] / "pfx" / "queue"
    for module in root.glob("*.py"):
        tree = ast.parse(module.read_text())
        assert ast.get_docstring(tree), module
        assert len(module.read_text().splitlines()) < 500, module
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "twisted" for n in names), (module, names)
