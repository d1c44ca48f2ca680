"""pfx postqueue: list (-p, -j) and flush (-f, -i, -s) the mail queue, as postqueue(1).

Listing reads the queue files directly, whether or not pfx runs (there is no showq
service): the queues in showq's order (maildrop, active, incoming, deferred, hold), each
message's envelope without its content, and the reasons in its defer/ log
(pfx.queue.bouncelog). A file that moves or vanishes between the scan and the read is
skipped silently; that is a race with qmgr, not an error. Output is Postfix 3.7's with
enable_long_queue_ids = yes, since pfx queue IDs are long ones.

Flushing wakes qmgr through public/qmgr with Postfix's request letters. -i and -s have
no fast-flush service behind them: they move the chosen deferred messages to incoming/
(a rename, as Postfix's flush daemon does) and wake qmgr. -s ignores fast_flush_domains.
When pfx is down they still move, and are delivered when it starts; the exit status and
message say that the mail system is down, as Postfix's do.
"""

import getopt
import sys
import time

from pfx.cli.qtool import Fatal, Tool, config_dir, open_store
from pfx.cli.trigger import send_trigger
from pfx.errors import QueueFileCorrupt
from pfx.bounce import log as delivery_log
from pfx.queue.qid import QueueId

USAGE = "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site"
EX_UNAVAILABLE = 69  # postqueue's status for usage errors and "mail system is down", as Postfix's
SHOWQ_ORDER = ("maildrop", "active", "incoming", "deferred", "hold")
STATUS_MARK = {"active": "*", "hold": "!"}
EMPTY_ADDRESS = "MAILER-DAEMON"  # Postfix's empty_address_recipient, shown for the null sender
# Postfix's qmgr requests: F flush the dead-destination cache, A ignore deferred time
# stamps, D scan deferred/, I scan incoming/ (mail_flush_deferred, flush_send_file).
FLUSH_ALL = b"FADI"
FLUSH_SOME = b"IF"
HEADINGS = ("----Queue ID-----", "--Size--", "---Arrival Time----", "--Sender/Recipient------")
_ATEXT = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~")


# --- what a listing shows -----------------------------------------------------------------


def quote_local(address: str) -> str:
    """RFC 5321 form: a local part that is not a dot-atom is quoted (quote_822_local)."""
    local, at, domain = address.rpartition("@")
    if not at:
        local, domain = address, ""
    atoms = local.split(".")
    # UTF-8 counts as atext (RFC 6531), so an SMTPUTF8 address shows unquoted.
    if local and all(atom and all(c in _ATEXT or ord(c) > 127 for c in atom) for atom in atoms):
        return address
    if not local and at:
        return address  # "@domain": nothing to quote
    quoted = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return quoted + (at + domain if at else "")


def printable(text: str) -> str:
    """Non-printable characters and undecodable bytes become '?', as Postfix's printable()."""
    return "".join(c if c.isprintable() and not 0xD800 <= ord(c) <= 0xDFFF else "?" for c in text)


def show_address(address: str) -> str:
    return printable(quote_local(address or EMPTY_ADDRESS))


def recipients_with_reasons(info, log_entries):
    """(address, reason) pairs in showq's order."""
    # Postfix 3.7 lists the defer log's entries first, in log order, then the recipients
    # still to deliver that the log does not name, with no reason.
    out, seen = [], set()
    for record in log_entries:
        address = show_address(record.status.recipient.address)
        seen.add(address)
        out.append((address, printable(record.status.text)))
    for rcpt in info.recipients:
        address = show_address(rcpt.address)
        if address not in seen:
            out.append((address, ""))
    return out


def messages(store, tool):
    """Yield (queue, QueueFileInfo, [(address, reason)]) for every readable message."""
    for queue in SHOWQ_ORDER:
        for qid in store.scan(queue):
            try:
                info = store.read_info(queue, qid)
            except FileNotFoundError:
                continue  # delivered or moved on while we looked
            except QueueFileCorrupt as e:
                tool.warn(f"{queue}/{qid}: {e}")
                continue
            except OSError as e:
                raise Fatal(f"open {queue} {qid}: {e.strerror}") from None
            entries, _ = delivery_log.read(store.path("defer", qid))
            yield queue, info, recipients_with_reasons(info, entries)


def format_text(store, tool, out) -> None:
    """The Sendmail-style listing of postqueue -p."""
    count = total = 0
    for queue, info, rcpts in messages(store, tool):
        out.write("\n" if count else "%-17s %8s %-19s %s\n" % HEADINGS)
        count += 1
        total += info.content_size
        ident = str(info.queue_id) + STATUS_MARK.get(queue, "")
        arrival = time.asctime(time.localtime(info.arrival))[:19]
        out.write("%-17s %8d %19.19s %s\n" % (ident, info.content_size, arrival,
                                              show_address(info.sender)))
        shown = ""
        for address, reason in rcpts:
            if reason != shown:
                shown = reason
                text = reason or "reason unavailable"
                out.write(" " * max(76 - len(text), 0) + f"({text})\n")
            out.write("%-17s %8s %-19s %s\n" % ("", "", "", address))
        out.flush()
    if count:
        out.write(f"\n-- {total // 1024} Kbytes in {count} Request{'' if count == 1 else 's'}.\n")
    else:
        out.write("Mail queue is empty\n")
    out.flush()


def json_string(text: str) -> str:
    """A JSON string as Postfix's json_quote writes it (then made printable)."""
    names = {"\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}
    out = []
    for c in text:
        if c in names:
            out.append("\\" + names[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04X}")
        elif c in '\\"':
            out.append("\\" + c)
        else:
            out.append(c)
    return '"' + printable("".join(out)) + '"'


def format_json(store, tool, out) -> None:
    """postqueue -j: one JSON object per message, one per line, as postqueue(1) documents."""
    for queue, info, rcpts in messages(store, tool):
        items = []
        for address, reason in rcpts:
            item = '{"address": ' + json_string(address)
            if reason:
                item += ', "delay_reason": ' + json_string(reason)
            items.append(item + "}")
        # pfx has no forced expiration (postsuper -e/-f) yet: forced_expire is always false.
        out.write(
            '{"queue_name": %s, "queue_id": %s, "arrival_time": %d, "message_size": %d, '
            '"forced_expire": false, "sender": %s, "recipients": [%s]}\n'
            % (json_string(queue), json_string(str(info.queue_id)), int(info.arrival),
               info.content_size, json_string(show_address(info.sender)), ", ".join(items)))
        out.flush()


# --- flushing -----------------------------------------------------------------------------


def wake_qmgr(store, request: bytes) -> None:
    if not send_trigger(store.root, "qmgr", request):
        raise Fatal("Cannot flush mail queue - mail system is down", EX_UNAVAILABLE)


def flush_deferred(store, tool, qids) -> int:
    """Move these deferred messages to incoming/ (due now); -> how many moved."""
    moved = 0
    for qid in qids:
        try:
            store.move(qid, "deferred", "incoming", mtime=time.time())
        except (FileNotFoundError, FileExistsError):
            continue  # not deferred, or qmgr took it first
        tool.info(f"{qid}: moved to incoming")
        moved += 1
    return moved


def for_site(store, site):
    """The deferred messages that still have a recipient at this site."""
    for qid in store.scan("deferred"):
        try:
            info = store.read_info("deferred", qid)
        except (FileNotFoundError, QueueFileCorrupt):
            continue
        if any(r.address.rpartition("@")[2].lower() == site for r in info.recipients):
            yield qid


def main(argv=None) -> int:
    tool = Tool("postqueue")
    return tool.run(lambda args: _main(tool, args), sys.argv[1:] if argv is None else argv)


def _main(tool, argv) -> int:
    try:
        opts, args = getopt.getopt(argv, "c:fi:jps:v")
    except getopt.GetoptError as e:
        tool.say(f"invalid option -- '{e.opt}'")
        raise Fatal(USAGE, EX_UNAVAILABLE) from None
    directory, modes = None, []
    for opt, value in opts:
        if opt == "-c":
            directory = value
        elif opt == "-v":
            tool.verbose += 1
        else:
            modes.append((opt, value))
    if len(modes) != 1 or args:
        raise Fatal(USAGE, EX_UNAVAILABLE)
    mode, value = modes[0]
    if mode == "-i":
        try:
            qid = QueueId(value)
        except ValueError:
            raise Fatal(f'Cannot flush queue ID - invalid name: "{value}"', EX_UNAVAILABLE) from None
    if mode == "-s":
        site = value.strip("[]").lower()
        if not site or not all(c.isalnum() or c in "-._:" for c in site):
            raise Fatal(f'Cannot flush mail queue - invalid destination: "{value}"', EX_UNAVAILABLE)
    store = open_store(config_dir(directory))
    if mode == "-p":
        format_text(store, tool, sys.stdout)
    elif mode == "-j":
        format_json(store, tool, sys.stdout)
    elif mode == "-f":
        wake_qmgr(store, FLUSH_ALL)
        send_trigger(store.root, "pickup", b"W")  # as mail_flush_maildrop; pickup may be absent
    elif mode == "-i":
        flush_deferred(store, tool, [qid])
        wake_qmgr(store, FLUSH_SOME)
    else:
        flush_deferred(store, tool, list(for_site(store, site)))
        wake_qmgr(store, FLUSH_SOME)
    return 0


if __name__ == "__main__":
    sys.exit(main())
