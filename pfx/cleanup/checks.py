"""header_checks / mime_header_checks / nested_header_checks / body_checks actions (pure).

One ContentChecks per message. check_header() and check_body() look a line up in the
configured table and carry out header_checks(5)'s action: the verdicts that concern the
whole message (REJECT, HOLD, DISCARD, FILTER, REDIRECT, BCC) are recorded on the object
for the writer; the ones that change the line (IGNORE, STRIP, REPLACE, PREPEND) are
returned as the lines to write instead. Everything is logged in Postfix's shape:
``QID: reject: header Subject: xyz from name[addr]; from=<s> to=<r> proto=ESMTP
helo=<h>: 5.7.1 message content rejected``.

Cost: a lookup sees at most one logical header (header_size_limit) or one body line
(line_length_limit); body lines past body_checks_size_limit are not checked; and every
lookup stops once the message has used pfx_content_check_time_limit seconds of lookup
time (then the rest of the message is not checked and a warning is logged). See
docs/content-checks.md.

Security: the lines are untrusted; table results are the administrator's.
"""

import re
import time

from pfx.dsn import Dsn, Reply
from pfx.errors import TableRetry
from pfx.tables.chain import safe_lookup

DEFAULT_REJECT = "message content rejected"
_DSN = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}$")
_HEADER_TEXT = re.compile(r"^[\x21-\x39\x3b-\x7e]+:")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]")
MAP_CLASS = {"header": "header_checks", "mime": "mime_header_checks",
             "nested": "nested_header_checks", "body": "body_checks"}
TABLE_PROBLEM = Reply(451, Dsn("4.3.0"), "Error: queue file write error")


def reject_reply(text) -> Reply:
    """``REJECT [[d.d.d] text]`` -> the reply the client gets (cleanup_act()). A 2.x.x
    status is not a rejection: Postfix warns and makes it 4.x.x, a deferral."""
    text = text.strip()
    first, _, rest = text.partition(" ")
    if _DSN.match(first):
        dsn, text = first, rest.strip()
    else:
        dsn = "5.7.1"
    if not text:
        text = DEFAULT_REJECT
    if dsn[0] == "2":
        dsn = "4" + dsn[1:]
    code = 451 if dsn[0] == "4" else 550
    return Reply(code, Dsn(dsn), text)


class ContentChecks:
    """The tables and the per-message state of the checks."""

    def __init__(self, *, header_checks=None, mime_header_checks=None,
                 nested_header_checks=None, body_checks=None, body_size_limit=51200,
                 time_limit=10.0, log=None, queue_id="NOQUEUE", context="",
                 timer=time.monotonic):
        self.tables = {"header": header_checks, "mime": mime_header_checks,
                       "nested": nested_header_checks, "body": body_checks}
        self.body_size_limit = body_size_limit
        self.time_limit = time_limit
        self.log = log
        self.queue_id = queue_id
        self.context = context  # " from name[addr]; from=<s> to=<r> proto=... helo=<h>"
        self._timer = timer
        self._spent = 0.0
        self._out_of_time = False
        self.body_seen = 0
        # the verdicts
        self.reject = None  # a Reply
        self.hold = False
        self.discard = False
        self.filter = None  # "transport:destination"
        self.redirect = None
        self._stopped = False  # by PASS or REDIRECT (smtpd's REDIRECT does not end inspection)
        self.bcc = []

    def apply_submitter_actions(self, actions):
        """The envelope's ``actions`` (smtpd's access(5) HOLD, DISCARD, REDIRECT, FILTER,
        BCC; already logged by smtpd) recorded as if a header check had asked for them."""
        for name, value in actions:
            if name == "hold":
                self.hold = True
            elif name == "discard":
                self.discard = True
            elif name == "redirect":
                self.redirect = value
            elif name == "filter":
                self.filter = value
            elif name == "bcc":
                self.bcc.append(value)
            else:
                self._warn(f"{self.queue_id}: unknown submitter action {name!r} ignored")

    @property
    def active(self) -> bool:
        return any(t is not None for t in self.tables.values())

    @property
    def final(self) -> bool:
        """After REJECT, DISCARD, PASS or a header/body REDIRECT nothing else is looked
        at (cleanup_act() clears CLEANUP_FLAG_FILTER_ALL)."""
        return self.reject is not None or self.discard or self._stopped

    def _lookup(self, table, text, map_class):
        if self._out_of_time:
            return None
        start = self._timer()
        try:
            return safe_lookup(table, text)
        except TableRetry:
            self._warn(f"{self.queue_id}: {map_class} map lookup problem -- "
                       "message not accepted, try again later")
            if self.reject is None:
                self.reject = TABLE_PROBLEM
            return None
        finally:
            self._spent += self._timer() - start
            if self.time_limit and self._spent > self.time_limit and not self._out_of_time:
                self._out_of_time = True
                self._warn(f"{self.queue_id}: content checks took more than "
                           f"{self.time_limit:g}s; the rest of the message is not inspected")

    def _warn(self, text):
        if self.log is not None:
            self.log.warning(text)

    def _info(self, text):
        if self.log is not None:
            self.log.info(text)

    # -- the public side ----------------------------------------------------------

    def check_header(self, kind, text):
        """``kind`` is "header" (primary), "mime" or "nested"; ``text`` one logical header,
        folded lines joined with LF. -> None (keep it) or a list of replacement texts
        (empty: delete it)."""
        table = self.tables.get(kind)
        if table is None or self.final:
            return None
        value = self._lookup(table, text, MAP_CLASS[kind])
        if value is None or hasattr(value, "addCallback"):
            return None
        return self._act(value, "header", text, is_header=True, map_class=MAP_CLASS[kind])

    def check_body(self, text):
        """One body line without its line end -> None (keep) or replacement lines."""
        table = self.tables.get("body")
        if table is None or self.final:
            return None
        offset = self.body_seen  # where the line starts, as mime_state's BODY_OUT passes it
        self.body_seen += len(text) + 1
        if self.body_size_limit and offset >= self.body_size_limit:
            return None
        if not text:  # maps_find(): empty lines never match (header_checks(5), BUGS)
            return None
        value = self._lookup(table, text, "body_checks")
        if value is None or hasattr(value, "addCallback"):
            return None
        return self._act(value, "body", text, is_header=False, map_class="body_checks")

    # -- actions --------------------------------------------------------------------

    def _logline(self, action, where, text, extra=""):
        # cleanup_act_log() prints "%.200s" of the line; msg_info() makes it printable
        shown = _UNPRINTABLE.sub("?", text[:200])
        tail = f": {extra}" if extra else ""
        return f"{self.queue_id}: {action}: {where} {shown}{self.context}{tail}"

    def _act(self, value, where, text, *, is_header, map_class):
        command, _, arg = value.strip().partition(" ")
        command, arg = command.upper(), arg.strip()
        if command == "REJECT":
            reply = reject_reply(arg)
            if arg and str(reply.dsn)[0] == "4" and arg[0] == "2":
                self._warn(f"bad DSN action in {arg} -- need 4.x.x or 5.x.x")
            self._info(self._logline("reject", where, text, f"{reply.dsn} {reply.text}"))
            self.reject = reply
            return None
        if command == "WARN":
            self._info(self._logline("warning", where, text, arg))
            return None
        if command == "INFO":
            self._info(self._logline("info", where, text, arg))
            return None
        if command == "HOLD":
            if not self.hold:  # logged once, as Postfix does
                self._info(self._logline("hold", where, text, arg))
            self.hold = True
            return None
        if command == "DISCARD":
            self._info(self._logline("discard", where, text, arg))
            self.discard = True
            return None
        if command == "IGNORE":
            return []
        if command == "STRIP":
            self._info(self._logline("strip", where, text, arg))
            return []
        if command in ("PREPEND", "REPLACE"):
            if not arg:
                self._warn(f"{command} action without text in {map_class} map")
                return None
            if is_header and not _HEADER_TEXT.match(arg):
                self._warn(f"bad {command} header text \"{arg}\" in {map_class} map -- "
                           "need \"headername: headervalue\"")
                return None
            self._info(self._logline(command.lower(), where, text, arg))
            return [arg, text] if command == "PREPEND" else [arg]
        if command == "REDIRECT":
            if "@" not in arg:
                self._warn(f"bad REDIRECT target \"{arg}\" in {map_class} map -- need user@domain")
                return None
            self._info(self._logline("redirect", where, text, arg))
            self.redirect, self._stopped = arg, True
            return None
        if command == "BCC":
            if "@" not in arg:
                self._warn(f"bad BCC address \"{arg}\" in {map_class} map -- need user@domain")
                return None
            self._info(self._logline("bcc", where, text, arg))
            self.bcc.append(arg)
            return None
        if command == "FILTER":
            if not arg:
                self._warn(f"missing FILTER command argument in {map_class} map")
            elif ":" not in arg:
                self._warn(f"bad FILTER command {arg} in {map_class} -- need transport:destination")
            else:
                self._info(self._logline("filter", where, text, arg))
                self.filter = arg
            return None
        if command == "PASS":
            self._info(self._logline("pass", where, text, arg))
            self._stopped = True
            return None
        if command in ("DUNNO", "OK"):
            return None
        self._warn(f"unknown command in {map_class} map: {value.strip()}")
        return None
