"""Running a delivery command without a shell and mapping its exit (pipe_command.c, sys_exits.c).

The message is first copied to an unlinked temporary file that becomes the command's
stdin, and its stdout and stderr go to another, so a command that stops reading or
floods its output cannot wedge the delivery; a time limit kills the whole process group.
The caller builds argv; nothing here hands a string to a shell.
"""

import os
import re
import signal
import subprocess
import tempfile

import attrs

from pfx.dsn import Dsn

OUTPUT_LIMIT = 2048  # bytes of command output kept for the log and the bounce

# <sysexits.h> -> (dsn, text), sys_exits.c's table
SYSEXITS = {
    64: ("5.3.0", "command line usage error"),
    65: ("5.6.0", "data format error"),
    66: ("5.3.0", "cannot open input"),
    67: ("5.1.1", "user unknown"),
    68: ("5.1.2", "host name unknown"),
    69: ("5.3.0", "service unavailable"),
    70: ("5.3.0", "internal software error"),
    71: ("4.3.0", "system resource problem"),
    72: ("5.3.0", "critical OS file missing"),
    73: ("5.2.0", "can't create user output file"),
    74: ("5.3.0", "input/output error"),
    75: ("4.3.0", "temporary failure"),
    76: ("5.5.0", "remote error in protocol"),
    77: ("5.7.0", "permission denied"),
    78: ("5.3.5", "local configuration error"),
}
_DSN_PREFIX = re.compile(r"^([45]\.\d{1,3}\.\d{1,3})(?:\s+|$)")  # dsn_valid + dsn_split


@attrs.frozen
class CommandResult:
    status: int | None          # exit status, None when killed by a signal or the limit
    signal: int | None = None
    timed_out: bool = False
    output: str = ""            # the first OUTPUT_LIMIT bytes, printable


@attrs.frozen
class Outcome:
    action: str                 # sent, deferred, bounced
    dsn: Dsn
    text: str


def run(argv, write_input, env, cwd=None, time_limit=1000, user=None, group=None):
    """Run ``argv`` with ``write_input(file)`` as stdin -> CommandResult (blocking).

    ``user``/``group`` (uids) are set in the child between fork and exec, never in
    this process. OSError from exec (no such program) propagates to the caller."""
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as out:
        write_input(stdin)
        stdin.flush()
        stdin.seek(0)
        proc = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=subprocess.STDOUT,
                                env=env, cwd=cwd, close_fds=True, start_new_session=True,
                                user=user, group=group,
                                extra_groups=[] if user is not None else None)
        timed_out = False
        try:
            proc.wait(timeout=time_limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        out.seek(0)
        output = _printable(out.read(OUTPUT_LIMIT))
    code = proc.returncode
    return CommandResult(status=code if code >= 0 and not timed_out else None,
                         signal=-code if code < 0 else None, timed_out=timed_out,
                         output=output)


def _printable(data):
    text = data.decode("utf-8", "replace")
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def outcome(result, command, success_text):
    """CommandResult -> Outcome with pipe_command.c's texts, in its order: output that
    starts with X.Y.Z gives the status and, after the code, the text; else a sysexits
    code gives its DSN and sys_exits.c's text; else "Command died with status N".
    Signals and time-outs defer (the issue's rule; Postfix 3.x reports them as 5.3.0)."""
    if result.timed_out:
        return Outcome("deferred", Dsn("4.3.0"), f'Command time limit exceeded: "{command}"')
    detail = f". Command output: {result.output}" if result.output else ""
    if result.signal is not None:
        return Outcome("deferred", Dsn("4.3.0"),
                       f'Command died with signal {result.signal}: "{command}"{detail}')
    if result.status == 0:
        return Outcome("sent", Dsn("2.0.0"), success_text)
    m = _DSN_PREFIX.match(result.output)
    if m:
        dsn, text = m.group(1), result.output[m.end():]
    elif result.status in SYSEXITS:
        dsn, text = SYSEXITS[result.status]
        text += detail
    else:
        dsn, text = "5.3.0", f'Command died with status {result.status}: "{command}"{detail}'
    action = "deferred" if dsn[0] == "4" else "bounced"
    return Outcome(action, Dsn(dsn), text)
