"""pfx postsuper: delete, hold, release and requeue messages; check and clean the queue.

As postsuper(1), and safe with pfx running: every operation but -r is a rename() or
unlink() of a whole queue file, never a rewrite, so a file qmgr holds open stays intact
and a message is always in exactly one queue (-r: see below). qmgr must expect a file it holds in active/ to
vanish (held or deleted here), as Postfix's does.

Requeue (-r), as Postfix's: the message goes to maildrop/, from where pickup and cleanup
copy it into a new queue file with a new queue ID, so canonical and virtual alias
mapping (and the rest of cleanup's work) are done again, in the local or remote context
it was received in; recipients already delivered stay delivered, the others keep their
original recipient and DSN settings. Unlike Postfix, which renames the file, pfx
converts it (pfx.queue.requeue: pfx's maildrop files carry no crossed-off recipients)
and writes and fsyncs the maildrop file before it removes the original: a crash in
between means the message is delivered twice, never lost. A corrupt queue file is
reported and moved to corrupt/; a message with a bounce or success notice still to be
sent is reported and left (requeueing would orphan that notice). pickup is woken if pfx runs; otherwise the message
waits in maildrop/ for the next start.
"""

import getopt
import os
import sys
import time

from pfx.cli.qtool import Fatal, Tool, config_dir, open_store
from pfx.cli.trigger import send_trigger
from pfx.queue.qid import QueueId
from pfx.queue.requeue import NotRequeued, requeue

USAGE = ("usage: postsuper [-c config_dir] [-d queue_id (delete)] [-h queue_id (hold)] "
         "[-H queue_id (un-hold)] [-p (purge temporary files)] [-r queue_id (requeue)] "
         "[-s (structure fix)] [-v (verbose)] [queue...]")
MESSAGE_QUEUES = ("hold", "incoming", "active", "deferred")
# Names postsuper takes as queue arguments; corrupt/ and saved/ are not for bulk work.
DIRECTORIES = ("maildrop", "incoming", "active", "deferred", "hold", "bounce", "defer",
               "trace", "flush")
LOGS = ("bounce", "defer", "trace")


class Operation:
    """One of -d -h -H -r: where it looks, what it does, and what it reports."""

    def __init__(self, option, done, summary, defaults, allowed=None):
        self.option, self.done, self.summary = option, done, summary
        self.defaults, self.allowed = defaults, allowed or defaults
        self.ids, self.all, self.count = [], False, 0

    def queues(self, named):
        """The named queues this operation applies to, or its defaults."""
        return [q for q in named if q in self.allowed] if named else list(self.defaults)

    def report(self, tool):
        tool.say(f"{self.summary}: {self.count} message{'' if self.count == 1 else 's'}")


def operations():
    # Postfix 3.7 reports in this order: requeued, deleted, held, released.
    return {
        "-r": Operation("-r", "requeued", "Requeued", MESSAGE_QUEUES),
        "-d": Operation("-d", "removed", "Deleted", MESSAGE_QUEUES, MESSAGE_QUEUES + ("maildrop",)),
        "-h": Operation("-h", "placed on hold", "Placed on hold", ("incoming", "active", "deferred")),
        "-H": Operation("-H", "released from hold", "Released from hold", ("hold",)),
    }


class Superintendent:
    """Applies the operations to one QueueStore."""

    def __init__(self, store, tool):
        self.store, self.tool = store, tool

    def delete(self, queue, qid) -> bool:
        if not self.store.remove(queue, qid):
            return False
        for log in LOGS:  # the message's delivery logs go with it
            try:
                os.unlink(self.store.path(log, qid))
            except FileNotFoundError:
                pass
        return True

    def _move(self, queue, qid, target) -> bool:
        if not os.path.lexists(self.store.path(queue, qid)):
            return False  # move() would first complain that the target exists
        try:
            # due now: a released or requeued message should not wait for its old backoff
            self.store.move(qid, queue, target, mtime=time.time())
        except FileNotFoundError:
            return False
        except FileExistsError:
            self.tool.warn(f"{qid}: already in queue {target}; left in {queue}")
            return False
        return True

    def hold(self, queue, qid) -> bool:
        return self._move(queue, qid, "hold")

    def release(self, queue, qid) -> bool:
        return self._move(queue, qid, "deferred")

    def requeue(self, queue, qid) -> bool:
        try:
            new = requeue(self.store, queue, qid)
        except NotRequeued as exc:
            self.tool.warn(str(exc))
            return False
        if new is not None:
            self.tool.info(f"{qid}: requeued as maildrop/{new}")
        return new is not None

    def apply(self, op, named) -> None:
        action = {"-d": self.delete, "-h": self.hold, "-H": self.release, "-r": self.requeue}[op.option]
        queues = op.queues(named)
        if op.all:
            for queue in queues:
                for qid in list(self.store.scan(queue)):
                    op.count += action(queue, qid)
        for name in op.ids:
            qid = self._queue_id(name)
            if qid is None:
                continue
            for queue in queues:
                if action(queue, qid):
                    self.tool.say(f"{qid}: {op.done}")
                    op.count += 1
                    break

    def _queue_id(self, name):
        try:
            return QueueId(name)
        except ValueError:
            # Postfix accepts any alphanumeric name (and finds nothing); other names are unsafe.
            if not (name.isascii() and name.isalnum()):
                self.tool.warn(f"invalid mail queue id: {name}")
            return None

    def structure(self) -> None:
        """-s: QueueStore.check(repair=True), reported as postsuper does."""
        renamed = 0
        for text in self.store.check(repair=True):
            if text.endswith(": created"):
                self.tool.info(text)
                continue
            renamed += "does not match inode number: renamed" in text
            self.tool.warn(text)
        if renamed:
            self.tool.say(f"Renamed to match inode number: {renamed} message{'' if renamed == 1 else 's'}")
            self.tool.warn("QUEUE FILE NAMES WERE CHANGED TO MATCH INODE NUMBERS")

    def purge(self) -> None:
        for path in self.store.purge_temp():
            self.tool.info(f"{path}: removed temporary file")


def read_ids(stream):
    """Queue IDs from standard input, one or more a line (mailq's decorations stripped)."""
    for line in stream:
        for word in line.split():
            yield word.rstrip("*!#")


def main(argv=None) -> int:
    tool = Tool("postsuper")
    return tool.run(lambda args: _main(tool, args), sys.argv[1:] if argv is None else argv)


def _main(tool, argv) -> int:
    try:
        opts, named = getopt.gnu_getopt(argv, "c:d:h:H:r:psSv")
    except getopt.GetoptError as e:
        tool.say(f"invalid option -- '{e.opt}'")
        raise Fatal(USAGE) from None
    ops, directory, structure, purge, stdin_used = operations(), None, False, False, False
    for opt, value in opts:
        if opt == "-c":
            directory = value
        elif opt == "-v":
            tool.verbose += 1
        elif opt in ("-s", "-S"):
            structure = True
        elif opt == "-p":
            purge = True
        elif value == "ALL":
            ops[opt].all = True
        elif value == "-":
            if stdin_used:
                raise Fatal("reading queue IDs from standard input more than once")
            stdin_used = True
            ops[opt].ids += list(read_ids(sys.stdin))
        else:
            ops[opt].ids.append(value)
    for name in named:
        if name not in DIRECTORIES:
            raise Fatal(f"invalid directory name: {name}")
    store = open_store(config_dir(directory))
    boss = Superintendent(store, tool)
    if structure:
        boss.structure()
    if purge:
        boss.purge()
    requested = [op for op in ops.values() if op.all or op.ids]
    for option in ("-d", "-h", "-H", "-r"):  # delete first: nothing else matters then
        if ops[option] in requested:
            boss.apply(ops[option], named)
    for op in requested:
        op.report(tool)
    # Wake pickup and qmgr for what they should look at now; no pfx running is fine (False).
    if ops["-r"].count:
        send_trigger(store.root, "pickup", b"W")
    if ops["-H"].count:
        send_trigger(store.root, "qmgr", b"D")
    return 0


if __name__ == "__main__":
    sys.exit(main())
