"""cleanup's IMailSubmitter: one new queue file per message, streamed through the header pass.

open_message() canonicalizes and de-duplicates the envelope and creates the file in
incoming/; write() buffers content into CHUNK_SIZE pieces, and each piece goes through
the header pass and into the file in runtime.run_blocking, one step at a time, so the
reactor thread never writes or fsyncs. commit() finishes the header pass, checks the
verdicts (message_size_limit, hopcount_limit, queue_minfree, a write error) and fires
with the queue ID only after QueueFileWriter.commit() has fsync'd the file and its
directory; otherwise it fails with SubmitRejected(reply) and nothing stays on disk.

Memory per message is about two chunks plus one header (header_size_limit) when the
caller waits for the Deferred that write() returns; a caller that ignores it still
gets a correct file, with the not-yet-written data held in memory meanwhile.

Open question: the queue ID is the new file's creation time and inode number, and
callers need it at once (smtpd's Received: header, the log), so open_message() does
the one open(O_CREAT|O_EXCL) + fstat in the caller's thread. Nothing else, no write
and no fsync, happens there. The alternative, an ``opened`` Deferred, would make every
submitter wait a round trip to the thread pool before its first byte.

Address mappings (virtual aliases, canonical maps, masquerading, bcc maps: mapping.py)
are applied to the envelope in open_message(); a map that fails soft refuses the
message. Content checks (checks.py), and the envelope's ``actions`` (smtpd's access(5)
HOLD, DISCARD, REDIRECT, FILTER, BCC) recorded the same way, decide at commit(): REJECT fails it with the
check's reply, DISCARD fires with the queue ID and keeps nothing, HOLD commits the file
and renames it into hold/, BCC/FILTER/REDIRECT go into the extracted segment.

Security: envelope and content are untrusted (SMTP clients, local users through
pickup). Content is parsed for header names, address lists in address headers and MIME
structure only (headers.py, mime.py), with bounded memory. Reads the parameters in
params.py plus myhostname, myorigin, mydomain, mydestination, inet_interfaces,
mynetworks, recipient_delimiter and message_size_limit; writes only new files in
$queue_directory/incoming and renames held ones into $queue_directory/hold.
"""

import errno
import os

import attrs

from twisted.internet import defer
from zope.interface import implementer

from pfx.cleanup.addresses import DuplicateFilter, add_bcc, rewrite_envelope
from pfx.cleanup.checks import ContentChecks
from pfx.cleanup.header_rewrite import header_rewriter
from pfx.cleanup.headers import HeaderPass, HeaderPolicy
from pfx.cleanup.mapping import MappingError, expand_virtual
from pfx.dsn import Dsn, Reply
from pfx.errors import SubmitRejected
from pfx.interfaces import IMailSubmitter, IMessageWriter
from pfx.queue.records import CHUNK_SIZE

TOO_BIG = Reply(552, Dsn("5.3.4"), "Message size exceeds fixed limit")
NO_SPACE = Reply(452, Dsn("4.3.1"), "Insufficient system storage")
WRITE_ERROR = Reply(451, Dsn("4.3.0"), "Error: queue file write error")
NO_RECIPIENTS = Reply(550, Dsn("5.1.0"), "No recipients specified")
ABORTED = Reply(451, Dsn("4.3.0"), "Error: message aborted by the submitter")
_FULL = {errno.ENOSPC, errno.EDQUOT}


class _Refused(Exception):
    """Raised in the worker thread to refuse the message with ``reply``."""

    def __init__(self, reply):
        super().__init__(str(reply))
        self.reply = reply


def reply_for_os_error(err: OSError) -> Reply:
    return NO_SPACE if err.errno in _FULL else WRITE_ERROR


@implementer(IMailSubmitter)
class Submitter:
    """The component cleanup provides; smtpd, pickup, bounce and local use it."""

    def __init__(self, config, store, runtime, log, kick=None):
        self.config = config
        self.store = store
        self.runtime = runtime
        self.log = log
        self.kick = kick  # called after each commit (qmgr's "I" trigger), or None

    def open_message(self, envelope, *, full_name: str = "", content_filter: str = "",
                     requeued: bool = False):
        """Envelope -> a MessageWriter. ``full_name`` (sendmail -F) is used only for a
        From: header cleanup adds. ``content_filter`` (the submitter's
        $content_filter, ``transport:destination``) is recorded for qmgr as the
        envelope attribute ``content_filter``; a FILTER action overrides it.
        ``requeued`` (pickup, for postsuper -r) records the time now as the attribute
        ``create_time``: the queue lifetime starts again, while the arrival time, for
        delays and notices, stays (Postfix's REC_TYPE_CTIME). Missing Date:, Message-Id: and From: are added for a
        local submission: client protocol ``local`` (pickup) or a client that
        local_header_rewrite_clients permits (always_add_missing_headers: for all)."""
        cfg = self.config
        try:
            envelope = rewrite_envelope(envelope, cfg.canon,
                                        keep_original=cfg.enable_original_recipient,
                                        duplicate_limit=cfg.duplicate_filter_limit,
                                        mappings=cfg.mappings, warn=self.log.warning)
        except MappingError as exc:  # the queue ID comes with the file, after this
            self.log.warning(exc.warning)
            return RefusedWriter(exc.reply)
        try:
            attributes = (("content_filter", content_filter),) if content_filter else ()
            if requeued:
                attributes += (("create_time", repr(self.runtime.clock.seconds())),)
            qfile = self.store.new_file(envelope, "incoming", attributes=attributes)
        except OSError as exc:
            self.log.warning(f"NOQUEUE: create file in incoming: {exc.strerror}")
            return RefusedWriter(reply_for_os_error(exc))
        except ValueError as exc:  # the envelope cannot be encoded (e.g. an absurd address)
            self.log.warning(f"NOQUEUE: {exc}")
            return RefusedWriter(WRITE_ERROR)
        local = cfg.local_clients.is_local(envelope.client)
        policy = HeaderPolicy(
            myhostname=cfg.myhostname, add_missing=local or cfg.always_add_missing_headers,
            drop=cfg.drop_headers, header_size_limit=cfg.header_size_limit,
            hopcount_limit=cfg.hopcount_limit, from_address=envelope.sender,
            full_name=full_name, rewrite=self._header_rewriter(local, str(qfile.queue_id)),
            mime_nesting_limit=cfg.mime_nesting_limit)
        checks = ContentChecks(
            header_checks=cfg.header_checks, mime_header_checks=cfg.mime_header_checks,
            nested_header_checks=cfg.nested_header_checks, body_checks=cfg.body_checks,
            body_size_limit=cfg.body_checks_size_limit, time_limit=cfg.content_time_limit,
            log=self.log, queue_id=str(qfile.queue_id), context=log_context(envelope))
        checks.apply_submitter_actions(envelope.actions)
        headers = HeaderPass(policy, str(qfile.queue_id), self.runtime.clock.seconds(), checks)
        return MessageWriter(self, qfile, headers, envelope, checks)

    def _header_rewriter(self, local, queue_id):
        """How header addresses are rewritten: the "local" context for local submitters,
        "remote" (remote_header_rewrite_domain) for others, or not at all."""
        cfg = self.config
        return header_rewriter(cfg.canon if local else cfg.remote_canon, cfg.mappings,
                               cfg.header_address_token_limit, queue_id, self.log.warning)


@implementer(IMessageWriter)
class RefusedWriter:
    """What open_message() returns when no file could be created: commit() fails."""

    queue_id = "NOQUEUE"

    def __init__(self, reply):
        self.reply = reply

    def write(self, data):
        return defer.succeed(None)

    def commit(self, actions=()):
        return defer.fail(SubmitRejected(self.reply))

    def abort(self):
        return defer.succeed(None)


@implementer(IMessageWriter)
class MessageWriter:
    """One message on its way into incoming/; see the module docstring."""

    def __init__(self, submitter, qfile, headers, envelope, checks=None):
        self.queue_id = str(qfile.queue_id)
        self._checks = checks
        self._outcome = "queued"  # or "discarded", "held"
        self.envelope = envelope
        self._sub = submitter
        self._cfg = submitter.config
        self._qfile = qfile
        self._headers = headers
        self._buf = bytearray()
        self._received = 0
        self._emitted = 0  # bytes handed to the file, to find where the body starts
        self._body_marked = False
        self._space_checked = False
        self.verdict = None  # a Reply once the message is refused
        self._open = True
        self._tail = defer.succeed(None)  # the blocking steps, strictly in order

    # -- the caller's side (reactor thread) ----------------------------------------

    def write(self, data: bytes):
        """Append content; the Deferred fires when it is handed to the disk."""
        if not self._open:
            raise ValueError(f"{self.queue_id}: write after commit or abort")
        if self.verdict is not None:
            return defer.succeed(None)
        self._received += len(data)
        limit = self._cfg.message_size_limit
        if limit and self._received > limit:
            self._refuse(TOO_BIG)
            return defer.succeed(None)
        self._buf += data
        if len(self._buf) < CHUNK_SIZE:
            return defer.succeed(None)
        chunk = bytes(self._buf)
        self._buf.clear()
        return self._step(self._write_chunk, chunk)

    def commit(self, actions=()):
        """-> Deferred[queue ID str], fired after fsync; or SubmitRejected(reply).
        ``actions``: late HOLD, DISCARD, ... as in the Envelope's (see IMessageWriter)."""
        if not self._open:
            raise ValueError(f"{self.queue_id}: commit after commit or abort")
        self._open = False
        if actions and self._checks is not None:
            self._checks.apply_submitter_actions(actions)
        rest = bytes(self._buf)
        self._buf.clear()
        done = defer.Deferred()
        self._step(self._finish, rest)
        self._tail.addCallback(self._committed, done)
        return done

    def abort(self):
        """Discard the message; the Deferred fires when the file is gone."""
        if not self._open:
            return defer.succeed(None)
        self._open = False
        self._buf.clear()
        if self.verdict is None:
            self.verdict = ABORTED
            return self._step(self._qfile.abort, always=True)
        return self._step(lambda: None, always=True)

    def _step(self, f, *args, always=False):
        """Queue f(*args) for the thread pool after the previous step; the returned
        Deferred fires (never fails) when it is done. After a verdict, only
        ``always`` steps (the clean-up) still run."""
        run_blocking = self._sub.runtime.run_blocking

        def run(_):
            if self.verdict is not None and not always:
                return None
            return run_blocking(f, *args).addErrback(self._failed)
        self._tail.addCallback(run)
        waiter = defer.Deferred()
        self._tail.addCallback(_pass_through, waiter)
        return waiter

    def _refuse(self, reply):
        if self.verdict is None:
            self.verdict = reply
            self._buf.clear()
            self._step(self._qfile.abort, always=True)

    def _failed(self, failure):
        if failure.check(_Refused):
            self._refuse(failure.value.reply)
        elif failure.check(OSError):
            self._sub.log.warning(f"{self.queue_id}: queue file write error: "
                                  f"{failure.value.strerror or failure.value}")
            self._refuse(reply_for_os_error(failure.value))
        else:
            self._sub.log.error(f"{self.queue_id}: unexpected {failure.type.__name__}: "
                                f"{failure.getErrorMessage()}")
            self._refuse(WRITE_ERROR)

    def _committed(self, _, done):
        if self._headers.in_body:  # Postfix logs it once the headers are through
            self._sub.log.info(f"{self.queue_id}: message-id={self._headers.message_id or '<>'}")
        if self.verdict is not None:
            # A failed step may have queued its clean-up behind us: remove the
            # file first, so that a refused message has left nothing when we say so.
            d = self._sub.runtime.run_blocking(self._qfile.abort)
            d.addBoth(lambda _: done.errback(SubmitRejected(self.verdict)))
            return d
        if self._sub.kick is not None and self._outcome == "queued":
            self._sub.kick()
        done.callback(self.queue_id)

    # -- the worker's side (in run_blocking, one step at a time) ------------------------

    def _check_space(self):
        minfree = self._cfg.queue_minfree
        if minfree and not self._space_checked:
            st = os.statvfs(self._qfile.directory)
            if st.f_bavail * st.f_frsize < minfree:
                raise _Refused(NO_SPACE)
        self._space_checked = True

    def _write_chunk(self, data):
        self._check_space()
        try:
            self._emit(self._headers.feed(data))
        except MappingError as exc:  # a header address's map failed soft
            self._sub.log.warning(exc.warning)
            raise _Refused(exc.reply) from None

    def _emit(self, out: bytes):
        if not self._body_marked and self._headers.in_body:
            # The header pass knows where the headers end; a blank-line guess would
            # be wrong for a header block ended by a non-header line.
            cut = self._headers.header_bytes - self._emitted
            self._qfile.write(out[:cut])
            self._qfile.start_body()
            self._qfile.write(out[cut:])
            self._body_marked = True
        elif out:
            self._qfile.write(out)
        self._emitted += len(out)

    def _finish(self, rest):
        try:
            self._check_space()
            if not self.envelope.recipients:
                raise _Refused(NO_RECIPIENTS)
            try:
                self._emit(self._headers.feed(rest) + self._headers.finish())
            except MappingError as exc:
                self._sub.log.warning(exc.warning)
                raise _Refused(exc.reply) from None
            if self._headers.verdict is not None:
                raise _Refused(self._headers.verdict)
            checks = self._checks
            if checks is not None and checks.reject is not None:
                raise _Refused(checks.reject)
            if checks is not None and checks.discard:
                self._qfile.abort()  # DISCARD: claim success, keep nothing
                self._outcome = "discarded"
                return
            try:
                extracted, attributes = self._check_results()
            except MappingError as exc:
                self._sub.log.warning(exc.warning)
                raise _Refused(exc.reply) from None
            qid = self._qfile.commit(extracted, attributes)
            if checks is not None and checks.hold:
                # cleanup puts held mail straight into hold/, as Postfix's cleanup does;
                # qmgr never sees it until postsuper -H.
                self._sub.store.move(qid, "incoming", "hold", sync=True)
                self._outcome = "held"
        except BaseException:
            self._qfile.abort()
            raise


    def _check_results(self):
        """BCC recipients (rewritten and expanded like always_bcc) and the FILTER and
        REDIRECT decisions, for the queue file's extracted segment."""
        checks = self._checks
        if checks is None:
            return (), ()
        cfg = self._cfg
        extracted = []
        dups = DuplicateFilter(cfg.duplicate_filter_limit)
        for rcpt in self.envelope.recipients:
            dups.first_time(rcpt)

        def out(rcpt, address):
            for new in expand_virtual(address, cfg.mappings, self.queue_id):
                new_rcpt = rcpt if new == rcpt.address else _expanded(rcpt, new)
                if dups.first_time(new_rcpt):
                    extracted.append(new_rcpt)
        for bcc in checks.bcc:
            add_bcc(bcc, cfg.canon, cfg.mappings, self.queue_id, out, self._sub.log.warning)
        attributes = []
        if checks.filter:
            attributes.append(("content_filter", checks.filter))
        if checks.redirect:
            attributes.append(("redirect", checks.redirect))
        return tuple(extracted), tuple(attributes)


def log_context(envelope) -> str:
    """The tail of a content-check log line: `` from name[addr]; from=<s> to=<r> ...``."""
    client = envelope.client
    to = envelope.recipients[0].address if envelope.recipients else ""
    if client.protocol == "local":
        return f" from local; from=<{envelope.sender}> to=<{to}>"
    return (f" from {client.name}[{client.addr}]; from=<{envelope.sender}> to=<{to}>"
            f" proto={client.protocol} helo=<{client.helo}>")


def _expanded(rcpt, address):
    return attrs.evolve(rcpt, address=address, orig=rcpt.orig or rcpt.address)


def _pass_through(result, waiter):
    waiter.callback(None)
    return result
