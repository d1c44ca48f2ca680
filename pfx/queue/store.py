"""The queue directory: its layout and modes, paths, moves by rename, lazy scans, quarantine.

Blocking file-system work; callers run it in a thread. The layout follows Postfix's
queue_directory (mail_queue.c): one subdirectory per queue, files named by queue ID,
hashed into single-hex-digit subdirectories for the queues in hash_queue_names.
A message is in exactly one queue at a time because it only ever moves by rename().
A deferred file's mtime is the time of its next delivery attempt, as in Postfix.
"""

import errno
import logging
import os
import stat
import time

from pfx.queue.qfile import QueueFileReader, QueueFileWriter, fsync_dir, is_ready, is_temp_name
from pfx.queue.qid import QueueId
from pfx.queue.records import MAILDROP, QUEUE, REQUEUE

# Directory -> mode. maildrop and public are group-accessible for the postdrop group.
LAYOUT = {
    "maildrop": 0o730, "incoming": 0o700, "active": 0o700, "deferred": 0o700,
    "hold": 0o700, "corrupt": 0o700, "saved": 0o700, "bounce": 0o700, "defer": 0o700,
    "trace": 0o700, "flush": 0o700, "private": 0o700, "public": 0o710, "pid": 0o755,
}
MESSAGE_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt", "saved")
CORRUPT_MODE = 0o400
_HEX = "0123456789ABCDEF"


class QueueStore:
    """One queue_directory. Paths are built only from QueueId values and LAYOUT names."""

    def __init__(self, root, *, hash_queue_names=("deferred", "defer"), hash_queue_depth=1,
                 warn=None, clock=time.time):
        self.root = os.fspath(root)
        self.hashed = frozenset(hash_queue_names)
        self.depth = hash_queue_depth
        # warn(text): the caller's logger adds the "warning: " severity prefix.
        self.warn = warn or logging.getLogger("pfx.queue").warning
        self.clock = clock
        if not 1 <= self.depth <= 5:
            raise ValueError(f"hash_queue_depth must be 1..5, not {self.depth}")
        unknown = self.hashed - set(LAYOUT)
        if unknown:
            raise ValueError(f"hash_queue_names: unknown queue(s) {sorted(unknown)}")

    # --- layout -------------------------------------------------------------------------

    def queue_dir(self, queue: str) -> str:
        if queue not in LAYOUT:
            raise ValueError(f"unknown queue name {queue!r}")
        return os.path.join(self.root, queue)

    def ensure_dirs(self, names) -> None:
        """Create missing queue directories with their modes (a service started by
        twistd alone, without ``pfx check``, still finds what it needs)."""
        for name in names:
            path = self.queue_dir(name)
            if not os.path.isdir(path):
                os.makedirs(path, exist_ok=True)
                os.chmod(path, LAYOUT[name])

    def path(self, queue: str, qid: QueueId) -> str:
        """Where a message of this ID lives (or would live) in this queue."""
        if not isinstance(qid, QueueId):
            raise TypeError(f"expected a QueueId, not {qid!r}")
        parts = qid.hash_dirs(self.depth) if queue in self.hashed else ()
        return os.path.join(self.queue_dir(queue), *parts, qid.value)

    def check(self, repair: bool = True) -> list:
        """Check (and repair) the layout: directories, modes, hash subdirectories, placement.

        Returns what was found, one line each (``pfx check`` prints them). Something that
        is not a plain directory is reported, never touched.
        """
        found = []
        if repair:
            os.makedirs(self.root, mode=0o755, exist_ok=True)
        elif not os.path.isdir(self.root):
            return [f"{self.root}: missing"]
        root_dev = os.stat(self.root).st_dev
        for name, mode in LAYOUT.items():
            found += self._check_dir(self.queue_dir(name), mode, repair)
            if name in self.hashed:
                for sub in self._hash_dirs():
                    found += self._check_dir(os.path.join(self.queue_dir(name), sub), mode, repair)
            if os.path.isdir(self.queue_dir(name)) and os.stat(self.queue_dir(name)).st_dev != root_dev:
                found.append(f"{name}: on another file system than {self.root}: queue IDs may clash")
        for name in MESSAGE_QUEUES + ("bounce", "defer", "trace"):
            if os.path.isdir(self.queue_dir(name)):
                found += self._check_placement(name, repair)
        return found

    def _hash_dirs(self):
        names = [""]
        for _ in range(self.depth):
            names = [os.path.join(n, h) for n in names for h in _HEX]
        for level in range(1, self.depth + 1):  # parents before children
            yield from sorted({os.path.join(*n.split(os.sep)[:level]) for n in names})

    def _check_dir(self, path, mode, repair):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if not repair:
                return [f"{path}: missing"]
            os.mkdir(path, mode)
            os.chmod(path, mode)  # mkdir's mode is filtered by the umask
            return [f"{path}: created"]
        if not stat.S_ISDIR(st.st_mode):
            return [f"{path}: not a directory; fix by hand"]
        found = []
        if st.st_uid != os.geteuid():
            found.append(f"{path}: owned by uid {st.st_uid}, not {os.geteuid()}")
        if stat.S_IMODE(st.st_mode) != mode:
            found.append(f"{path}: mode {stat.S_IMODE(st.st_mode):04o}, should be {mode:04o}"
                         + (": fixed" if repair else ""))
            if repair:
                os.chmod(path, mode)
        return found

    def _check_placement(self, queue, repair):
        """postsuper -s: files in the wrong hash subdirectory (hash_queue_depth changed)
        and, for messages, names that no longer match the inode (restored from a backup,
        so the ID could clash with a new message's)."""
        found = []
        for qid, path in self.scan_paths(queue, ready_only=False):
            want, inode = self.path(queue, qid), os.lstat(path).st_ino
            if queue in MESSAGE_QUEUES and inode != qid.inode:
                new = QueueId.make(qid.seconds, qid.microseconds, inode)
                found.append(f"{queue}/{qid}: does not match inode number"
                             + (f": renamed to {new}" if repair else ""))
                want = self.path(queue, new)
            elif path != want:
                found.append(f"{queue}/{qid}: misplaced" + (": moved" if repair else ""))
            if repair and path != want:
                if os.path.lexists(want):
                    found.append(f"{want}: exists; {path} left alone")
                    continue
                os.makedirs(os.path.dirname(want), mode=LAYOUT[queue], exist_ok=True)
                os.rename(path, want)
        return found

    # --- files --------------------------------------------------------------------------

    def new_file(self, envelope, queue: str = "incoming", **kwargs) -> QueueFileWriter:
        """A writer for a new message in incoming/ (cleanup) or maildrop/ (postdrop)."""
        if queue not in ("incoming", "maildrop"):
            raise ValueError(f"new queue files go to incoming or maildrop, not {queue!r}")
        kwargs.setdefault("policy", MAILDROP if queue == "maildrop" else QUEUE)
        kwargs.setdefault("clock", self.clock)
        return QueueFileWriter(self.queue_dir(queue), envelope, **kwargs)

    def open(self, queue: str, qid: QueueId) -> QueueFileReader:
        """A reader; QueueFileCorrupt if the file is bad, FileNotFoundError if it is gone.
        A maildrop file is read as the requeue policy allows (a superset of a user's),
        for the tools that show it; pickup applies its own, by owner."""
        policy = REQUEUE if queue == "maildrop" else QUEUE
        return QueueFileReader(self.path(queue, qid), policy=policy, queue_id=qid)

    def read_info(self, queue: str, qid: QueueId):
        """Envelope, sizes and recipient states without the content (postqueue -p, qmgr)."""
        with self.open(queue, qid) as reader:
            return reader.info

    def move(self, qid: QueueId, src: str, dst: str, *, mtime: float | None = None,
             sync: bool = False) -> str:
        """Rename a message from one queue to another; mtime is set first (deferred).

        rename() is atomic, so the message is in src or dst, never both or neither. sync
        also fsyncs both directories; Postfix does not, and a crash just leaves the file
        in one of the two queues.
        """
        old, new = self.path(src, qid), self.path(dst, qid)
        if os.path.lexists(new):  # rename() would silently replace it
            raise FileExistsError(errno.EEXIST, "already in the target queue", new)
        if mtime is not None:
            os.utime(old, (self.clock(), mtime))
        try:
            os.rename(old, new)
        except FileNotFoundError:
            if not os.path.isdir(os.path.dirname(new)):  # a hash directory not made yet
                os.makedirs(os.path.dirname(new), mode=LAYOUT[dst], exist_ok=True)
                os.rename(old, new)
            else:
                raise
        if sync:
            fsync_dir(os.path.dirname(old))
            fsync_dir(os.path.dirname(new))
        return new

    def set_next_attempt(self, queue: str, qid: QueueId, when: float) -> None:
        """A deferred file's mtime is when to try it next."""
        os.utime(self.path(queue, qid), (self.clock(), when))

    def next_attempt(self, queue: str, qid: QueueId) -> float:
        return os.stat(self.path(queue, qid)).st_mtime

    def remove(self, queue: str, qid: QueueId) -> bool:
        """Delete a message (postsuper -d); False if it was not there."""
        try:
            os.unlink(self.path(queue, qid))
        except FileNotFoundError:
            return False
        return True

    def quarantine(self, queue: str, qid: QueueId) -> str:
        """Move a damaged file to corrupt/ (mode 0400) and log it; never deleted."""
        self.warn(f'saving corrupt file "{qid}" from queue "{queue}" to queue "corrupt"')
        new = self.move(qid, queue, "corrupt")
        os.chmod(new, CORRUPT_MODE)
        return new

    def find(self, qid: QueueId, queues=MESSAGE_QUEUES) -> str | None:
        """Which queue holds this message (postcat -q, postsuper), or None."""
        for queue in queues:
            if os.path.lexists(self.path(queue, qid)):
                return queue
        return None

    # --- scans --------------------------------------------------------------------------

    def scan_paths(self, queue: str, *, ready_only: bool | None = None, due: float | None = None,
                   skip=frozenset()):
        """Lazily yield (QueueId, path) for the messages in a queue, in directory order.

        One directory handle is open per level: a 100,000-file queue costs no more memory
        than a small one. Temporary and foreign names are skipped; so are files without
        the ready bit (ready_only; by default in incoming and maildrop, where files are
        born), given due, files whose mtime is after it, and names in ``skip`` (what the
        caller already holds: a rescan then costs no validation or stat for them).
        """
        if ready_only is None:
            ready_only = queue in ("incoming", "maildrop")
        parse = QueueId.parse
        stack = [self.queue_dir(queue)]
        while stack:
            try:
                entries = os.scandir(stack.pop())
            except FileNotFoundError:
                continue
            with entries:
                for entry in entries:
                    name = entry.name
                    if name in skip:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        if len(name) == 1 and name in _HEX:
                            stack.append(entry.path)
                        continue
                    qid = parse(name)
                    if qid is None or not entry.is_file(follow_symlinks=False):
                        continue
                    if ready_only or due is not None:
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue  # moved away while we looked
                        if ready_only and not is_ready(st.st_mode):
                            continue
                        if due is not None and st.st_mtime > due:
                            continue
                    yield qid, entry.path

    def scan(self, queue: str, **kwargs):
        """Lazily yield the QueueIds in a queue; see scan_paths."""
        for qid, _ in self.scan_paths(queue, **kwargs):
            yield qid

    def purge_temp(self, older_than: float = 3600.0) -> list:
        """Remove temporary files a crashed writer left (postsuper -p); -> removed paths."""
        removed, limit = [], self.clock() - older_than
        for queue in ("incoming", "maildrop"):
            try:
                entries = os.scandir(self.queue_dir(queue))
            except FileNotFoundError:
                continue
            with entries:
                for entry in entries:
                    if not (is_temp_name(entry.name) and entry.is_file(follow_symlinks=False)):
                        continue
                    try:
                        if entry.stat(follow_symlinks=False).st_mtime < limit:
                            os.unlink(entry.path)
                            removed.append(entry.path)
                    except FileNotFoundError:
                        pass
        return removed
