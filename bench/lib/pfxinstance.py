"""A private pfx instance for the benches, set up like the Postfix reference of the same mode.

    with PfxInstance("discard") as mta:            # accept everything, discard(8) it
        measure("accept", "pfx", mta.port, mta.pid, drained=mta.drained)
    with PfxInstance("relay", relay_to=sink.address) as mta:   # relayhost = [127.0.0.1]:PORT
        ...
    with PfxInstance("maildir", maildir_users=100) as mta:    # virtual(8) Maildirs u00..u99
        mta.maildir_count()

Each instance has its own directory ``/tmp/pfxbench.XXXXXX`` holding main.cf, master.cf,
``spool/`` (the queue), ``data/``, ``vmail/`` (mode maildir), ``maillog`` and ``twistd.out``
(twistd's own stdout/stderr). It runs ``twistd -n pfx -c DIR`` from this checkout (the
checkout on PYTHONPATH, so ``twisted/plugins/`` is found) in its own process group; smtpd
listens on 127.0.0.1 at a free port only, with no DNS. Transports are discard, error,
virtual, or smtp to a loopback ``[host]:port``: nothing can leave the machine.

pfx is one process, so its CPU is that process's tree: when pfx runs as root that includes
the privileged helper's fork server, alive, and the children it forked for virtual(8), which
it reaps (they land in its cutime).
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.peers.common import (LOOPBACK, PeerFailed, free_port, remove_tree,
                                        short_tempdir, wait_banner)
from tests.support.peers.postfix import _spread_aliases, maildir_user

ROOT = Path(__file__).resolve().parents[2]
TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
MODES = ("discard", "relay", "maildir")
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")
VMAIL_UID = VMAIL_GID = 65534

# The Postfix reference's rows that pfx has (pfx has no tlsmgr, rewrite, verify, flush,
# proxymap, showq, anvil, scache or postlogd: those are in-process or absent).
MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       retry
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
"""


def spread_mailboxes(users: int, domain: str) -> str:
    """regexp virtual_mailbox_maps sending smtp-source -N recipients (``<seq>u@domain``) to
    the Maildir of ``u<last k digits of seq>`` (the users the reference's regexp
    virtual_alias_maps spreads them over). pfx applies no virtual_alias_maps yet (cleanup does
    not rewrite), so the spread is done at the mailbox lookup instead: same 100 Maildirs, same
    distribution, one regexp lookup per recipient as in Postfix, no alias rewrite."""
    lines = []
    for line in _spread_aliases(users, domain).splitlines():
        pattern, target = line.split(" ", 1)
        local = target.split("@", 1)[0]
        lines.append(f"{pattern} {domain}/{local}/\n")
    return "".join(lines)


class PfxInstance:
    """One private pfx (``twistd -n pfx -c DIR``); modes as tests.support.peers.Postfix."""

    def __init__(self, mode="discard", *, relay_to=None, maildir_users=100,
                 domain="example.test", main_extra=None, hostname="mta.pfx.test",
                 start_timeout=60.0):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if mode == "relay" and (relay_to is None or not relay_to[0].startswith("127.")):
            raise ValueError("relay_to must be a loopback (host, port)")
        self.mode, self.relay_to, self.domain = mode, relay_to, domain
        self.maildir_users = maildir_users
        self.main_extra = dict(main_extra or {})
        self.hostname = hostname
        self.start_timeout = start_timeout
        self.base = None
        self.port = None
        self.proc = None
        self._out = None

    # -- paths ---------------------------------------------------------------------------
    @property
    def spool(self):
        return f"{self.base}/spool"

    @property
    def maillog(self):
        return f"{self.base}/maillog"

    @property
    def address(self):
        return (LOOPBACK, self.port)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    # -- configuration -------------------------------------------------------------------
    def main_cf(self) -> dict:
        t = self.base
        p = {
            "compatibility_level": "3.6",
            "queue_directory": f"{t}/spool", "data_directory": f"{t}/data",
            "maillog_file": f"{t}/maillog", "maillog_file_prefixes": t,
            "myhostname": self.hostname, "mydomain": "pfx.test", "myorigin": "$myhostname",
            "inet_interfaces": LOOPBACK, "inet_protocols": "ipv4",
            "mydestination": "", "alias_maps": "",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtp_dns_support_level": "disabled",
            "local_transport": "error:no local delivery",
            "default_transport": "error:outbound mail disabled in benches",
            "relay_transport": "error:outbound mail disabled in benches",
            "queue_run_delay": "10s", "minimal_backoff_time": "10s",
            "maximal_backoff_time": "20s",
        }
        if self.mode == "discard":
            p.update(default_transport="discard:accepted by bench instance",
                     relay_transport="discard:accepted by bench instance",
                     local_transport="discard:accepted by bench instance")
        elif self.mode == "relay":
            host, port = self.relay_to
            p.update(relayhost=f"[{host}]:{port}", default_transport="smtp",
                     relay_transport="relay")
        else:
            p.update(virtual_mailbox_domains=self.domain,
                     virtual_mailbox_base=f"{t}/vmail",
                     virtual_mailbox_maps=f"texthash:{t}/vmailbox, regexp:{t}/vspread",
                     virtual_uid_maps=f"static:{VMAIL_UID}",
                     virtual_gid_maps=f"static:{VMAIL_GID}",
                     virtual_minimum_uid="100")
        p.update(self.main_extra)
        return p

    def write_config(self):
        with open(f"{self.base}/main.cf", "w") as f:
            f.writelines(f"{k} = {v}\n" for k, v in self.main_cf().items())
        with open(f"{self.base}/master.cf", "w") as f:
            f.write(MASTER_CF.format(listen=f"{LOOPBACK}:{self.port}"))
        if self.mode == "maildir":
            n = self.maildir_users
            with open(f"{self.base}/vmailbox", "w") as f:
                f.writelines(f"{maildir_user(i, n)}@{self.domain} "
                             f"{self.domain}/{maildir_user(i, n)}/\n" for i in range(n))
            with open(f"{self.base}/vspread", "w") as f:
                f.write(spread_mailboxes(n, self.domain))

    # -- life cycle ----------------------------------------------------------------------
    def env(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env.pop("MAIL_CONFIG", None)
        return env

    def argv(self):
        return [*TWISTD, "--pidfile=", "-n", "pfx", "-c", self.base]

    def start(self, attempts=3):
        """Write the configuration, start twistd, wait for smtpd's banner; on any failure
        everything started is stopped and the directory removed before the error goes on."""
        try:
            return self._start(attempts)
        except BaseException:
            self.stop()
            raise

    def _start(self, attempts):
        self.base = short_tempdir("pfxbench.")
        for sub in ("spool", "data", "vmail"):
            os.mkdir(f"{self.base}/{sub}", 0o755)
        if os.geteuid() == 0:
            os.chown(f"{self.base}/vmail", VMAIL_UID, VMAIL_GID)
        error = ""
        for _ in range(attempts):                  # the free port may be taken meanwhile
            self.port = free_port()
            self.write_config()
            self._out = open(f"{self.base}/twistd.out", "ab")
            self.proc = subprocess.Popen(self.argv(), env=self.env(), cwd=self.base,
                                         stdin=subprocess.DEVNULL, stdout=self._out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            try:
                wait_banner(self.address, b"220 ", timeout=self.start_timeout, proc=self.proc,
                            goodbye=b"QUIT\r\n")
                return self
            except PeerFailed as e:
                error = str(e)
                self._halt()
                if "Address already in use" not in self.output():
                    break
        text = f"{error}\ntwistd output:\n{self.output()[-3000:]}\n" \
               f"maillog:\n{self.log_text()[-3000:]}"
        self.stop()
        raise PeerFailed(f"pfx did not start: {text}")

    def _halt(self, timeout=20.0):
        """SIGTERM (clean shutdown), then SIGKILL the whole process group; bounded."""
        proc, self.proc = self.proc, None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)   # helpers left behind, or a stuck twistd
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:       # pragma: no cover
                pass
        if self._out is not None:
            self._out.close()
            self._out = None

    def stop(self):
        self._halt()
        if self.base:
            remove_tree(self.base)
            self.base = None

    def __enter__(self):
        return self if self.proc else self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- observation ---------------------------------------------------------------------
    def output(self):
        try:
            return Path(self.base, "twistd.out").read_text(errors="replace")
        except (FileNotFoundError, TypeError):
            return ""

    def log_text(self):
        try:
            return Path(self.maillog).read_text(errors="replace")
        except (FileNotFoundError, TypeError):
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def queue_count(self):
        """Files in maildrop, incoming, active, deferred and hold (0: all delivered)."""
        return sum(len(files) for q in QUEUES
                   for _, _, files in os.walk(os.path.join(self.spool, q)))

    def maildir_count(self):
        """Delivered files in ``vmail/<domain>/<user>/{new,cur}``."""
        root = Path(self.base, "vmail", self.domain)
        if not root.is_dir():
            return 0
        return sum(len(os.listdir(d / sub)) for d in root.iterdir() for sub in ("new", "cur")
                   if (d / sub).is_dir())
