"""Queue files on disk: the durable writer, the streaming reader, and mark_done (blocking I/O).

Callers run these in a thread (runtime.run_blocking); nothing here touches a reactor.

Writer, like Postfix's mail_stream_file + mail_queue_enter: create ``<pid>.<n>.<token>``
(never a valid queue ID) with O_EXCL and mode 0600, stream the records, rewrite the C
record, fchmod 0700 (the "ready" owner-execute bit), fsync, hard-link the file to its
queue ID, unlink the temporary name, fsync the directory, and only then return the ID. A
file under a queue-ID name is therefore always complete, and a crash leaves at worst a
temporary file for QueueStore.purge_temp. link() rather than rename(): it cannot replace a
file that somehow has the same name.

Reader: reads the envelope and, by seeking to the X record, the extracted segment and END,
without touching the content; content is streamed in CHUNK_SIZE pieces on demand.
"""

import errno
import io
import itertools
import os
import secrets
import stat
import time

from pfx.envelope import Envelope
from pfx.errors import QueueFileCorrupt
from pfx.queue.qid import QueueId, is_queue_id
from pfx.queue.records import (
    HEADER, QUEUE, STATUS_DONE, STATUS_TODO, Policy, Record, RecType, SegmentChecker, corrupt,
    decode_header,
)
from pfx.queue.stream import Encoder, InfoBuilder

CREATE_MODE, READY_MODE = 0o600, 0o700
READ_AHEAD = 8192  # bytes the reader fetches at once for envelope and extracted records
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_counter = itertools.count()
_NO_LINK = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


def fsync_dir(path) -> None:
    """Make a directory's entries (a new or renamed name) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_ready(mode: int) -> bool:
    """The owner-execute bit says a queue file is complete (Postfix's MAIL_QUEUE_STAT_READY)."""
    return bool(mode & stat.S_IXUSR)


def is_temp_name(name: str) -> bool:
    return "." in name and not name.startswith(".")


def _unlink_quiet(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class QueueFileWriter:
    """Writes one new queue file; commit() returns the QueueId once it is on disk.

    The queue ID is known from the start (creation time + inode), so callers can log it
    before the message is complete, as cleanup does. Memory is bounded by CHUNK_SIZE.
    """

    def __init__(self, directory, envelope: Envelope, *, policy: Policy = QUEUE, flags: int = 0,
                 attributes=(), clock=time.time):
        self.directory = os.fspath(directory)
        self.committed = False
        self._file = None
        for _ in range(100):
            name = f"{os.getpid()}.{next(_counter)}.{secrets.token_hex(4)}"
            self.temp_path = os.path.join(self.directory, name)
            try:
                fd = os.open(self.temp_path,
                             os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | _O_NOFOLLOW,
                             CREATE_MODE)
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(errno.EEXIST, "no free temporary name", self.directory)
        try:
            self._file = open(fd, "wb", buffering=4 * 65536)
            now = clock()
            self.queue_id = QueueId.from_time(now, os.fstat(fd).st_ino)
            self.path = os.path.join(self.directory, str(self.queue_id))
            self._enc = Encoder(self._file.write, envelope, arrival=envelope.arrival or now,
                                policy=policy, flags=flags, attributes=attributes)
        except BaseException:
            if self._file is None:
                os.close(fd)
            self.abort()
            raise

    @property
    def size(self) -> int:
        """Content bytes written so far (for message_size_limit)."""
        return self._enc.content_size

    def write(self, data: bytes) -> None:
        """Append message content (LF line ends); OSError (e.g. ENOSPC) means 4xx."""
        try:
            self._enc.write(data)
        except BaseException:
            self.abort()
            raise

    def start_body(self) -> None:
        """Mark the header/body boundary here; without it, the first empty line is used."""
        self._enc.start_body()

    def commit(self, extracted=(), attributes=()) -> QueueId:
        """Finish the file (extracted recipients/attributes, END), make it durable, name it."""
        try:
            sizes = self._enc.finish(extracted, attributes)
            self._file.flush()
            fd = self._file.fileno()
            os.pwrite(fd, sizes, self._enc.size_offset + HEADER.size)
            os.fchmod(fd, READY_MODE)
            os.fsync(fd)
            self._file.close()
            self._publish()
        except BaseException:
            self.abort()
            raise
        try:
            os.unlink(self.temp_path)
            fsync_dir(self.directory)
        except BaseException:
            # We cannot say the name is on disk, so it is not queued: take it back.
            _unlink_quiet(self.path)
            self.abort()
            raise
        self.committed = True
        return self.queue_id

    def _publish(self):
        try:
            os.link(self.temp_path, self.path)
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
            if os.path.lexists(self.path):  # a file system without hard links
                raise FileExistsError(errno.EEXIST, "queue file exists", self.path) from None
            os.rename(self.temp_path, self.path)

    def abort(self) -> None:
        """Discard the file; safe to call more than once."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
        if not self.committed:
            _unlink_quiet(self.temp_path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.committed:
            self.abort()


class QueueFileReader:
    """Opens a queue file, reads everything but the content, and streams the content.

    Format problems raise QueueFileCorrupt; OSError (e.g. the file was moved away)
    passes through unchanged, because that is not the file's fault.
    """

    def __init__(self, path, *, policy: Policy = QUEUE, queue_id: QueueId | None = None):
        self.path = os.fspath(path)
        self.policy = policy
        self._window, self._window_at = b"", 0
        self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | _O_NOFOLLOW)
        try:
            self._size = os.fstat(self._fd).st_size
            if queue_id is None and is_queue_id(os.path.basename(self.path)):
                queue_id = QueueId(os.path.basename(self.path))
            self.info = self._read_info(queue_id)
        except BaseException:
            self.close()
            raise

    def _read(self, pos: int, n: int) -> bytes:
        """n bytes at pos (fewer at the end of the file), from a window read ahead."""
        start = pos - self._window_at
        if 0 <= start and start + n <= len(self._window):
            return self._window[start:start + n]
        if n > READ_AHEAD:
            return os.pread(self._fd, n, pos)
        # One read for a run of small records (the envelope, the extracted segment)
        # instead of two per record.
        self._window, self._window_at = os.pread(self._fd, READ_AHEAD, pos), pos
        return self._window[:n]

    def _record_at(self, pos: int) -> Record:
        if pos >= self._size:
            raise corrupt(f"offset {pos}: no END record")
        rtype, length = decode_header(self._read(pos, HEADER.size), pos)
        payload = self._read(pos + HEADER.size, length) if length else b""
        if len(payload) != length:
            raise corrupt(f"offset {pos}: record {chr(rtype)}: truncated payload")
        return Record(rtype, payload, pos)

    def _read_info(self, queue_id):
        check, build, pos = SegmentChecker(self.policy), InfoBuilder(), 0
        while check.segment != "content":
            record = self._record_at(pos)
            build.add(record, check.feed(record))
            pos += HEADER.size + len(record.payload)
        content_offset = pos
        pos = xtra_offset = build.values[RecType.SIZE].xtra_offset
        if not content_offset <= xtra_offset < self._size:
            raise corrupt(f"extracted segment offset {xtra_offset} is outside the file")
        while check.segment != "end":
            record = self._record_at(pos)
            if pos == xtra_offset and record.type is not RecType.XTRA:
                raise corrupt(f"offset {pos}: no X record where the sizes record says")
            build.add(record, check.feed(record))
            pos += HEADER.size + len(record.payload)
        if pos != self._size:
            raise corrupt(f"offset {pos}: data after the END record")
        return build.build(queue_id, content_offset, xtra_offset, self._size)

    def iter_content(self, start: int = 0, end: int | None = None):
        """Yield the content bytes in [start, end) in chunks of at most CHUNK_SIZE."""
        sizes = self.info.sizes
        end = sizes.content_size if end is None else min(end, sizes.content_size)
        pos, done = sizes.content_offset, 0
        while done < end and pos < sizes.xtra_offset:
            rtype, length = decode_header(os.pread(self._fd, HEADER.size, pos), pos)
            record_end = pos + HEADER.size + length
            if rtype is not RecType.DATA or not length or record_end > sizes.xtra_offset:
                raise corrupt(f"offset {pos}: bad content record {chr(rtype)} of {length} bytes")
            if done + length > start and done < end:
                payload = os.pread(self._fd, length, pos + HEADER.size)
                if len(payload) != length:
                    raise corrupt(f"offset {pos}: truncated content record")
                yield payload[max(start - done, 0):end - done]
            done, pos = done + length, record_end
        if done < end or (end == sizes.content_size and pos != sizes.xtra_offset):
            raise corrupt(f"content is {done} bytes, the sizes record says {sizes.content_size}")

    def header_chunks(self):
        return self.iter_content(0, self.info.sizes.body_offset)

    def body_chunks(self):
        return self.iter_content(self.info.sizes.body_offset)

    def open_content(self, start: int = 0):
        """A binary file object over the content (valid while this reader is open)."""
        return io.BufferedReader(_ContentStream(self.iter_content(start)), 65536)

    def verify(self) -> None:
        """Read all content once, checking every record; QueueFileCorrupt if bad."""
        for _ in self.iter_content():
            pass

    def records(self, content: bool = True):
        """Yield (Record, value) in file order, for postcat; content=False skips N records."""
        check, pos = SegmentChecker(self.policy), 0
        while check.segment != "end":
            record = self._record_at(pos)
            value = check.feed(record)
            yield record, value
            pos += HEADER.size + len(record.payload)
            if record.type is RecType.MESG and not content:
                pos = self.info.sizes.xtra_offset
        if pos != self._size:
            raise corrupt(f"offset {pos}: data after the END record")

    def mark_done(self, offsets) -> None:
        mark_done(self.path, offsets)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _ContentStream(io.RawIOBase):
    def __init__(self, chunks):
        self._chunks, self._pending = chunks, b""

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._pending:
            self._pending = next(self._chunks, None)
            if self._pending is None:
                self._pending = b""
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def mark_done(path, offsets) -> None:
    """Cross recipients off in place (their R records' status byte), then fsync once.

    offsets are Recipient.offset values from a reader. Only after this returns may a
    delivery count as final (the queue promise, point 3).
    """
    fd = os.open(os.fspath(path), os.O_RDWR | os.O_CLOEXEC | _O_NOFOLLOW)
    try:
        for offset in offsets:
            head = os.pread(fd, HEADER.size + 1, offset)
            rtype, _ = decode_header(head, offset)
            if rtype is not RecType.RCPT or len(head) <= HEADER.size \
                    or head[HEADER.size] not in (STATUS_TODO, STATUS_DONE):
                raise QueueFileCorrupt(f"offset {offset}: no recipient record to cross off")
            if head[HEADER.size] == STATUS_TODO:
                os.pwrite(fd, bytes((STATUS_DONE,)), offset + HEADER.size)
        os.fsync(fd)
    finally:
        os.close(fd)
