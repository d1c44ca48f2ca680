"""The bounce service: INotifier for qmgr, writing logs and queueing notices via cleanup.

Postfix runs one bounce(8) program under three master.cf names (bounce, defer, trace).
pfx has no sockets between programs, so the row named $bounce_service_name provides
INotifier and serves all three logs; the defer and trace rows are accepted and idle.

flush() kinds: ``bounce`` (bounce log -> non-delivery notice), ``expire`` (defer log ->
non-delivery notice, Action: failed), ``delay`` (defer log -> delay warning; the log is
kept), ``success`` (trace log -> NOTIFY=SUCCESS report). A sender notice honours DSN
NOTIFY per recipient (none given means FAILURE and DELAY). A failed message from the
null sender goes to 2bounce_notice_recipient (when notify_classes has 2bounce or
bounce), from $double_bounce_sender, and mail from the double-bounce sender itself is
never answered, so notices cannot loop. notify_classes ``bounce`` and ``delay`` send
postmaster copies (headers only). The Deferred fires with the sender notice's queue ID
(the 2bounce notice's for the null sender), or None when there was no notice; it fails,
keeping the log, when cleanup refuses the sender notice, and qmgr tries again later.
Postmaster copies are best effort: their failure is logged, never retried.

Security: the logs hold text from remote servers (replies) and from senders
(addresses, ENVID, ORCPT); they are written one value per line, newlines removed, and
read back tolerantly. The original message is copied, never parsed beyond finding the
end of its headers. Writes only $queue_directory/bounce, defer and trace files; new
mail goes through cleanup. Reads the parameters in params.py plus myhostname,
myorigin, queue_directory, smtputf8_enable, delay_warning_time, maximal_queue_lifetime.
"""

import secrets
import time

import attrs
from twisted.application.service import Service
from twisted.internet import defer
from zope.interface import implementer

from pfx.bounce import compose, log as statuslog, template as templates
from pfx.config.params import BadValue, to_time
from pfx.envelope import Client, Envelope, Recipient
from pfx.errors import ConfigError
from pfx.interfaces import IMailSubmitter, INotifier
from pfx.queue.qid import QueueId
from pfx.queue.store import QueueStore

LOGS = ("bounce", "defer", "trace")
FLUSH_LOG = {"bounce": "bounce", "expire": "defer", "delay": "defer", "success": "trace"}


@attrs.frozen
class BounceConfig:
    """The settings one notifier needs, read once when its row is built."""

    myhostname: str
    myorigin: str
    size_limit: int = 50000
    notify_classes: frozenset = frozenset({"resource", "software"})
    bounce_rcpt: str = "postmaster"
    twobounce_rcpt: str = "postmaster"
    delay_rcpt: str = "postmaster"
    double_bounce: str = "double-bounce"
    delay_warning_time: int = 0
    maximal_queue_lifetime: int = 5 * 86400
    smtputf8: bool = True
    templates: dict = attrs.field(factory=lambda: dict(templates.DEFAULTS))
    lookup: object = attrs.field(default=lambda name: None, eq=False)  # raw main.cf values

    @property
    def double_bounce_address(self) -> str:
        return compose.qualify(self.double_bounce, self.myorigin)

    @classmethod
    def from_settings(cls, settings, read_file=None):
        path = settings.get_str("bounce_template_file")
        loaded = dict(templates.DEFAULTS)
        if path:
            try:
                text = (read_file or _read_text)(path)
                loaded = templates.load(text, path)
            except OSError as e:
                raise ConfigError(f"bounce_template_file {path}: {e.strerror}",
                                  param="bounce_template_file") from None
            except templates.TemplateError as e:
                raise ConfigError(str(e), path, e.line, "bounce_template_file") from None
        return cls(
            myhostname=settings.get_str("myhostname"), myorigin=settings.get_str("myorigin"),
            size_limit=settings.get("bounce_size_limit"),
            notify_classes=frozenset(c.lower() for c in settings.get_list("notify_classes")),
            bounce_rcpt=settings.get_str("bounce_notice_recipient"),
            twobounce_rcpt=settings.get_str("2bounce_notice_recipient"),
            delay_rcpt=settings.get_str("delay_notice_recipient"),
            double_bounce=settings.get_str("double_bounce_sender"),
            delay_warning_time=_seconds(settings, "delay_warning_time", "0h", "h"),
            maximal_queue_lifetime=_seconds(settings, "maximal_queue_lifetime", "5d", "d"),
            smtputf8=settings.get("smtputf8_enable") is not False,
            templates=loaded, lookup=settings.raw)


def _read_text(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def _seconds(settings, name, default, unit):
    """A time parameter that qmgr declares; read it even when qmgr is not loaded."""
    value = settings.get(name)
    if isinstance(value, int):
        return value
    try:
        return to_time(str(value or default), unit)
    except BadValue as e:
        raise ConfigError(str(e), param=name) from None


def _wants(record, word: str) -> bool:
    """DSN NOTIFY: an empty set means the default, FAILURE and DELAY (RFC 3461 5.1)."""
    notify = record.status.recipient.notify
    if not notify:
        return word in ("FAILURE", "DELAY")
    return word in notify


def _dedupe(records):
    """A crash between append and cross-off repeats a record: keep the last one."""
    last = {}
    for rec in records:
        r = rec.status.recipient
        last[(r.address, r.orig, r.offset)] = rec
    return list(last.values())


@implementer(INotifier)
class Notifier:
    """Per-message logs under one queue_directory and notices through cleanup."""

    def __init__(self, config: BounceConfig, store: QueueStore, runtime, log, submitter):
        self.config = config
        self.store = store
        self.runtime = runtime
        self.log = log
        self._submitter = submitter  # () -> IMailSubmitter, looked up when needed
        self.chunk_size = compose.CHUNK_SIZE

    def _path(self, name, queue_id):
        return self.store.path(name, QueueId(str(queue_id)))

    def append(self, kind, queue_id, status):
        if kind not in LOGS:
            return defer.fail(ValueError(f"unknown log {kind!r}"))
        try:
            path = self._path(kind, queue_id)
        except ValueError as e:
            return defer.fail(e)
        return self.runtime.run_blocking(statuslog.append, path, status,
                                         self.runtime.clock.seconds())

    def flush(self, kind, queue_id, request):
        if kind not in FLUSH_LOG:
            return defer.fail(ValueError(f"unknown notice kind {kind!r}"))
        return self._flush(kind, str(queue_id), request)

    @defer.inlineCallbacks
    def _flush(self, kind, queue_id, request):
        path = self._path(FLUSH_LOG[kind], queue_id)
        records, warnings = yield self.runtime.run_blocking(statuslog.read, path)
        for w in warnings:
            self.log.warning(f"{queue_id}: {w}")
        records = _dedupe(records)
        result = None
        if records:
            handler = {"bounce": self._failure, "expire": self._failure,
                       "delay": self._delay, "success": self._success}[kind]
            result = yield handler(kind, queue_id, request, records)
        if kind != "delay":
            yield self.runtime.run_blocking(statuslog.remove, path)
        return result

    # -- the three kinds of notice -----------------------------------------------------

    @defer.inlineCallbacks
    def _failure(self, kind, queue_id, request, records):
        cfg, sender = self.config, request.sender
        tpl = cfg.templates["failure_template"]
        action = "failed" if kind == "expire" else None
        if self._is_double_bounce(sender):
            return None
        if sender == "":
            if not cfg.notify_classes & {"2bounce", "bounce"}:
                return None  # Postfix 3.7 drops it unless notify_classes says otherwise
            qid = yield self._send(queue_id, request, records, tpl, cfg.twobounce_rcpt,
                                   postmaster=True, ret="FULL", action=action)
            self.log.info(f"{queue_id}: postmaster non-delivery notification: {qid}")
            return qid
        qid = None
        wanted = [r for r in records if _wants(r, "FAILURE")]
        if wanted:
            qid = yield self._send(queue_id, request, wanted, tpl, sender,
                                   ret=request.ret or "FULL", action=action)
            self.log.info(f"{queue_id}: sender non-delivery notification: {qid}")
        if "bounce" in cfg.notify_classes and sender.lower() != cfg.bounce_rcpt.lower():
            yield self._copy(queue_id, request, records, tpl, cfg.bounce_rcpt,
                             "postmaster non-delivery notification", action=action)
        return qid

    @defer.inlineCallbacks
    def _delay(self, kind, queue_id, request, records):
        cfg, sender = self.config, request.sender
        if sender == "" or self._is_double_bounce(sender):
            return None  # nobody to warn, as in Postfix
        tpl = cfg.templates["delay_template"]
        until = request.arrival + cfg.maximal_queue_lifetime
        qid = None
        wanted = [r for r in records if _wants(r, "DELAY")]
        if wanted:
            qid = yield self._send(queue_id, request, wanted, tpl, sender, ret="HDRS",
                                   action="delayed", until=until)
            self.log.info(f"{queue_id}: sender delay notification: {qid}")
        if "delay" in cfg.notify_classes:
            yield self._copy(queue_id, request, records, tpl, cfg.delay_rcpt,
                             "postmaster delay notification", action="delayed", until=until)
        return qid

    @defer.inlineCallbacks
    def _success(self, kind, queue_id, request, records):
        sender = request.sender
        wanted = [r for r in records if "SUCCESS" in r.status.recipient.notify]
        if sender == "" or self._is_double_bounce(sender) or not wanted:
            return None
        qid = yield self._send(queue_id, request, wanted,
                               self.config.templates["success_template"], sender,
                               ret=request.ret or "HDRS")
        self.log.info(f"{queue_id}: sender delivery status notification: {qid}")
        return qid

    def _is_double_bounce(self, sender):
        s = sender.lower()
        return s == self.config.double_bounce.lower() or \
            s == self.config.double_bounce_address.lower()

    @defer.inlineCallbacks
    def _copy(self, queue_id, request, records, tpl, to, what, **kwargs):
        try:
            qid = yield self._send(queue_id, request, records, tpl, to, postmaster=True,
                                   ret="HDRS", **kwargs)
        except Exception as e:  # noqa: BLE001 - a copy must not undo the sender notice
            self.log.warning(f"{queue_id}: {what} failed: {e}")
            return None
        self.log.info(f"{queue_id}: {what}: {qid}")
        return qid

    # -- composing and submitting --------------------------------------------------------

    def notice(self, queue_id, request, tpl, to, *, postmaster=False, ret="FULL",
               action=None, until=None) -> compose.Notice:
        cfg = self.config
        now = self.runtime.clock.seconds()
        lookup = templates.time_lookup(cfg.lookup, cfg.delay_warning_time,
                                       cfg.maximal_queue_lifetime)
        try:
            text = tuple(tpl.expand_text(lookup))
        except templates.TemplateError as e:
            self.log.warning(f"{queue_id}: {e}: the text is sent unexpanded")
            text = tpl.text
        stamp = time.strftime("%Y%m%d%H%M%S", time.localtime(now))
        return compose.Notice(
            template=tpl, queue_id=queue_id, sender=request.sender, to=to,
            myhostname=cfg.myhostname, myorigin=cfg.myorigin, now=now,
            message_id=f"<{stamp}.{queue_id}.{secrets.token_hex(4)}@{cfg.myhostname}>",
            arrival=request.arrival, envid=request.envid, postmaster=postmaster,
            ret="HDRS" if ret == "HDRS" else "FULL", size=request.size,
            size_limit=cfg.size_limit, action=action, will_retry_until=until,
            smtputf8=cfg.smtputf8, text_lines=text)

    @defer.inlineCallbacks
    def _send(self, queue_id, request, records, tpl, to, *, postmaster=False, **kwargs):
        notice = self.notice(queue_id, request, tpl, to, postmaster=postmaster, **kwargs)
        # the sender notice comes from <>; postmaster copies from double-bounce, so that
        # their own failure is dropped instead of answered
        env_sender = self.config.double_bounce_address if postmaster else ""
        envelope = Envelope(sender=env_sender, recipients=(Recipient(to),),
                            client=Client(protocol="local"),
                            arrival=self.runtime.clock.seconds())
        writer = self._submitter().open_message(envelope)
        chunks = compose.notice_chunks(notice, records, request.open_content, self.chunk_size)
        try:
            while True:
                chunk = yield self.runtime.run_blocking(next, chunks, None)
                if chunk is None:
                    break
                written = writer.write(chunk)
                if isinstance(written, defer.Deferred):
                    yield written  # cleanup's flow control
        except BaseException:
            chunks.close()
            yield defer.maybeDeferred(writer.abort).addErrback(lambda _: None)
            raise
        qid = yield writer.commit()  # a refusal leaves nothing behind: nothing to abort
        return str(qid)


class BounceService(Service):
    """One master.cf row; the $bounce_service_name row offers the Notifier."""

    def __init__(self, notifier, context):
        self.notifier = notifier
        self.context = context

    def startService(self):
        super().startService()
        if self.notifier is not None:
            self.context.provide(INotifier, self.notifier)


def make_service(entry, context) -> BounceService:
    settings = context.settings
    if entry.service != settings.get_str("bounce_service_name"):
        return BounceService(None, context)  # defer/trace: served by the bounce row
    config = BounceConfig.from_settings(settings)
    log = context.logger("bounce")
    runtime = context.runtime
    store = QueueStore(settings.get_str("queue_directory"), warn=log.warning,
                       clock=runtime.clock.seconds)
    notifier = Notifier(config, store, runtime, log, lambda: context.require(IMailSubmitter))
    return BounceService(notifier, context)
