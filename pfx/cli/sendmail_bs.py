"""sendmail -bs: an SMTP dialogue on stdin/stdout; each accepted message is a maildrop file.

Postfix runs smtpd(8) for -bs and so hands mail straight to cleanup; pfx drives the
sans-IO pfx.smtp.server machine here with blocking reads, and queues through postdrop
like plain sendmail, so it works while pfx is stopped. The queue ID in ``250 2.0.0 Ok:
queued as ID`` is therefore the maildrop file's; pickup gives the message its final
ID. As with Postfix's -bs, no relay or access restrictions apply: the peer is the
local user who ran the command, and smtpd_forbid_bare_newline does not apply either.

Security: the SMTP input is the local user's and is parsed only by the protocol
machine; the maildrop file carries only what the MAILDROP policy allows. Reads
myhostname, mail_name, message_size_limit, line_length_limit and queue_directory.
"""

import errno

from pfx.cli.postdrop import Interrupted, Maildrop, interrupted_by_signals, trigger_pickup
from pfx.dsn import Dsn, Reply
from pfx.envelope import Envelope, Recipient
from pfx.smtp import events as E
from pfx.smtp import replies as R
from pfx.smtp.ehlo import ehlo_reply
from pfx.smtp.server import NEED_DATA, PAUSED, ServerConfig, ServerConnection
from pfx.smtpd.addr import internal

WRITE_ERROR = Reply(451, Dsn("4.3.0"), "Error: queue file write error")
NO_SPACE = Reply(452, Dsn("4.3.1"), "Insufficient system storage")
NOT_HERE = Reply(502, Dsn("5.5.1"), "Error: command not implemented")


class LineEnds:
    """CRLF -> LF across chunk boundaries (queue files keep LF line ends)."""

    def __init__(self):
        self._cr = False

    def __call__(self, data: bytes) -> bytes:
        if self._cr:
            data = b"\r" + data
        self._cr = data.endswith(b"\r")
        if self._cr:
            data = data[:-1]
        return data.replace(b"\r\n", b"\n")

    def flush(self) -> bytes:
        out, self._cr = (b"\r" if self._cr else b""), False
        return out


class LocalSession:
    """Turns the machine's events into replies and maildrop files."""

    def __init__(self, settings, hostname, mail_name):
        self.queue_directory = settings.get_str("queue_directory")
        self.hostname = hostname
        self.mail_name = mail_name
        self.limit = settings.get("message_size_limit")
        self._reset()

    def _reset(self):
        self.sender, self.params, self.rcpts = None, None, []
        self.drop, self.error, self.lines = None, None, LineEnds()

    def _abort(self):
        if self.drop is not None:
            self.drop.abort()
        self._reset()

    def greeting(self) -> Reply:
        return Reply(220, None, f"{self.hostname} ESMTP {self.mail_name}")

    def handle(self, ev):
        """-> the Reply for an event that needs one; None otherwise."""
        if isinstance(ev, (E.Helo, E.Ehlo)):
            self._abort()
            if isinstance(ev, E.Helo):
                return Reply(250, None, self.hostname)
            return ehlo_reply(self.hostname, message_size_limit=self.limit, etrn=False,
                              vrfy=False)
        if isinstance(ev, E.MailFrom):
            # queue files keep internal form, without source routes, as smtpd's
            self.sender, self.params = internal(ev.address), ev.params
            return R.MAIL_OK
        if isinstance(ev, E.RcptTo):
            if not ev.address:
                return R.BAD_RECIPIENT
            p = ev.params
            orcpt = f"{p.orcpt_type};{p.orcpt}" if p.orcpt is not None else None
            self.rcpts.append(Recipient(internal(ev.address), orcpt=orcpt,
                                        notify=p.notify or ()))
            return R.RCPT_OK
        if isinstance(ev, E.Data):
            return self._open() or R.START_DATA
        if isinstance(ev, E.Bdat):
            if self.drop is None and self.error is None:
                self.error = self._open()
            return None
        if isinstance(ev, E.DataChunk):
            self._write(ev.data)
            return None
        if isinstance(ev, E.EndOfData):
            return self._finish(None)
        if isinstance(ev, E.EndOfChunk):
            return self._finish(ev.total) if ev.last else R.chunk_ok(ev.total)
        if isinstance(ev, (E.DataRejected, E.Reject)):
            if isinstance(ev, E.DataRejected):
                self._abort()
            return ev.reply
        if isinstance(ev, E.Rset):
            self._abort()
            return R.OK
        if isinstance(ev, E.Noop):
            return R.OK
        if isinstance(ev, E.Quit):
            self._abort()
            return R.BYE
        if isinstance(ev, E.Vrfy):
            return R.VRFY_DISABLED
        if isinstance(ev, E.StartTLS):
            return R.TLS_UNAVAILABLE
        if isinstance(ev, (E.Auth, E.AuthResponse)):
            return R.AUTH_NOT_ENABLED
        if isinstance(ev, E.ConnectionClosed):
            self._abort()
            return None
        return NOT_HERE  # ETRN and anything new

    def _open(self):
        p = self.params
        envelope = Envelope(self.sender or "", tuple(self.rcpts), envid=p.envid, ret=p.ret,
                            body_type=p.body or "", smtputf8=p.smtputf8)
        try:
            self.drop = Maildrop(self.queue_directory, envelope)
        except OSError as exc:
            return _write_error(exc)
        return None

    def _write(self, data):
        if self.drop is None or self.error is not None:
            return
        try:
            self.drop.write(self.lines(data))
        except OSError as exc:
            self.error = _write_error(exc)

    def _finish(self, total):
        error = self.error
        if error is None:
            try:
                self.drop.write(self.lines.flush())
                qid = self.drop.commit()
            except OSError as exc:
                error = _write_error(exc)
        if error is not None:
            self._abort()
            return error
        self._reset()
        trigger_pickup(self.queue_directory)
        return R.queued(str(qid), total)


def _write_error(exc) -> Reply:
    return NO_SPACE if exc.errno in (errno.ENOSPC, errno.EDQUOT) else WRITE_ERROR


def smtp_session(settings, stdin, stdout) -> int:
    """Run one SMTP session until QUIT or end of input; the exit status."""
    hostname = settings.get_str("myhostname")
    session = LocalSession(settings, hostname, settings.get_str("mail_name"))
    # Postfix's smtpd never applies smtpd_forbid_bare_newline in stand-alone mode (checked
    # with 3.7.11, "reject" and no exclusions): a script's LF-only "." still ends DATA.
    conn = ServerConnection(ServerConfig(
        hostname=hostname, message_size_limit=settings.get("message_size_limit"),
        line_length_limit=settings.get("line_length_limit"),
        smtputf8_enable=settings.get("smtputf8_enable"), smtpd_forbid_bare_newline="no"))
    try:
        with interrupted_by_signals():
            _dialogue(conn, session, stdin, stdout)
    except Interrupted:
        return 75  # EX_TEMPFAIL; the message in progress is deleted below
    except BrokenPipeError:
        pass
    finally:
        if session.drop is not None:
            session.drop.abort()
    return 0


def _dialogue(conn, session, stdin, stdout):
    stdout.write(conn.send(session.greeting()))
    stdout.flush()
    while not conn.closed:
        ev = conn.next_event()
        if ev is NEED_DATA:
            conn.receive_data(stdin.read1(65536))  # b"" at end of input
            continue
        if ev is PAUSED:  # only after the session ended
            return
        if isinstance(ev, E.ConnectionClosed):
            session.handle(ev)
            return
        reply = session.handle(ev)
        if ev.needs_reply:
            stdout.write(conn.send(reply))
            stdout.flush()
