"""Postfix-shaped mail log lines: ``Mon DD HH:MM:SS HOST NAME/PROGRAM[PID]: TEXT``.

Programs log through a MailLog, which emits twisted.logger events in the ``pfx.mail``
namespace; MaillogObserver writes them to maillog_file (Postfix 3.4's parameter) and
SyslogObserver to syslog, each in the shape pflogsumm and admins' scripts parse.
Errors from Twisted itself (unhandled failures) are written as ``error:`` lines.
"""

import os
import socket
import syslog
import time

from twisted.logger import Logger, LogLevel, formatEvent

NAMESPACE = "pfx.mail"
_SEVERITY = {"info": "", "warning": "warning: ", "error": "error: ", "fatal": "fatal: ",
             "panic": "panic: "}
_LEVEL = {"info": LogLevel.info, "warning": LogLevel.warn, "error": LogLevel.error,
          "fatal": LogLevel.critical, "panic": LogLevel.critical}
_SYSLOG_PRIORITY = {"info": syslog.LOG_INFO, "warning": syslog.LOG_WARNING,
                    "error": syslog.LOG_ERR, "fatal": syslog.LOG_CRIT,
                    "panic": syslog.LOG_CRIT}


_pid = None  # os.getpid() once per process: a system call per log line otherwise


def _current_pid() -> int:
    global _pid
    if _pid is None:
        _pid = os.getpid()
    return _pid


def _forget_pid():
    global _pid
    _pid = None


os.register_at_fork(after_in_child=_forget_pid)  # twistd forks after setup

_logger = Logger(namespace=NAMESPACE)
_sinks = []  # observers that take mail lines directly (see add_sink)


def add_sink(observer) -> None:
    """Send mail lines to ``observer`` instead of Twisted's log (the daemon's maillog)."""
    _sinks.append(observer)


def remove_sink(observer) -> None:
    if observer in _sinks:
        _sinks.remove(observer)


class MailLog:
    """The logger a program uses: ``log.info("%s: removed", qid)`` style, one line each."""

    def __init__(self, syslog_name: str, program: str, pid: int | None = None):
        self.syslog_name = syslog_name
        self.program = program
        self._pid = pid  # None: the pid at the time of logging (twistd forks after setup)

    @property
    def pid(self) -> int:
        return _current_pid() if self._pid is None else self._pid

    def child(self, program: str, syslog_name: str | None = None) -> "MailLog":
        return MailLog(syslog_name or self.syslog_name, program, self._pid)

    def _emit(self, severity, text):
        tag, line = f"{self.syslog_name}/{self.program}[{self.pid}]", _SEVERITY[severity] + text
        if _sinks:
            # the daemon's maillog/syslog observers take mail lines directly: faster, and
            # they do not appear a second time in twistd's own log
            event = {"log_namespace": NAMESPACE, "log_level": _LEVEL[severity],
                     "log_time": time.time(), "pfx_tag": tag, "pfx_text": line,
                     "pfx_severity": severity}
            for sink in _sinks:
                sink(event)
            return
        _logger.emit(_LEVEL[severity], "{pfx_tag}: {pfx_text}", pfx_tag=tag, pfx_text=line,
                     pfx_severity=severity)

    def info(self, text):
        self._emit("info", text)

    def warning(self, text):
        self._emit("warning", text)

    def error(self, text):
        self._emit("error", text)

    def fatal(self, text):
        self._emit("fatal", text)

    def panic(self, text):
        self._emit("panic", text)


def short_hostname() -> str:
    return socket.gethostname().split(".")[0]


def render(event, default_tag: str):
    """(tag, text) for ``event``, or None for chatter that is not ours."""
    if event.get("log_namespace") == NAMESPACE and "pfx_tag" in event:
        return event["pfx_tag"], event["pfx_text"]
    level = event.get("log_level")
    if level is None or level < LogLevel.error:
        return None  # Twisted's own info chatter stays in twistd's log
    text = formatEvent(event) or ""
    failure = event.get("log_failure")
    if failure is not None:
        text = f"{text} {failure.type.__name__}: {failure.getErrorMessage()}".strip()
        frames = failure.frames
        if frames:
            text += f" ({frames[-1][1]}:{frames[-1][2]})"
    return f"{default_tag}[{os.getpid()}]", "error: " + " ".join(text.split())


def format_line(event, hostname: str, default_tag: str) -> str | None:
    """``Mon DD HH:MM:SS HOST TAG: TEXT`` as syslog writes it (day space-padded)."""
    rendered = render(event, default_tag)
    if rendered is None:
        return None
    when = event["log_time"] if "log_time" in event else time.time()
    return f"{_stamp(when)} {hostname} {rendered[0]}: {rendered[1]}"


_last_stamp = (None, "")  # (whole second, its text): a busy log formats each second once


def _stamp(when: float) -> str:
    global _last_stamp
    second = int(when)
    cached = _last_stamp
    if cached[0] != second:
        cached = _last_stamp = (second, time.strftime("%b %e %H:%M:%S", time.localtime(second)))
    return cached[1]


class MaillogObserver:
    """Appends lines to maillog_file; the file is reopened if it was rotated away.

    Whether the path still names the open file is looked at (one stat) at most once per
    ROTATION_CHECK_INTERVAL seconds of ``clock``, and whenever check_rotation() is
    called (on reload), rather than for every line: lines logged within that second of a
    rename still go to the renamed file, as with a logger that reopens on a signal.
    """

    ROTATION_CHECK_INTERVAL = 1.0

    def __init__(self, path: str, default_tag: str, hostname: str | None = None,
                 clock=time.monotonic):
        self.path = path
        self.default_tag = default_tag
        self.hostname = hostname or short_hostname()
        self._file = None
        self._ino = None
        self._clock = clock
        self._next_check = None

    def check_rotation(self):
        """Look at the path with the next line, whatever the time."""
        self._next_check = None

    def _open(self):
        now = self._clock()
        if self._file is not None and self._next_check is not None and now < self._next_check:
            return self._file
        self._next_check = now + self.ROTATION_CHECK_INTERVAL
        try:
            ino = os.stat(self.path).st_ino
        except OSError:
            ino = None
        if self._file is None or ino != self._ino:
            if self._file is not None:
                self._file.close()
            self._file = open(self.path, "a", encoding="utf-8", errors="backslashreplace")
            self._ino = os.fstat(self._file.fileno()).st_ino
        return self._file

    def __call__(self, event):
        line = format_line(event, self.hostname, self.default_tag)
        if line is None:
            return
        f = self._open()
        f.write(line + "\n")
        f.flush()

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None


class SyslogObserver:
    """Sends lines to syslog(3) with facility syslog_facility; the tag is per line."""

    def __init__(self, facility: str, default_tag: str):
        self.facility = getattr(syslog, "LOG_" + facility.upper(), syslog.LOG_MAIL)
        self.default_tag = default_tag

    def __call__(self, event):
        rendered = render(event, self.default_tag)
        if rendered is None:
            return
        tag, text = rendered
        syslog.openlog(tag.split("[")[0], syslog.LOG_PID, self.facility)
        syslog.syslog(_SYSLOG_PRIORITY.get(event.get("pfx_severity", "error")), text)


def check_maillog_path(path: str, prefixes: list[str]) -> str | None:
    """Postfix refuses a maillog_file outside maillog_file_prefixes: the reason, or None."""
    real = os.path.normpath(path)
    for prefix in prefixes:
        p = os.path.normpath(prefix)
        if real == p or real.startswith(p.rstrip("/") + "/"):
            return None
    return (f'maillog_file "{path}" does not match any prefix in maillog_file_prefixes '
            f'("{", ".join(prefixes)}")')
