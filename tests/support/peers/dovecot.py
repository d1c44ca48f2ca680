"""A throwaway Dovecot (LMTP, IMAP, SASL auth) from a self-contained config.

    with Dovecot() as dc:                       # or the pytest fixture ``dovecot``
        dc.lmtp_port, dc.lmtp_socket            # 127.0.0.1:<free port>, /tmp/pfxdc.XXXX/run/lmtp
        dc.imap_port, dc.auth_port, dc.auth_socket
        msgs = dc.fetch_all("alice@example.test")           # IMAP, byte-exact (CRLF as served)
        dc.maildir_files("alice@example.test")              # paths in Maildir/new and cur

Users (COMPONENTS.md 1.1; any other address gets 550 5.1.1 at RCPT):

=========  ========  ==============================================================
user       password  behaviour
=========  ========  ==============================================================
alice      alicepw   normal
bob        bobpw     normal
carol      carolpw   1K quota: ``552 5.2.2`` after DATA for a message over 1 KB
dave       davepw    1K quota + tempfail: ``452 4.2.2`` after DATA
erin       erinpw    Maildir cannot be created: ``451 4.2.0`` after DATA
tempfail   x         userdb uid 0 is refused: ``451 4.3.0`` at RCPT
=========  ========  ==============================================================

All are ``@example.test``. Dovecot runs ``-F`` in its own process group; ``stop()`` is a
SIGKILL of the group (instant; a graceful stop takes 2-6 s). It needs root (mail is stored as
uid 65534) and /usr/sbin/dovecot; otherwise :class:`PeerUnavailable` (the fixture skips).
"""

import dataclasses
import imaplib
import os
import subprocess
import time
from pathlib import Path

from .common import (LOOPBACK, PeerFailed, free_port, kill_group, remove_tree, require_program,
                     require_root, short_tempdir, start_group, wait_banner)

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
MAIL_UID = MAIL_GID = 65534          # nobody: Dovecot refuses uid 0 for mail access
DOMAIN = "example.test"


@dataclasses.dataclass(frozen=True)
class MailUser:
    """One passwd-file line. ``extra`` are userdb/passdb extra fields; ``{base}`` in them is
    replaced by the instance directory (for paths such as erin's unwritable home)."""
    address: str
    password: str
    extra: str = ""

    def line(self, base: str) -> str:
        return f"{self.address}:{{PLAIN}}{self.password}::::::{self.extra.format(base=base)}"


DEFAULT_USERS = (
    MailUser(f"alice@{DOMAIN}", "alicepw"),
    MailUser(f"bob@{DOMAIN}", "bobpw"),
    MailUser(f"carol@{DOMAIN}", "carolpw", "userdb_quota_rule=*:storage=1K"),
    MailUser(f"dave@{DOMAIN}", "davepw",
             "userdb_quota_rule=*:storage=1K userdb_quota_full_tempfail=yes"),
    MailUser(f"erin@{DOMAIN}", "erinpw", "userdb_home={base}/readonly/erin"),
    MailUser(f"tempfail@{DOMAIN}", "x", "userdb_uid=0"),
)


def write_users(path, users=DEFAULT_USERS, base=None):
    """Write a Dovecot passwd-file (atomically: Dovecot re-reads it when it changes)."""
    path = Path(path)
    base = str(base if base is not None else path.parent)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(u.line(base) + "\n" for u in users))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def dovecot_conf(base, lmtp_port, imap_port, auth_port, hostname="mx.example.test",
                 extra="") -> str:
    """The complete configuration (nothing is read from /etc/dovecot)."""
    return f"""\
# Throwaway Dovecot instance for pfx tests. Self-contained: no !include.
protocols = imap lmtp
listen = {LOOPBACK}
base_dir = {base}/run
state_dir = {base}/state
instance_name = pfx-dovecot-{lmtp_port}
log_path = {base}/log/dovecot.log
info_log_path = {base}/log/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
mail_uid = {MAIL_UID}
mail_gid = {MAIL_GID}
first_valid_uid = {MAIL_UID}
first_valid_gid = {MAIL_GID}
mail_location = maildir:~/Maildir
mail_plugins = quota
lmtp_rcpt_check_quota = no
postmaster_address = postmaster@{DOMAIN}
hostname = {hostname}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {base}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {base}/users
  default_fields = uid={MAIL_UID} gid={MAIL_GID} home={base}/mail/%d/%n
}}
plugin {{
  quota = maildir:User quota
  quota_rule = *:storage=0
}}
service imap-login {{
  inet_listener imap {{
    address = {LOOPBACK}
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = {LOOPBACK}
    port = {lmtp_port}
  }}
}}
service auth {{
  unix_listener auth-client {{
    mode = 0666
  }}
  inet_listener auth-inet {{
    address = {LOOPBACK}
    port = {auth_port}
  }}
}}
{extra}"""


class Dovecot:
    """One Dovecot instance under ``/tmp/pfxdc.XXXXXX``. Use as a context manager or call
    :meth:`start` / :meth:`stop`. ``extra_conf`` is appended to dovecot.conf verbatim."""

    def __init__(self, users=DEFAULT_USERS, extra_conf="", hostname="mx.example.test"):
        self.users = tuple(users)
        self.extra_conf = extra_conf
        self.hostname = hostname
        self.base = None
        self.proc = None
        self.lmtp_port = self.imap_port = self.auth_port = None
        self._generation = 0

    # -- paths ---------------------------------------------------------------------------
    @property
    def conf_path(self):
        return f"{self.base}/dovecot.conf"

    @property
    def users_path(self):
        return f"{self.base}/users"

    @property
    def log_path(self):
        return f"{self.base}/log/dovecot.log"

    @property
    def lmtp_socket(self):
        return f"{self.base}/run/lmtp"

    @property
    def auth_socket(self):
        """For ``smtpd_sasl_path`` (Dovecot auth-client protocol, COMPONENTS.md 1.4)."""
        return f"{self.base}/run/auth-client"

    def password(self, address):
        return {u.address: u.password for u in self.users}[address]

    def home(self, address) -> Path:
        local, domain = address.split("@", 1)
        return Path(self.base) / "mail" / domain / local

    # -- life cycle ----------------------------------------------------------------------
    def start(self, attempts=3):
        require_program(DOVECOT, "Dovecot (dovecot-core, dovecot-lmtpd, dovecot-imapd)")
        require_root("Dovecot")
        self.base = short_tempdir("pfxdc.")
        for sub in ("run", "state", "log", "mail", "readonly"):
            os.mkdir(f"{self.base}/{sub}", 0o755)
        os.chown(f"{self.base}/mail", MAIL_UID, MAIL_GID)
        write_users(self.users_path, self.users, self.base)
        error = None
        for _ in range(attempts):             # a free port may be taken before Dovecot binds it
            self.lmtp_port, self.imap_port, self.auth_port = free_port(), free_port(), free_port()
            with open(self.conf_path, "w") as f:
                f.write(dovecot_conf(self.base, self.lmtp_port, self.imap_port, self.auth_port,
                                     self.hostname, self.extra_conf))
            log = open(f"{self.base}/log/stderr", "ab")
            self.proc = start_group([DOVECOT, "-F", "-c", self.conf_path], stdout=log,
                                    stderr=log)
            log.close()
            try:
                wait_banner((LOOPBACK, self.lmtp_port), b"220 ", proc=self.proc,
                            goodbye=b"QUIT\r\n")
                wait_banner((LOOPBACK, self.imap_port), b"* OK", proc=self.proc,
                            goodbye=b"x LOGOUT\r\n")
                wait_banner((LOOPBACK, self.auth_port), b"VERSION", proc=self.proc)
                return self
            except PeerFailed as e:
                error = e
                kill_group(self.proc)
                self.proc = None
        text = self.log_text() + open(f"{self.base}/log/stderr").read()
        self.stop()
        raise PeerFailed(f"dovecot did not start: {error}\n{text[-3000:]}")

    def stop(self):
        kill_group(self.proc)
        self.proc = None
        remove_tree(self.base)

    def __enter__(self):
        """Start unless already started, so a started peer works in a with statement too."""
        return self if self.proc else self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- helpers -------------------------------------------------------------------------
    def set_users(self, users, timeout=5.0):
        """Replace the passwd-file and wait until Dovecot uses it. Dovecot notices the change
        by itself, but checks the file at most once a second; a sentinel user per version,
        looked up with ``doveadm user``, tells when the new version is loaded."""
        self.users = tuple(users)
        self._generation += 1
        sentinel = f"gen{self._generation}@sentinel.invalid"
        write_users(self.users_path, [*self.users, MailUser(sentinel, "-")], self.base)
        deadline = time.monotonic() + timeout
        while subprocess.run([DOVEADM, "-c", self.conf_path, "user", sentinel],
                             capture_output=True, timeout=30).returncode != 0:
            if time.monotonic() > deadline:
                raise PeerFailed(f"dovecot did not reload {self.users_path} in {timeout}s")
            time.sleep(0.1)

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def maildir_files(self, address):
        """Delivered message files (new/ and cur/ of INBOX), oldest name first."""
        md = self.home(address) / "Maildir"
        return sorted(p for sub in ("new", "cur") if (md / sub).is_dir()
                      for p in (md / sub).iterdir())

    def imap(self, address, password=None) -> imaplib.IMAP4:
        """A logged-in IMAP4 connection (plaintext LOGIN on loopback); caller logs out."""
        m = imaplib.IMAP4(LOOPBACK, self.imap_port, timeout=10)
        m.login(address, password if password is not None else self.password(address))
        return m

    def fetch_all(self, address, password=None, mailbox="INBOX"):
        """Every message in ``mailbox`` as the exact bytes IMAP serves (RFC822, CRLF lines;
        Dovecot's Return-Path and Received are at the top, see :func:`strip_trace`)."""
        m = self.imap(address, password)
        try:
            typ, _ = m.select(mailbox, readonly=True)
            assert typ == "OK", typ
            typ, data = m.search(None, "ALL")
            return [self._fetch(m, num) for num in data[0].split()]
        finally:
            m.logout()

    def fetch_by_message_id(self, address, message_id, password=None, mailbox="INBOX"):
        """The messages whose Message-ID header contains ``message_id`` (bytes, as served)."""
        m = self.imap(address, password)
        try:
            m.select(mailbox, readonly=True)
            typ, data = m.search(None, "HEADER", "Message-ID", message_id)
            return [self._fetch(m, num) for num in data[0].split()]
        finally:
            m.logout()

    @staticmethod
    def _fetch(m, num):
        typ, data = m.fetch(num, "(BODY.PEEK[])")
        assert typ == "OK", (typ, data)
        return data[0][1]

    def wait_for_messages(self, address, count, timeout=10.0):
        """Poll the Maildir until ``count`` messages are there; return their file paths."""
        deadline = time.monotonic() + timeout
        while True:
            files = self.maildir_files(address)
            if len(files) >= count or time.monotonic() >= deadline:
                return files
            time.sleep(0.05)


def strip_trace(message: bytes) -> bytes:
    """Drop the header lines Dovecot's LMTP prepends (``Return-Path``, ``Delivered-To`` and
    its own ``Received``, with continuation lines), so the rest can be compared byte for byte
    with what the MTA handed over. Stops after the first Received."""
    rest = message
    while True:
        name = rest.split(b":", 1)[0].lower()
        if name not in (b"return-path", b"delivered-to", b"received"):
            return rest
        end = rest.find(b"\n")
        while end != -1 and rest[end + 1:end + 2] in (b" ", b"\t"):
            end = rest.find(b"\n", end + 1)
        rest = b"" if end == -1 else rest[end + 1:]
        if name == b"received":
            return rest
