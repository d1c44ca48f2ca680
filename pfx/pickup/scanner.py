"""pickup's work: scan maildrop/, check each file, hand it to cleanup, then delete it.

One file at a time, one directory pass per wake-up (a trigger or the master.cf wakeup
timer); a wake-up during a pass asks for one more pass. Every file operation runs in
runtime.run_blocking; the content goes to cleanup in CHUNK_SIZE pieces, waiting for
each write's Deferred, so memory stays bounded whatever the file's size. The maildrop
file is removed only after cleanup's commit() fired, so a crash at any point leaves
the message in maildrop/ (at worst it is queued twice, as with Postfix).

Security: maildrop files are written by local users and are untrusted. The reader
enforces the MAILDROP record policy (no client facts, no crossed-off recipients, only
the full_name attribute); symbolic links and files with more than one link are refused;
the uid in the Received: header and the log is the file's owner, never a value from
inside the file. A malformed file is logged and removed (Postfix does the same), or,
if pickup's own user or root owns it (it may be a requeued message), moved to
corrupt/; it never stops pickup. A message cleanup refuses (5xx: too many hops, header_checks
REJECT, ...) is returned to its sender through the bounce service, as Postfix's
cleanup does for pickup (CLEANUP_FLAG_BOUNCE); the notice shows the envelope as
submitted, since cleanup's rewriting of a refused message is not kept. Unlike
Postfix, an oversized message is bounced too (Postfix leaves it in maildrop/).

Requeued mail (postsuper -r, pfx.queue.requeue): only a file that pickup's own user or
root owns may instead follow the REQUEUE policy, which adds the client facts and the
orig_id (required) of the message it came from; Postfix trusts $mail_owner's files the
same way (whoever can write as that user can write the queue anyway). Such a message
keeps its client facts (cleanup rewrites it in the context it was received in) and
arrival time, gets a fresh queue lifetime (cleanup's create_time), is logged with ``orig_id=OLDID``, and gets the Received: header and
$content_filter like any other.
Reads myhostname and mail_name.
"""

import itertools
import math
import os
import stat
import time

import attrs
from twisted.internet import defer

from pfx.dsn import Dsn
from pfx.envelope import Client, DeliveryRequest, RecipientStatus
from pfx.errors import QueueFileCorrupt, SubmitRejected
from pfx.interfaces import IMailSubmitter, INotifier
from pfx.queue.records import MAILDROP, REQUEUE
from pfx.queue.qfile import QueueFileReader

BATCH = 100  # directory entries read per thread-pool call
LOCAL_CLIENT = Client(name="localhost", addr="127.0.0.1", protocol="local")


class Malformed(Exception):
    """A maildrop file pickup refuses (the text says why); ``keep``: a file the mail
    system wrote (postsuper -r) goes to corrupt/ instead of being removed."""

    def __init__(self, text, keep=False):
        super().__init__(text)
        self.keep = keep


def mail_date(when: float) -> str:
    """RFC 5322 local time as Postfix writes it: ``Wed, 25 Nov 2026 09:35:53 +0000 (UTC)``."""
    t = time.localtime(when)
    sign = "-" if t.tm_gmtoff < 0 else "+"
    hh, mm = divmod(abs(t.tm_gmtoff) // 60, 60)
    return time.strftime("%a, %e %b %Y %H:%M:%S ", t) + f"{sign}{hh:02d}{mm:02d} ({t.tm_zone})"


def trusted_owner(uid: int) -> bool:
    """A file the mail system wrote itself (postsuper -r): owned by pickup's own user,
    or by root. Postfix's MAIL_IS_REQUEUED asks for $mail_owner."""
    return uid in (os.geteuid(), 0)


def open_maildrop_file(path):
    """(reader, lstat) for one maildrop file, or Malformed. Runs in a thread."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        raise Malformed("not a regular file")
    if st.st_nlink != 1:  # a hard link to someone else's file is not a submission
        raise Malformed(f"file has {st.st_nlink} links")
    try:
        reader = QueueFileReader(path, policy=MAILDROP)
    except QueueFileCorrupt as exc:
        trusted = trusted_owner(st.st_uid)
        reader = _requeued(path) if trusted else None
        if reader is None:
            raise Malformed(str(exc), keep=trusted) from None
    return reader, st


def _requeued(path):
    """A reader for a file postsuper -r wrote (REQUEUE policy, names its orig_id), or None."""
    try:
        reader = QueueFileReader(path, policy=REQUEUE)
    except QueueFileCorrupt:
        return None
    if "orig_id" not in dict(reader.info.attributes):
        reader.close()
        return None
    return reader


class Pickup:
    """Moves maildrop files into cleanup; ``wake()`` is the trigger."""

    def __init__(self, store, context_require, runtime, log, *, myhostname, mail_name,
                 content_filter=""):
        self.store = store
        self.require = context_require  # IServiceContext.require
        self.runtime = runtime
        self.log = log
        self.myhostname = myhostname
        self.mail_name = mail_name
        self.content_filter = content_filter  # $content_filter, handed to cleanup
        self.running = None  # the Deferred of the pass in progress
        self._again = False
        self._stopping = False

    def start(self):
        """Accept wake-ups again (after stop())."""
        self._stopping = False

    def wake(self):
        """Start a pass, or ask the running one for another; -> the running pass."""
        if self._stopping:
            return defer.succeed(None)
        if self.running is not None:
            self._again = True
            return self.running
        d = self.running = defer.Deferred()
        self._passes().addErrback(self._crashed).addBoth(self._idle).chainDeferred(d)
        return d

    def stop(self):
        """No new passes; the Deferred fires after the file in progress is done."""
        self._stopping = True
        if self.running is None:
            return defer.succeed(None)
        done = defer.Deferred()
        self.running.addBoth(lambda r: done.callback(None) or r)
        return done

    def _idle(self, result):
        self.running = None
        return result

    def _crashed(self, failure):
        self.log.error(f"scan of maildrop failed: {failure.type.__name__}: "
                       f"{failure.getErrorMessage()}")

    @defer.inlineCallbacks
    def _passes(self):
        self._again = True
        while self._again and not self._stopping:
            self._again = False
            yield self._one_pass()

    @defer.inlineCallbacks
    def _one_pass(self):
        try:
            submitter = self.require(IMailSubmitter)
        except LookupError:
            self.log.warning("no cleanup service is running: maildrop files wait")
            return
        run = self.runtime.run_blocking
        entries = self.store.scan_paths("maildrop")
        while not self._stopping:
            batch = yield run(lambda: list(itertools.islice(entries, BATCH)))
            if not batch:
                return
            for qid, path in batch:
                if self._stopping:
                    return
                yield self._one_file(submitter, qid, path)

    @defer.inlineCallbacks
    def _one_file(self, submitter, qid, path):
        run = self.runtime.run_blocking
        where = f"maildrop/{qid}"
        try:
            reader, st = yield run(open_maildrop_file, path)
        except Malformed as exc:
            yield self._remove_malformed(where, path, None, exc, qid)
            return
        except FileNotFoundError:
            return  # taken away meanwhile (postsuper -d)
        except OSError as exc:
            self.log.warning(f"{where}: cannot open: {exc.strerror}; left in place")
            return
        try:
            outcome = yield self._submit(submitter, reader, st)
        except Malformed as exc:
            outcome = None
            exc.keep = exc.keep or "orig_id" in dict(reader.info.attributes)
            yield self._remove_malformed(where, path, st.st_uid, exc, qid)
        finally:
            yield run(reader.close)
        if outcome == "queued" or outcome == "rejected":
            yield run(_unlink_quiet, path)

    @defer.inlineCallbacks
    def _submit(self, submitter, reader, st):
        """-> "queued", "rejected" (5xx: removed) or "later" (4xx: left for the next pass)."""
        run = self.runtime.run_blocking
        info = reader.info
        attributes = dict(info.attributes)
        full_name = attributes.get("full_name", "")
        orig_id = attributes.get("orig_id")  # only in a trusted file: postsuper -r
        # A requeued message keeps its client facts, so that cleanup rewrites it in the
        # context it was received in (postsuper(1)); a submission is local.
        envelope = info.envelope if orig_id else attrs.evolve(info.envelope, client=LOCAL_CLIENT)
        extra = {"content_filter": self.content_filter} if self.content_filter else {}
        if orig_id:
            extra["requeued"] = True  # the queue lifetime starts again, as in Postfix
        writer = submitter.open_message(envelope, full_name=full_name, **extra)
        self.log.info(f"{writer.queue_id}: uid={st.st_uid} from=<{info.sender}>"
                      + (f" orig_id={orig_id}" if orig_id else ""))
        # Postfix's pickup prepends this; the uid says who without naming the login.
        writer.write((f"Received: by {self.myhostname} ({self.mail_name}, from userid "
                      f"{st.st_uid})\n\tid {writer.queue_id}; {mail_date(st.st_mtime)}\n").encode())
        chunks = reader.iter_content()
        try:
            while True:
                chunk = yield run(next, chunks, None)
                if chunk is None:
                    break
                yield writer.write(chunk)
        except QueueFileCorrupt as exc:
            yield writer.abort()
            raise Malformed(str(exc)) from None
        except BaseException:
            yield writer.abort()
            raise
        try:
            yield writer.commit()
        except SubmitRejected as exc:
            if exc.reply.code >= 500:
                returned = yield self._return_to_sender(writer.queue_id, reader, st, exc.reply)
                if returned is not False:
                    return "rejected"
            self.log.warning(f"{writer.queue_id}: uid={st.st_uid}: {exc.reply}; "
                             "left in maildrop for the next pass")
            return "later"
        return "queued"

    @defer.inlineCallbacks
    def _return_to_sender(self, queue_id, reader, st, reply):
        """Postfix's cleanup bounces what it refuses from pickup (CLEANUP_FLAG_BOUNCE):
        each recipient goes to the bounce log with cleanup's reason, then the sender
        gets a non-delivery notice with the message. -> True (returned), None (no
        bounce service: removed, as before one existed) or False (keep the file)."""
        info = reader.info
        try:
            notifier = self.require(INotifier)
        except LookupError:
            self.log.warning(f"{queue_id}: uid={st.st_uid} from=<{info.sender}>: "
                             f"rejected: {reply}; message removed")
            return None
        # smtpd says "Error: too many hops"; the bounce and the log say "too many hops"
        text = reply.text[7:] if reply.text.startswith("Error: ") else reply.text
        dsn = Dsn("5" + str(reply.dsn)[1:]) if reply.dsn is not None else Dsn("5.0.0")
        env = info.envelope
        request = DeliveryRequest(
            queue_id=queue_id, queue_name="maildrop", sender=info.sender,
            recipients=info.recipients, transport="none", nexthop="",
            size=info.sizes.content_size, arrival=env.arrival or st.st_mtime,
            envid=env.envid, ret=env.ret, body_type=env.body_type, smtputf8=env.smtputf8,
            open_content=reader.open_content)
        try:
            for rcpt in info.recipients:
                yield notifier.append("bounce", queue_id,
                                      RecipientStatus(rcpt, "bounced", dsn, text))
                delay = _delay(self.runtime.clock.seconds() - st.st_mtime)
                self.log.info(f"{queue_id}: to=<{rcpt.address}>, relay=none, delay={delay}, "
                              f"delays={delay}/0/0/0, dsn={dsn}, status=bounced ({text})")
            yield notifier.flush("bounce", queue_id, request)
        except Exception as exc:
            self.log.warning(f"{queue_id}: bounce notice not sent: {exc}")
            return False
        return True

    @defer.inlineCallbacks
    def _remove_malformed(self, where, path, uid, exc, qid):
        who = "" if uid is None else f" uid={uid}:"
        if exc.keep:  # perhaps a requeued message: never lose it
            self.log.warning(f"{where}:{who} malformed file: {exc}")
            try:
                yield self.runtime.run_blocking(self.store.quarantine, "maildrop", qid)
                return
            except OSError as err:
                self.log.warning(f"{where}: cannot move to corrupt/: {err}; left in place")
                return
        else:
            self.log.warning(f"{where}:{who} malformed file removed: {exc}")
        yield self.runtime.run_blocking(_unlink_quiet, path)


def _delay(seconds: float) -> str:
    """A delay as Postfix's log_adhoc writes it (two significant digits, at most two
    decimals, whole seconds from 100 s; qmgr's logline.format_delay is the full one)."""
    if seconds >= 100:
        return str(int(seconds + 0.5))
    if seconds < 0.005:
        return "0"
    decimals = max(0, min(2, 1 - math.floor(math.log10(seconds))))
    return f"{seconds:.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{seconds:.0f}"


def _unlink_quiet(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
