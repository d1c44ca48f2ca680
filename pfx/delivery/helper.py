"""The privileged helper: a short-lived child that writes a mailbox or reads a file as a user.

When pfx runs as root, local(8) and virtual(8) must write as the recipient, and the
reactor process must never switch ids. For each such delivery the agent (in a thread
from runtime.run_blocking) calls ``run()``, which starts ``python -I -S`` on
pfx.delivery.helper_child as root, sends the job (marshal data after its length), then
the raw message; the child opens a mail-spool mailbox as root if asked (creating it
owned by the user, refusing one the user does not own), drops to the user's uid and gid
with no supplementary groups, and does everything else as that user. It answers with
one JSON line, parsed here by json (never marshal: the answer comes from a process
running as the user). The child imports only the stdlib and stdlib-only pfx modules (no
attrs, no twisted; -S leaves site-packages off its path), as every import is paid per
delivery.

Security: the child trusts only its JSON line (from pfx) and treats the message as
data. Everything after the id switch is done with the user's own rights, so a symlink
or hard link planted by the user reaches nothing the user could not write already.

Cost (2026-11-25): ~11 ms of child CPU per delivery, most of it interpreter start-up
(``python -I -S -c pass`` is ~7 ms); imports are ~3 ms. Next step, not yet done, in
order of payoff per risk:

- A fork server: one ``python -I -S`` child of the agent, started as root on first use,
  imports helper_child once and then, for each job read from its pipe, forks; the fork
  does exactly what a helper child does now (root-side spool open, drop ids, write,
  exit) and its answer is relayed. Per delivery that is a fork of a small process
  (~1 ms), and the model stays "one process per delivery, ids dropped before the
  mailbox is touched". The server trusts only its pipe from pfx and must forward the
  message over a per-job pipe (or socketpair) so one job cannot read another's data.
- Batching or a long-lived helper per (uid, gid) with an idle timeout (a few seconds,
  at most one job at a time, a bounded LRU pool). Needs framing the current protocol
  lacks: the message ends at EOF today, so it would go in length-prefixed chunks with
  an empty chunk at the end (letting a child that failed mid-message skip to the next
  job), each answer one line. A spool mbox (root-owned /var/mail) cannot be opened by
  a child that has already dropped ids: those jobs keep a per-job child, or the root
  side opens the file and passes the descriptor (SCM_RIGHTS). The child's real uid is
  the user's, so the user can stop or kill it; the parent must time out per job,
  kill, respawn and report a temporary failure, as it does now for one child.
"""

import json
import marshal
import os
import subprocess
import sys

from pfx.delivery.copy import CHUNK
from pfx.delivery.helper_child import JOB_HEADER, read_small_file, serve  # noqa: F401

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# -I: no environment, no user site, no script directory on sys.path; -S: no site-packages
# either (the child imports only the stdlib and helper_child's stdlib-only pfx modules)
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from pfx.delivery.helper_child import main; main()")


def run(job, content=None, timeout=3600):
    """Blocking: run one ``job`` (a dict, see serve()) in a helper child, streaming
    ``content`` (a binary file or None) after it. Returns the answer dict; an answer
    with ``errno`` becomes an OSError."""
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _BOOT, _PKG_DIR],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin"}, close_fds=True, cwd="/")
    try:
        # through JSON first: plain dict/list/str/number values, as the protocol was
        data = marshal.dumps(json.loads(json.dumps(job)))
        proc.stdin.write(JOB_HEADER.pack(len(data)) + data)
        if content is not None:
            while chunk := content.read(CHUNK):
                proc.stdin.write(chunk)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the child stopped reading: its answer says why
    proc.stdin = None  # closed above; communicate() must not flush it again
    try:
        answer, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise OSError(110, "privileged helper timed out") from None
    try:
        result = json.loads(answer)
    except ValueError:
        raise OSError(5, f"privileged helper failed (status {proc.returncode})") from None
    if "errno" in result:
        raise OSError(result["errno"], result["strerror"])
    return result
