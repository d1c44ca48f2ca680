"""A private Postfix (reference MTA, source of real maillog lines), smtp-sink and smtp-source.

    with Postfix("discard") as pf:                       # accept everything, discard it
        swaks(server=pf.address, to="x@example.test")
    with smtp_sink() as sink, Postfix("relay", relay_to=sink.address) as pf:
        ...                                              # everything goes on to smtp-sink
    with Postfix("maildir", maildir_users=100) as pf:    # virtual(8) Maildirs u00..u99@example.test
        pf.maildir_count()

Each instance has its own directory ``/tmp/pfxpf.XXXXXX`` with ``etc/`` (main.cf, master.cf),
``spool/`` (queue), ``data/``, ``vmail/`` and ``maillog`` (written by postlogd, no syslog),
smtpd on ``127.0.0.1:<free port>`` only, no chroot, no DNS (``smtp_dns_support_level =
disabled``) and ``127.0.0.0/8`` as mynetworks (so loopback clients may relay). Nothing can
leave the machine: transports are discard, error, virtual, or smtp to a loopback
``[host]:port``. It needs root and /usr/sbin/postfix (else :class:`PeerUnavailable`). First
start takes about 3 s (the queue is created), stop 0.1 s.

``main_extra`` ({param: value}) is applied last, so any setting can be overridden (e.g.
``smtpd_sasl_path`` for Dovecot SASL; COMPONENTS.md 7).
"""

import os
import signal
import subprocess
import time
from pathlib import Path

from .common import (LOOPBACK, PeerFailed, alive as _alive, free_port, kill_group,
                     process_tree, remove_tree, require_program, require_root, short_tempdir,
                     start_group, wait_banner, wait_until)

POSTFIX = "/usr/sbin/postfix"
SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
SENDMAIL = "/usr/sbin/sendmail"
VMAIL_UID = VMAIL_GID = 65534
MODES = ("discard", "relay", "maildir")
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")

MASTER_CF = """\
{smtpd}
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       lmtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def _spread_aliases(users: int, domain: str) -> str:
    """regexp virtual aliases mapping smtp-source -N recipients (``<seq>u@domain``) onto
    ``u<last k digits of seq>@domain``, k = number of digits of users-1 (users: 10**k)."""
    k = len(str(users - 1)) if users > 1 else 0
    dom = domain.replace(".", r"\.")
    if k == 0:
        return f"/^[0-9]+u@{dom}$/ u0@{domain}\n"
    lines = [f"/^[0-9]*([0-9]{{{k}}})u@{dom}$/ u$1@{domain}\n"]
    for short in range(1, k):                 # sequence numbers with fewer than k digits
        lines.append(f"/^([0-9]{{{short}}})u@{dom}$/ u{'0' * (k - short)}$1@{domain}\n")
    return "".join(lines)


def maildir_user(i: int, users: int) -> str:
    """Local part of the i-th Maildir user: ``u00``..``u99`` for 100 users."""
    return f"u{i:0{max(1, len(str(users - 1)))}d}"


class Postfix:
    """One private Postfix instance.

    mode ``"discard"``: every recipient is accepted and discarded (discard(8));
    ``"relay"``: every recipient goes to ``relay_to=(host, port)`` over SMTP (loopback only);
    ``"maildir"``: ``maildir_users`` virtual(8) Maildir users ``u00..@domain`` under
    ``vmail/``; unknown users are rejected at RCPT. With ``spread=True`` (users a power of 10)
    smtp-source's ``-N -t u@domain`` recipients are spread over the users by a regexp alias.
    """

    def __init__(self, mode="discard", *, relay_to=None, maildir_users=1, domain="example.test",
                 spread=True, main_extra=None, master_extra="", hostname="mta.pfx.test"):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if mode == "relay":
            host, _ = relay_to
            if not host.startswith("127."):
                raise ValueError("relay_to must be a loopback address")
        if mode == "maildir" and spread and str(maildir_users).rstrip("0") != "1":
            raise ValueError("spread=True needs maildir_users = 1, 10, 100, ...")
        self.mode, self.relay_to, self.domain = mode, relay_to, domain
        self.maildir_users, self.spread = maildir_users, spread
        self.main_extra = dict(main_extra or {})
        self.master_extra = master_extra
        self.hostname = hostname
        self.base = None
        self.port = None

    # -- paths ---------------------------------------------------------------------------
    @property
    def etc(self):
        return f"{self.base}/etc"

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
    def master_pid(self):
        try:
            return int(Path(self.spool, "pid", "master.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def users(self):
        """The Maildir users' addresses (mode maildir)."""
        return [f"{maildir_user(i, self.maildir_users)}@{self.domain}"
                for i in range(self.maildir_users)]

    # -- configuration -------------------------------------------------------------------
    def main_cf(self) -> dict:
        t = self.base
        p = {
            "compatibility_level": "3.6",
            "queue_directory": f"{t}/spool", "data_directory": f"{t}/data",
            "mail_owner": "postfix", "setgid_group": "postdrop",
            "maillog_file": f"{t}/maillog", "maillog_file_prefixes": t,
            "syslog_name": "postfix",
            "myhostname": self.hostname, "mydomain": "pfx.test", "myorigin": "$myhostname",
            "inet_interfaces": LOOPBACK, "inet_protocols": "ipv4",
            "mydestination": "", "alias_maps": "", "alias_database": "", "biff": "no",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "smtp_dns_support_level": "disabled", "smtp_host_lookup": "native",
            "smtpd_peername_lookup": "no",
            "local_transport": "error:no local delivery",
            "default_transport": "error:outbound mail disabled in tests",
            "relay_transport": "error:outbound mail disabled in tests",
            "queue_run_delay": "10s", "minimal_backoff_time": "10s",
            "maximal_backoff_time": "20s",
        }
        if self.mode == "discard":
            p.update(default_transport="discard:accepted by test instance",
                     relay_transport="discard:accepted by test instance",
                     local_transport="discard:accepted by test instance")
        elif self.mode == "relay":
            host, port = self.relay_to
            p.update(default_transport=f"smtp:[{host}]:{port}",
                     relay_transport=f"smtp:[{host}]:{port}")
        else:
            p.update(virtual_mailbox_domains=self.domain,
                     virtual_mailbox_base=f"{t}/vmail",
                     virtual_mailbox_maps=f"texthash:{t}/etc/vmailbox",
                     virtual_uid_maps=f"static:{VMAIL_UID}",
                     virtual_gid_maps=f"static:{VMAIL_GID}",
                     virtual_minimum_uid="100")
            if self.spread:
                p["virtual_alias_maps"] = f"regexp:{t}/etc/vspread"
        p.update(self.main_extra)
        return p

    def write_config(self):
        os.makedirs(self.etc, exist_ok=True)
        with open(f"{self.etc}/main.cf", "w") as f:
            f.writelines(f"{k} = {v}\n" for k, v in self.main_cf().items())
        smtpd = f"{LOOPBACK}:{self.port} inet n - n - - smtpd"
        with open(f"{self.etc}/master.cf", "w") as f:
            f.write(MASTER_CF.format(smtpd=smtpd) + self.master_extra)
        if self.mode == "maildir":
            n = self.maildir_users
            with open(f"{self.etc}/vmailbox", "w") as f:
                f.writelines(f"{maildir_user(i, n)}@{self.domain} "
                             f"{self.domain}/{maildir_user(i, n)}/\n" for i in range(n))
            with open(f"{self.etc}/vspread", "w") as f:
                f.write(_spread_aliases(n, self.domain))

    # -- life cycle ----------------------------------------------------------------------
    def postfix(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", self.etc, *args], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def diagnose(self) -> str:
        """`postfix check` under a pseudo-tty (Postfix prints fatals only to a tty) + log tail."""
        done = subprocess.run(["script", "-qc", f"{POSTFIX} -c {self.etc} check", "/dev/null"],
                              capture_output=True, text=True, timeout=60)
        return f"postfix check: {done.stdout}{done.stderr}\nmaillog:\n{self.log_text()[-3000:]}"

    def start(self, attempts=3):
        require_program(POSTFIX, "Postfix")
        require_root("A private Postfix instance")
        self.base = short_tempdir("pfxpf.")
        for sub in ("spool", "data", "vmail"):
            os.mkdir(f"{self.base}/{sub}", 0o755)
        os.chown(f"{self.base}/data", _uid("postfix"), -1)
        os.chown(f"{self.base}/vmail", VMAIL_UID, VMAIL_GID)
        error = ""
        for _ in range(attempts):                 # the free port may be taken meanwhile
            self.port = free_port()
            self.write_config()
            done = self.postfix("start")
            if done.returncode != 0:
                error = f"postfix start: rc {done.returncode} {done.stderr}"
                if f"port {self.port}: Address already in use" in self.log_text():
                    self._halt()
                    continue
                break
            try:
                wait_banner(self.address, b"220 ", timeout=15, goodbye=b"QUIT\r\n")
                return self
            except PeerFailed as e:
                error = str(e)
                self._halt()
        text = self.diagnose()
        self.stop()
        raise PeerFailed(f"postfix did not start: {error}\n{text}")

    def _tree(self):
        pid = self.master_pid
        return process_tree(pid) if pid else []

    def _halt(self, timeout=10.0):
        """Stop the master and make sure every process of the tree is gone (bounded)."""
        pids = self._tree()
        if not pids:
            return
        self.postfix("stop", timeout=30)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(_alive(p) for p in pids):
            time.sleep(0.05)
        for p in pids:
            if _alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def stop(self):
        if self.base:
            self._halt()
            remove_tree(self.base)
            self.base = None

    def reload(self, **main_extra):
        """Change main.cf parameters and `postfix reload`."""
        self.main_extra.update(main_extra)
        self.write_config()
        done = self.postfix("reload")
        assert done.returncode == 0, self.diagnose()

    def __enter__(self):
        """Start unless already started, so a started peer works in a with statement too."""
        return self if self.base else self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- observation ---------------------------------------------------------------------
    def log_text(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except (FileNotFoundError, TypeError):
            return ""

    def wait_for_log(self, needle, count=1, timeout=10.0):
        """Wait until ``needle`` occurs ``count`` times in the maillog; return the log text."""
        return wait_until(lambda: self.log_text().count(needle) >= count and self.log_text(),
                          timeout, what=f"{count} x {needle!r} in {self.maillog}")

    def queue_count(self):
        """Queue files in maildrop, incoming, active, deferred and hold (0 = all done)."""
        return sum(len(files) for q in QUEUES
                   for _, _, files in os.walk(os.path.join(self.spool, q)))

    def maildir_count(self, user=None):
        """Delivered files in the virtual Maildirs ``vmail/<domain>/<user>/{new,cur}`` (one
        user's local part, or all)."""
        root = Path(self.base, "vmail", self.domain)
        dirs = [root / user] if user else (list(root.iterdir()) if root.is_dir() else [])
        return sum(len(os.listdir(d / sub)) for d in dirs for sub in ("new", "cur")
                   if (d / sub).is_dir())

    def sendmail(self, message: bytes, sender, recipients, timeout=30):
        """Local submission through postdrop/pickup (gives the ``pickup ... uid=`` lines)."""
        return subprocess.run([SENDMAIL, "-C", self.etc, "-f", sender, *recipients],
                              input=message, capture_output=True, timeout=timeout)


def _uid(name):
    import pwd
    return pwd.getpwnam(name).pw_uid


# -- smtp-sink / smtp-source -----------------------------------------------------------------
class SmtpSink:
    """``smtp-sink`` on 127.0.0.1: accepts everything unless ``options`` say otherwise
    (``-r RCPT``: 450 at RCPT; ``-f RCPT``: 500; ``-q CMD``: disconnect; ``-L``: speak LMTP;
    ``-c``: count; see smtp-sink(1)). ``.address`` is (host, port)."""

    def __init__(self, port=None, *options, backlog=64):
        self.options, self.backlog = options, backlog
        self.requested_port = port
        self.port = None
        self.proc = None

    def start(self, attempts=3):
        require_program(SMTP_SINK, "smtp-sink (package postfix)")
        for _ in range(attempts):
            self.port = self.requested_port or free_port()
            self.proc = start_group([SMTP_SINK, "-u", "postfix", *self.options,
                                     f"{LOOPBACK}:{self.port}", str(self.backlog)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                wait_banner(self.address, b"220 ", timeout=10, proc=self.proc,
                            goodbye=b"QUIT\r\n")
                return self
            except PeerFailed as e:
                err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
                kill_group(self.proc)
                error = f"{e} {err}"
        raise PeerFailed(f"smtp-sink did not start: {error}")

    @property
    def address(self):
        return (LOOPBACK, self.port)

    def stop(self):
        kill_group(self.proc)
        self.proc = None

    def __enter__(self):
        """Start unless already started, so a started peer works in a with statement too."""
        return self if self.proc else self.start()

    def __exit__(self, *exc):
        self.stop()


def smtp_sink(port=None, *options, backlog=64) -> SmtpSink:
    """Start smtp-sink now; use as ``with smtp_sink() as sink:`` (or call ``.stop()``)."""
    return SmtpSink(port, *options, backlog=backlog).start()


def smtp_source_argv(port, host=LOOPBACK, *, messages=1, sessions=1, size=None, recipients=1,
                     sender="sender@client.test", to="rcpt@example.test", helo="client.test",
                     sequence=False, reuse=False, lmtp=False, subject=None, message_file=None,
                     extra=()):
    """The smtp-source(1) command line. ``reuse``: -d (several messages per connection;
    default is one connection per message); ``sequence``: -N (numbered recipients
    ``1rcpt@...``); ``size``: -l payload bytes; ``message_file``: -F."""
    if not host.startswith("127.") and host != "::1":
        raise ValueError("smtp-source only against loopback")
    argv = [SMTP_SOURCE, "-m", str(messages), "-s", str(sessions), "-r", str(recipients),
            "-f", sender, "-t", to, "-M", helo]
    if size is not None:
        argv += ["-l", str(size)]
    if sequence:
        argv.append("-N")
    if reuse:
        argv.append("-d")
    if lmtp:
        argv.append("-L")
    if subject:
        argv += ["-S", subject]
    if message_file:
        argv += ["-F", str(message_file)]
    return [*argv, *extra, f"inet:{host}:{port}"]


def smtp_source(port, host=LOOPBACK, *, timeout=300, **options):
    """Run smtp-source to completion. Returns (CompletedProcess, elapsed seconds)."""
    require_program(SMTP_SOURCE, "smtp-source (package postfix)")
    argv = smtp_source_argv(port, host, **options)
    t0 = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return done, time.monotonic() - t0
