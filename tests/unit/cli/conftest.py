"""A throwaway queue for the queue tools: config dir, QueueStore, message factory."""

import os
import socket
import time

import pytest

from pfx.envelope import Envelope, Recipient
from pfx.bounce import log as delivery_log
from pfx.dsn import Dsn
from pfx.envelope import RecipientStatus
from pfx.queue.store import QueueStore

ARRIVAL = 1795600832  # Wed Nov 25 10:00:32 2026 UTC, the arrival time in the Postfix samples


class Queue:
    """DIR/main.cf pointing at DIR/spool, and helpers to fill the queue."""

    def __init__(self, path):
        self.dir = str(path)
        (path / "main.cf").write_text(f"queue_directory = {path}/spool\n")
        (path / "master.cf").write_text("")
        self.store = QueueStore(path / "spool")
        self.store.check()

    def add(self, sender="root@ok.test", rcpts=("a@ok.test",), queue="incoming", size=None,
            content=b"Subject: x\n\nhi\n", arrival=ARRIVAL, done=(), **rcpt_args):
        """Write a message (content padded to ``size`` bytes), move it to ``queue``."""
        if size is not None:
            content = content + b"x" * (size - len(content) - 1) + b"\n"
        recipients = [Recipient(r, **rcpt_args) for r in rcpts]
        with self.store.new_file(Envelope(sender, recipients, arrival=arrival)) as w:
            w.write(content)
            qid = w.commit()
        if done:
            with self.store.open("incoming", qid) as reader:
                reader.mark_done([r.offset for r in reader.info.recipients if r.address in done])
        if queue != "incoming":
            self.store.move(qid, "incoming", queue)
        return qid

    def defer_log(self, qid, *entries, text=None):
        """Write defer/QID from (recipient, reason) pairs, or raw text."""
        path = self.store.path("defer", qid)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(text.encode() if text is not None else b"".join(
                delivery_log.encode(RecipientStatus(Recipient(r), "deferred", Dsn("4.0.0"), why),
                                    ARRIVAL) for r, why in entries))
        return path

    def where(self, qid):
        return self.store.find(qid)


@pytest.fixture
def q(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.delenv("MAIL_CONFIG", raising=False)
    yield Queue(tmp_path)
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def qmgr_socket(q):
    """A listening public/qmgr: read() returns what the tool sent (b"" if nothing)."""
    yield from _listening(q, "qmgr")


@pytest.fixture
def pickup_socket(q):
    """A listening public/pickup, as qmgr_socket."""
    yield from _listening(q, "pickup")


def _listening(q, service):
    path = os.path.join(q.store.root, "public", service)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    server.settimeout(2)

    def read():
        data = b""
        server.settimeout(0.2)
        while True:
            try:
                conn, _ = server.accept()
            except (socket.timeout, BlockingIOError):
                return data
            with conn:
                conn.settimeout(2)
                while chunk := conn.recv(64):
                    data += chunk

    yield read
    server.close()
