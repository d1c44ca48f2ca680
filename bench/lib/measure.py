"""Drive a server with smtp-source and measure throughput and the CPU its process tree used.

    result = measure("accept", "pfx", port, root_pid, messages=5000, sessions=20, size=5120,
                     drained=lambda: queue_files(spool) == 0)
    print(format_table([result]))

Figures:

- accept msgs/s: messages / wall time of smtp-source (until the last 250 after DATA);
- total msgs/s: messages / wall time until ``drained()`` is true (the queue is empty, or the
  Maildirs hold every message), i.e. including delivery;
- server CPU-s per 1000 msgs: CPU (user + system) the server's process TREE used between the
  start of the run and the drain, from /proc (:func:`tree_cpu_seconds`), per 1000 messages;
- client CPU-s: smtp-source's own CPU (from getrusage of reaped children), for reference.

The load generator runs on the same machine, so on a 2-core box it competes with the server;
compare figures taken on the same machine only.
"""

import dataclasses
import json
import os
import resource
import subprocess
import time

from tests.support.peers.postfix import SMTP_SOURCE, smtp_source_argv

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    """(ppid, utime, stime, cutime, cstime) in clock ticks from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # rest[0] is the state (field 3); ppid is field 4, utime..cstime are fields 14-17
    return int(rest[1]), int(rest[11]), int(rest[12]), int(rest[13]), int(rest[14])


def _exec_runtime(pid):
    """Precise CPU seconds of the live threads of ``pid`` (se.sum_exec_runtime, in ms, from
    /proc/PID/task/*/sched; needs CONFIG_SCHED_DEBUG), or None when unavailable."""
    total, found = 0.0, False
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/sched") as f:
                for line in f:
                    if line.startswith("se.sum_exec_runtime"):
                        total += float(line.split(":")[1])
                        found = True
                        break
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total / 1000 if found else None


def process_cpu_seconds(utime, stime, pid=None) -> float:
    """One live process's own CPU seconds. /proc/PID/stat truncates utime and stime to clock
    ticks (10 ms each), which adds up over the ~30 processes of a Postfix; the scheduler's
    exact runtime of the live threads is used instead when it lies within those two ticks (it
    misses threads that already exited, so the stat value is the floor)."""
    ticks = (utime + stime) / CLK_TCK
    exact = _exec_runtime(pid) if pid is not None else None
    if exact is None:
        return ticks
    return min(max(exact, ticks), ticks + 2 / CLK_TCK)


def tree_cpu_seconds(root_pid) -> float:
    """CPU seconds used so far by ``root_pid`` and its descendants.

    Sums the own CPU (user + system, :func:`process_cpu_seconds`) of every process of the tree
    still present (zombies included) plus the cutime+cstime of each: the CPU of children that
    exited and were reaped by a tree member (Postfix's master reaps smtpd, cleanup, ...: the
    root's cutime holds them) stays counted. Processes reparented away from the tree are
    lost; a child reaped during the scan may be counted twice or not at all (rare)."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(entry)
            if fields:
                stats[int(entry)] = fields
    children = {}
    for pid, fields in stats.items():
        children.setdefault(fields[0], []).append(pid)
    total, todo, seen = 0.0, [root_pid], set()
    while todo and len(seen) < 100000:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        _, utime, stime, cutime, cstime = stats[pid]
        total += process_cpu_seconds(utime, stime, pid) + (cutime + cstime) / CLK_TCK
        todo.extend(children.get(pid, ()))
    return total


def queue_files(spool, queues=("maildrop", "incoming", "active", "deferred", "hold")) -> int:
    """Number of files under the given queue directories of a Postfix-layout spool."""
    return sum(len(files) for q in queues for _, _, files in os.walk(os.path.join(spool, q)))


@dataclasses.dataclass
class Result:
    scenario: str
    server: str
    messages: int
    sessions: int
    size: int
    recipients: int
    accept_seconds: float
    total_seconds: float
    server_cpu_seconds: float
    client_cpu_seconds: float
    returncode: int
    stderr: str = ""

    @property
    def accept_rate(self):
        return self.messages / self.accept_seconds if self.accept_seconds else 0.0

    @property
    def total_rate(self):
        return self.messages / self.total_seconds if self.total_seconds else 0.0

    @property
    def cpu_per_1000(self):
        return self.server_cpu_seconds * 1000 / self.messages if self.messages else 0.0

    def as_dict(self):
        d = dataclasses.asdict(self)
        d.update(accept_rate=round(self.accept_rate, 1), total_rate=round(self.total_rate, 1),
                 cpu_per_1000=round(self.cpu_per_1000, 3))
        return d


def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(scenario, server, port, root_pid, *, messages=5000, sessions=20, size=5120,
            recipients=1, drained=None, drain_timeout=600.0, source_timeout=1800.0,
            **source_options) -> Result:
    """Send ``messages`` with smtp-source to 127.0.0.1:``port`` and account the CPU of the
    process tree under ``root_pid``. ``drained()`` (optional) says when the server has
    finished delivering; without it the run ends with smtp-source. Other keyword options go to
    :func:`tests.support.peers.postfix.smtp_source_argv` (``reuse``, ``sequence``, ``to``...).
    """
    argv = smtp_source_argv(port, messages=messages, sessions=sessions, size=size,
                            recipients=recipients, **source_options)
    if not os.access(SMTP_SOURCE, os.X_OK):
        raise RuntimeError(f"{SMTP_SOURCE} is not installed (package postfix)")
    cpu0, client0 = tree_cpu_seconds(root_pid), _children_cpu()
    t0 = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=source_timeout,
                          stdin=subprocess.DEVNULL)
    t_accept = time.monotonic() - t0
    client = _children_cpu() - client0
    if drained is not None and done.returncode == 0:
        deadline = time.monotonic() + drain_timeout
        while not drained():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{scenario}: not drained after {drain_timeout}s")
            time.sleep(0.02)
    t_total = time.monotonic() - t0
    cpu = tree_cpu_seconds(root_pid) - cpu0
    return Result(scenario, server, messages, sessions, size, recipients, t_accept, t_total,
                  cpu, client, done.returncode, done.stderr[-2000:])


HEADER = (f"{'scenario':<10} {'server':<8} {'msgs':>6} {'sess':>4} {'size':>6} {'rcpt':>4} "
          f"{'accept_s':>8} {'accept_msg/s':>12} {'total_s':>8} {'total_msg/s':>11} "
          f"{'cpu_s':>7} {'cpu_s/1000msg':>13} {'client_cpu_s':>12}")


def format_row(r: Result) -> str:
    line = (f"{r.scenario:<10} {r.server:<8} {r.messages:>6} {r.sessions:>4} {r.size:>6} "
            f"{r.recipients:>4} {r.accept_seconds:>8.2f} {r.accept_rate:>12.1f} "
            f"{r.total_seconds:>8.2f} {r.total_rate:>11.1f} {r.server_cpu_seconds:>7.2f} "
            f"{r.cpu_per_1000:>13.3f} {r.client_cpu_seconds:>12.2f}")
    if r.returncode != 0:
        line += f"  FAILED rc={r.returncode}: {r.stderr.strip()[-200:]}"
    return line


def format_table(results) -> str:
    return "\n".join([HEADER, *map(format_row, results)])


def format_json(results) -> str:
    return json.dumps([r.as_dict() for r in results], indent=1)
