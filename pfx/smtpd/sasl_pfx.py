"""smtpd_sasl_type = pfx: the built-in SASL backend, for installs without Dovecot.

smtpd_sasl_path names a lookup table (``texthash:/etc/pfx/sasl_users``, ``hash:...``)
whose keys are user names and whose values are salted scrypt hashes written by
``pfx saslpasswd``: ``$scrypt$ln=14,r=8,p=1$<salt b64>$<key b64>``. Mechanisms: PLAIN
and LOGIN (both plaintext: offer them only over TLS, with noplaintext in
smtpd_sasl_security_options). A user name without ``@`` is looked up as given and,
with smtpd_sasl_local_domain set, as ``user@$smtpd_sasl_local_domain`` first.

Security: passwords are compared through hashlib.scrypt and hmac.compare_digest; an
unknown user costs one scrypt too, so timing does not tell which users exist. scrypt
takes tens of milliseconds: it runs through ``run_blocking`` (a thread) when given.
"""

import base64
import binascii
import hashlib
import hmac
import os

from twisted.internet import defer

from pfx.smtpd.sasl_dovecot import Answer, Mechanism
from pfx.tables import match

LN, R_, P = 14, 8, 1
MECHANISMS = [Mechanism("PLAIN", frozenset({"plaintext"})), Mechanism("LOGIN", frozenset({"plaintext"}))]
USERNAME_CHALLENGE = base64.b64encode(b"Username:").decode()
PASSWORD_CHALLENGE = base64.b64encode(b"Password:").decode()
_DUMMY_SALT = b"pfx-no-such-user"


def _scrypt(password: bytes, salt: bytes, ln: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=1 << ln, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)


def make_hash(password: str, salt: bytes | None = None, ln: int = LN) -> str:
    salt = os.urandom(16) if salt is None else salt
    key = _scrypt(password.encode("utf-8"), salt, ln, R_, P)
    b64 = lambda b: base64.b64encode(b).decode().rstrip("=")  # noqa: E731
    return f"$scrypt$ln={ln},r={R_},p={P}${b64(salt)}${b64(key)}"


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def verify(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; None (no such user) burns the same time."""
    try:
        if stored is None:
            raise ValueError
        empty, kind, params, salt, key = stored.strip().split("$")
        if empty or kind != "scrypt":
            raise ValueError
        p = dict(kv.split("=", 1) for kv in params.split(","))
        ln, r, par = int(p["ln"]), int(p["r"]), int(p["p"])
        if not (1 <= ln <= 20 and 1 <= r <= 32 and 1 <= par <= 16):
            raise ValueError
        salt_b, key_b = _unb64(salt), _unb64(key)
    except (ValueError, KeyError, binascii.Error):
        _scrypt(password.encode("utf-8", "surrogateescape"), _DUMMY_SALT, LN, R_, P)
        return False
    got = _scrypt(password.encode("utf-8", "surrogateescape"), salt_b, ln, r, par)
    return hmac.compare_digest(got, key_b)


def _fail(user=""):
    return Answer("fail", "", fields={"user": user} if user else {})


class PfxBackend:
    """Users and hashes from a table (anything with lookup(key), maybe Deferred)."""

    def __init__(self, table, local_domain: str = "", run_blocking=None):
        self.table, self.local_domain = table, local_domain
        self._run = run_blocking or (lambda f, *a: defer.maybeDeferred(f, *a))

    def mechanisms(self):
        return defer.succeed(list(MECHANISMS))

    def exchange(self, mechanism, *, lip="", rip="", secured=False):
        return PfxExchange(self, mechanism)

    @defer.inlineCallbacks
    def check(self, user: str, password: str):
        """-> Deferred[Answer]: ok with user=, or fail."""
        names = [user]
        if "@" not in user and self.local_domain:
            names.insert(0, f"{user}@{self.local_domain}")
        stored, name = None, user
        for candidate in names:
            value = yield defer.maybeDeferred(match.safe_lookup, self.table, candidate.lower())
            if value is not None:
                stored, name = value, candidate
                break
        ok = yield self._run(verify, password, stored)
        return Answer("ok", "", fields={"user": name}) if ok else _fail(user)


class PfxExchange:
    """PLAIN ([authzid] NUL authcid NUL password) and LOGIN (username, then password)."""

    def __init__(self, backend, mechanism):
        self.backend, self.mechanism = backend, mechanism
        self.user = None

    def first(self, initial):
        if initial is None:
            return defer.succeed(Answer("cont", "", data="" if self.mechanism == "PLAIN" else USERNAME_CHALLENGE))
        return self.next(initial)

    def next(self, response):
        try:
            data = base64.b64decode(response, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return defer.succeed(_fail())
        if self.mechanism == "PLAIN":
            parts = data.split("\0")
            if len(parts) != 3 or not parts[1] or (parts[0] and parts[0] != parts[1]):
                return defer.succeed(_fail())
            return self.backend.check(parts[1], parts[2])
        if self.user is None:
            if not data:
                return defer.succeed(_fail())
            self.user = data
            return defer.succeed(Answer("cont", "", data=PASSWORD_CHALLENGE))
        return self.backend.check(self.user, data)

    def abort(self):
        self.user = None
