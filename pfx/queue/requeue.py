"""postsuper -r's file work: copy a queue file into maildrop/ for pickup and cleanup (blocking).

Postfix's postsuper renames the queue file into maildrop/; its pickup recognises a file
owned by $mail_owner as requeued, skips the crossed-off recipients and the old
content_filter and redirect records, and cleanup writes a new queue file (new queue ID)
after rewriting and virtual alias expansion again. pfx's maildrop files have their own,
stricter policy (records.MAILDROP; records.REQUEUE for these), so here the queue file is
converted instead of renamed:

- kept: sender, arrival time, the recipients still to deliver with their original
  recipient (orig_to), DSN ORCPT and NOTIFY, DSN ENVID and RET, body type, SMTPUTF8,
  the client facts (so cleanup rewrites in the same local/remote context, as postsuper(1)
  says), and the content unchanged;
- dropped: recipients already crossed off (never delivered twice), content_filter and
  redirect (pickup's $content_filter applies, as for a new local submission), sendmail -t
  (its recipients were extracted the first time);
- added: ``orig_id``, the old queue ID, which pickup logs as Postfix's does. pickup
  then has cleanup record ``create_time``: the queue lifetime and the backoff start
  again, as with Postfix's REC_TYPE_CTIME, while delays and notices keep the arrival.

The old defer log goes with the original. A message whose bounce or trace log still
exists (a notice qmgr has yet to send) is left alone with a warning: the new queue ID
would orphan that log and the notice would never go. That is a deliberate difference
from Postfix, for a state that only a crash or a running delivery pass leaves behind.

Crash safety: the maildrop file is written under a temporary name, fsync'd, linked to
its name and the directory fsync'd (QueueFileWriter.commit) before the original is
unlinked and its directory fsync'd. A crash before the commit leaves the original and a
temporary file (postsuper -p); a crash between commit and unlink leaves both, and the
message is delivered twice. A duplicate, never a loss. While qmgr delivers the message
(active/), the copy may name recipients that qmgr crosses off after it was read: those
get a second delivery too, as with Postfix's rename.
"""

import os

import attrs

from pfx.envelope import Envelope
from pfx.errors import QueueFileCorrupt
from pfx.queue.qfile import fsync_dir, is_ready
from pfx.queue.records import REQUEUE

# The logs of notices still to be sent: qmgr removes them once the notice is out, so one
# that exists means recipients were crossed off but their bounce (or DSN SUCCESS) notice
# has not gone yet (a crash, or qmgr is at it now). Requeueing would lose that notice.
PENDING_NOTICE_LOGS = ("bounce", "trace")


class NotRequeued(Exception):
    """The message stays where it is; the text says why (for a warning)."""


def requeue_envelope(info) -> Envelope:
    """The envelope of the maildrop file: what the reader says is still to deliver."""
    env = info.envelope
    return Envelope(env.sender, tuple(attrs.evolve(r, offset=None) for r in env.recipients),
                    client=env.client, envid=env.envid, ret=env.ret, body_type=env.body_type,
                    smtputf8=env.smtputf8, arrival=env.arrival)


def requeue_attributes(info) -> list:
    """Only orig_id: content_filter and redirect are dropped (Postfix's pickup discards
    REC_TYPE_FILT and REC_TYPE_RDR after postsuper -r); client facts go in the envelope."""
    return [("orig_id", str(info.queue_id))]


def copy_to_maildrop(store, reader, owner=None):
    """Write the maildrop file for an open reader; -> its QueueId (committed, fsync'd).

    owner: (uid, gid) to give the file (the original's, when we run as root), so that
    pickup, running as the queue's user, trusts it. QueueFileCorrupt if the content
    turns out bad (nothing is left in maildrop/).
    """
    info = reader.info
    writer = store.new_file(requeue_envelope(info), "maildrop", policy=REQUEUE,
                            attributes=requeue_attributes(info))
    try:
        if owner is not None and os.geteuid() == 0:
            os.chown(writer.temp_path, *owner)
        done = 0
        for chunk in reader.iter_content():
            if done <= info.sizes.body_offset < done + len(chunk):
                cut = info.sizes.body_offset - done
                writer.write(chunk[:cut])
                writer.start_body()
                writer.write(chunk[cut:])
            else:
                writer.write(chunk)
            done += len(chunk)
        if info.sizes.body_offset == done:
            writer.start_body()
        return writer.commit()
    finally:
        if not writer.committed:
            writer.abort()


def requeue(store, queue, qid):
    """Move one message from ``queue`` into maildrop/; -> the new maildrop QueueId, None
    if the message is not there (or not complete yet: incoming/ without the ready bit),
    or NotRequeued (nothing changed; a corrupt file has been moved to corrupt/)."""
    path = store.path(queue, qid)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if queue == "incoming" and not is_ready(st.st_mode):
        return None  # cleanup is still writing it
    for log in PENDING_NOTICE_LOGS:
        if os.path.lexists(store.path(log, qid)):
            raise NotRequeued(f"{qid}: a delivery status notice is still to be sent; left in "
                              f"queue {queue} (qmgr sends it at the next delivery attempt)")
    try:
        reader = store.open(queue, qid)
    except FileNotFoundError:
        return None
    except QueueFileCorrupt as exc:
        raise NotRequeued(_quarantine(store, queue, qid, exc)) from None
    except OSError as exc:
        raise NotRequeued(f"{qid}: cannot open: {exc.strerror or exc}") from None
    with reader:
        if not reader.info.recipients:
            raise NotRequeued(f"{qid}: no recipients left to deliver; left in queue {queue}")
        try:
            new = copy_to_maildrop(store, reader, (st.st_uid, st.st_gid))
        except QueueFileCorrupt as exc:
            raise NotRequeued(_quarantine(store, queue, qid, exc)) from None
        except OSError as exc:
            raise NotRequeued(f"{qid}: cannot write maildrop/: {exc.strerror or exc}; "
                              f"left in queue {queue}") from None
    if not _remove_original(store, queue, qid):
        # Gone meanwhile: qmgr finished it or postsuper -d removed it. Its recipients were
        # dealt with, so the copy would only deliver them twice.
        _unlink(store.path("maildrop", new))
        return None
    _unlink(store.path("defer", qid))  # the old queue ID's attempts
    return new


def _remove_original(store, queue, qid) -> bool:
    """Unlink the original, wherever qmgr has moved it meanwhile; False if it is gone."""
    for where in (queue, "active", "deferred", "incoming", "hold"):
        path = store.path(where, qid)
        if _unlink(path):
            fsync_dir(os.path.dirname(path))
            return True
    return False


def _unlink(path) -> bool:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    return True


def _quarantine(store, queue, qid, why) -> str:
    """Move a corrupt file to corrupt/ as qmgr does; -> the text for the warning."""
    text = f"{qid}: corrupt queue file in {queue}: {why}"
    try:
        store.quarantine(queue, qid)
    except OSError as exc:
        return f"{text}; left in place ({exc.strerror or exc})"
    return f"{text}; moved to queue corrupt"
