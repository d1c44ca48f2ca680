"""pfx postcat: show a queue file's envelope, headers and body, as postcat(1).

The framing lines (``*** ENVELOPE RECORDS name ***`` ...) and the record names are
Postfix's where pfx has the same thing (sender, recipient, original_recipient,
named_attribute, message_arrival_time ...); a pfx record that packs several Postfix
records (a recipient with its ORCPT and NOTIFY) prints as several lines at one offset.
pfx keeps content in opaque chunks, not line records, so with -o a content line's offset
is the file offset of its first byte.

A file that is not a pfx queue file at all gets Postfix's warning and is skipped; a pfx
queue file that is damaged stops postcat with ``postcat: fatal:`` and status 1.
Nothing here writes to a queue file, so it is safe while pfx runs; a file that is moved
while being read stays readable through the open descriptor.
"""

import getopt
import os
import shutil
import sys
import tempfile
import time

import attrs

from pfx.cli.qtool import Fatal, Tool, config_dir, open_store
from pfx.errors import QueueFileCorrupt
from pfx.queue.qfile import QueueFileReader
from pfx.queue.qid import QueueId
from pfx.queue.records import HEADER, MAGIC, NOTIFY_BITS, RecType, describe

USAGE = ("usage: postcat [-b (body text)] [-c config_dir] [-e (envelope records)] "
         "[-h (header text)] [-o (offsets)] [-q (access queue)] [-v] [file(s)...]")
_SEARCH = ("incoming", "active", "deferred", "hold", "maildrop", "corrupt", "saved")


class Show:
    """What to print: the sections chosen with -e -h -b (none: all three), and -o, -v."""

    def __init__(self, envelope, header, body, offsets, verbose):
        if not (envelope or header or body):
            envelope = header = body = True
        self.envelope, self.header, self.body = envelope, header, body
        self.offsets, self.verbose = offsets, verbose


class Printer:
    """Writes one queue file to a binary stream."""

    def __init__(self, out, show: Show, label: str):
        self.out, self.show, self.label = out, show, label

    def line(self, text: str, offset=None):
        prefix = f"{offset:9d} " if self.show.offsets and offset is not None else ""
        self.out.write((prefix + text + "\n").encode("utf-8", "surrogateescape"))

    def frame(self, what: str, offset=None):
        if self.show.envelope:  # Postfix frames the sections only when it shows the envelope
            self.line(f"*** {what} {self.label} ***", offset)

    def record_lines(self, record, value):
        """The Postfix-style text lines of one envelope or extracted record."""
        if record.type is RecType.SIZE:
            return ["message_size: " + " ".join(f"{v:15d}" for v in attrs.astuple(value))]
        if record.type is RecType.TIME:
            stamp = time.asctime(time.localtime(value))
            if self.show.verbose:
                stamp += f" ({value:.6f})"
            return [f"message_arrival_time: {stamp}"]
        if record.type is RecType.RCPT:
            rcpt, done = value
            lines = [f"named_attribute: dsn_orig_rcpt={rcpt.orcpt}"] * (rcpt.orcpt is not None)
            if rcpt.notify:
                lines.append(f"dsn_notify_flags: {sum(NOTIFY_BITS[w] for w in rcpt.notify)}")
            lines += [f"original_recipient: {rcpt.orig}"] * (rcpt.orig is not None)
            return lines + [f"{'done_recipient' if done else 'recipient'}: {rcpt.address}"]
        if record.type is RecType.VERSION:
            return [describe(record)] if self.show.verbose else []
        return [describe(record)]

    def content(self, reader):
        """Header and/or body lines, streamed chunk by chunk (bounded memory)."""
        sizes = reader.info.sizes
        end = sizes.content_size if self.show.body else sizes.body_offset
        pos, file_pos, at_start, chosen, last = 0, sizes.content_offset, True, False, b"\n"
        for chunk in reader.iter_content(0, end):
            data_start = file_pos + HEADER.size
            i = 0
            while i < len(chunk):
                if at_start:  # a line's section is decided where it starts
                    chosen = self.show.header if pos + i < sizes.body_offset else self.show.body
                    if chosen and self.show.offsets:
                        self.out.write(f"{data_start + i:9d} ".encode())
                j = chunk.find(b"\n", i)
                stop = len(chunk) if j < 0 else j + 1
                if chosen:
                    self.out.write(chunk[i:stop])
                    last = chunk[stop - 1:stop]
                at_start, i = j >= 0, stop
            pos += len(chunk)
            file_pos += HEADER.size + len(chunk)
        if last != b"\n":
            self.out.write(b"\n")  # a last line without its newline still ends the output line

    def run(self, reader):
        show = self.show
        self.frame("ENVELOPE RECORDS")
        for record, value in reader.records(content=False):
            if record.type is RecType.MESG:
                self.frame("MESSAGE CONTENTS", record.offset)
                if show.header or show.body:
                    self.content(reader)
            elif record.type is RecType.XTRA:
                self.frame("HEADER EXTRACTED", record.offset)
            elif record.type is RecType.END:
                self.frame("MESSAGE FILE END", record.offset)
            elif show.envelope:
                for text in self.record_lines(record, value):
                    self.line(text, record.offset)
        self.out.flush()


def is_queue_file(path) -> bool:
    """Whether the file starts with a pfx version record (else: not a queue file at all)."""
    with open(path, "rb") as f:
        head = f.read(HEADER.size + len(MAGIC))
    return head[:1] == bytes((RecType.VERSION,)) and head[HEADER.size:] == MAGIC


def locate(store, name):
    """-q: (path, label) of a queue ID in the queues; label as Postfix shows it."""
    try:
        qid = QueueId(name)
    except ValueError:
        if not (name.isascii() and name.isalnum()):  # Postfix's test; such a name is never a file
            raise Fatal(f"bad mail queue ID: {name}") from None
        qid = None
    queue = store.find(qid, _SEARCH) if qid else None
    if queue is None:
        raise Fatal(f"open queue file {name}: No such file or directory")
    path = store.path(queue, qid)
    return path, os.path.relpath(path, store.root)


def show_file(tool, out, show, path, label) -> None:
    try:
        if not is_queue_file(path):
            tool.warn(f"{label}: input is not a valid queue file")
            return
        with QueueFileReader(path) as reader:
            Printer(out, show, label).run(reader)
    except QueueFileCorrupt as e:
        out.flush()
        raise Fatal(f"{label}: corrupt queue file: {e}") from None
    except BrokenPipeError:
        raise
    except OSError as e:
        raise Fatal(f"open {label}: {e.strerror}") from None


def main(argv=None) -> int:
    tool = Tool("postcat")
    return tool.run(lambda args: _main(tool, args), sys.argv[1:] if argv is None else argv)


def _main(tool, argv) -> int:
    try:
        opts, names = getopt.gnu_getopt(argv, "bc:ehoqv")
    except getopt.GetoptError as e:
        tool.say(f"invalid option -- '{e.opt}'")
        raise Fatal(USAGE) from None
    flags = {opt for opt, _ in opts}
    directory = next((value for opt, value in opts if opt == "-c"), None)
    tool.verbose = sum(opt == "-v" for opt, _ in opts)
    show = Show("-e" in flags, "-h" in flags, "-b" in flags, "-o" in flags, tool.verbose)
    out = sys.stdout.buffer
    if "-q" in flags:
        if not names:
            raise Fatal(USAGE)
        store = open_store(config_dir(directory))
        for name in names:
            show_file(tool, out, show, *locate(store, name))
    elif names:
        for name in names:
            show_file(tool, out, show, name, name)
    else:
        # Standard input: spooled to a private temporary file, since the reader seeks.
        with tempfile.NamedTemporaryFile(prefix="postcat.") as spool:
            shutil.copyfileobj(sys.stdin.buffer, spool)
            spool.flush()
            show_file(tool, out, show, spool.name, "stdin")
    return 0


if __name__ == "__main__":
    sys.exit(main())
