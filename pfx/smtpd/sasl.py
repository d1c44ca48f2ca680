"""smtpd's SASL AUTH: the settings, which mechanisms a client is offered, and the AUTH
dialogue a session delegates to (Postfix's smtpd_sasl_proto.c / smtpd_sasl_glue.c).

Backends: sasl_dovecot.py (smtpd_sasl_type = dovecot, the recommended one) and
sasl_pfx.py (smtpd_sasl_type = pfx: a lookup table of scrypt hashes). A backend has
``mechanisms() -> Deferred[[Mechanism]]`` and ``exchange(mech, lip=, rip=, secured=)``
whose ``first(initial)`` / ``next(response)`` give Deferred[Answer].

Security: client responses are checked to be base64 before any backend sees them, and
neither they nor passwords are ever logged; only the method and the user name the
backend confirms are. Failures count as errors in the machine (smtpd_hard_error_limit)
and smtpd_client_auth_rate_limit caps AUTH commands per client and time unit.
Parameters read: smtpd_sasl_auth_enable, smtpd_sasl_type, smtpd_sasl_path,
smtpd_sasl_service, smtpd_sasl_security_options, smtpd_sasl_tls_security_options,
smtpd_tls_auth_only, smtpd_sasl_authenticated_header, smtpd_sasl_local_domain,
smtpd_sasl_exceptions_networks, broken_sasl_auth_clients, smtpd_client_auth_rate_limit,
smtpd_sender_login_maps (sasl_login.py).
"""

import re

import attrs
from twisted.internet import defer

from pfx.dsn import Dsn, Reply
from pfx.errors import ConfigError
from pfx.smtp import replies as R
from pfx.smtpd.anvil import RateCounter  # noqa: F401  (it lived here; tests import it)
from pfx.smtpd.netmatch import AddressList

AUTH_OK = Reply(235, Dsn("2.7.0"), "Authentication successful")
TLS_REQUIRED = Reply(504, Dsn("5.5.4"), "Encryption required for requested authentication mechanism")
TYPES = ("dovecot", "pfx")
OPTIONS = frozenset({"noanonymous", "noplaintext", "nodictionary", "noactive", "mutual_auth",
                     "forward_secrecy"})
_B64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")


def auth_failed(reason: str) -> Reply:
    return Reply(535, Dsn("5.7.8"), f"Error: authentication failed: {reason}")


def auth_temp(reason: str) -> Reply:
    return Reply(454, Dsn("4.7.0"), f"Temporary authentication failure: {reason}")


def too_many(addr: str) -> Reply:
    return Reply(450, Dsn("4.7.1"), f"Error: too many AUTH commands from {addr}")


def log_attributes(method: str, username: str, auth_param) -> str:
    """The ``, sasl_method=..., sasl_username=..., sasl_sender=...`` part of smtpd's
    ``client=`` line (never a credential; sasl_sender is MAIL FROM's AUTH=)."""
    text = f", sasl_method={method}, sasl_username={username}" if username else ""
    if auth_param and auth_param != "<>":
        text += f", sasl_sender={R.printable(auth_param, 255)}"
    return text


def is_base64(text: str) -> bool:
    return bool(_B64.match(text))


def parse_options(words, param) -> frozenset:
    opts = frozenset(w.lower() for w in words)
    bad = sorted(opts - OPTIONS)
    if bad:
        raise ConfigError(f'unknown SASL security option "{bad[0]}"', param=param)
    return opts


def allowed(mechanism, options) -> bool:
    """Whether a backend Mechanism passes smtpd_sasl_(tls_)security_options."""
    f = mechanism.flags
    return not (("noanonymous" in options and "anonymous" in f)
                or ("noplaintext" in options and "plaintext" in f)
                or ("nodictionary" in options and "dictionary" in f)
                or ("noactive" in options and "active" in f)
                or ("mutual_auth" in options and "mutual-auth" not in f)
                or ("forward_secrecy" in options and "forward-secrecy" not in f))


@attrs.frozen
class SaslSettings:
    """The SASL parameters of one master.cf row."""

    enabled: bool = False
    type: str = "dovecot"
    path: str = "private/auth"
    service: str = "smtp"
    options: frozenset = frozenset({"noanonymous"})
    tls_options: frozenset = frozenset({"noanonymous"})
    tls_auth_only: bool = False
    authenticated_header: bool = False
    local_domain: str = ""
    exceptions: AddressList = AddressList([])  # smtpd_sasl_exceptions_networks
    rate_exceptions: AddressList = AddressList([])  # smtpd_client_event_limit_exceptions
    broken_clients: bool = False
    rate_limit: int = 0
    login_maps: str = ""


def sasl_settings(settings, exceptions: AddressList, rate_exceptions: AddressList) -> SaslSettings:
    get, text = settings.get, settings.get_str
    kind = text("smtpd_sasl_type").strip().lower()
    enabled = bool(get("smtpd_sasl_auth_enable"))
    if enabled and kind not in TYPES:
        raise ConfigError(f'unsupported SASL server implementation "{kind}" (pfx has {", ".join(TYPES)})',
                          param="smtpd_sasl_type")
    return SaslSettings(
        enabled=enabled, type=kind, path=text("smtpd_sasl_path").strip(),
        service=text("smtpd_sasl_service").strip() or "smtp",
        options=parse_options(settings.get_list("smtpd_sasl_security_options"), "smtpd_sasl_security_options"),
        tls_options=parse_options(settings.get_list("smtpd_sasl_tls_security_options"),
                                  "smtpd_sasl_tls_security_options"),
        tls_auth_only=bool(get("smtpd_tls_auth_only")),
        authenticated_header=bool(get("smtpd_sasl_authenticated_header")),
        local_domain=text("smtpd_sasl_local_domain").strip(),
        exceptions=exceptions, rate_exceptions=rate_exceptions, broken_clients=bool(get("broken_sasl_auth_clients")),
        rate_limit=get("smtpd_client_auth_rate_limit"),
        login_maps=text("smtpd_sender_login_maps").strip())


class AuthDialogue:
    """One session's AUTH: begin(Auth) and respond(AuthResponse) -> Reply or Deferred[Reply].

    ``method`` and ``username`` are set once authentication succeeds.
    """

    def __init__(self, settings: SaslSettings, backend, log, client_addr: str, namaddr, rate=None,
                 local_addr: str = ""):
        self.settings, self.backend, self.log = settings, backend, log
        self.client_addr, self.local_addr = client_addr, local_addr
        self._namaddr = namaddr  # () -> "name[addr]" (the name may come later)
        self.rate = rate
        self.method = self.username = ""
        self._exchange = None
        self._mech = ""
        # the user name of the backend's last answer: Postfix's Dovecot client keeps it and
        # names it in later failure warnings of the session, whatever they are
        self._last_user = ""

    def reset(self):
        """STARTTLS: authentication is forgotten, as the machine forgets it."""
        self.abort()
        self.method = self.username = self._last_user = ""

    def abort(self):
        if self._exchange is not None:
            self._exchange.abort()
        self._exchange = None

    def _options(self, tls: bool):
        return self.settings.tls_options if tls else self.settings.options

    def offered(self, tls: bool) -> defer.Deferred:
        """-> Deferred[[mechanism names]] for EHLO: empty when AUTH is not offered here."""
        s = self.settings
        if not s.enabled or (s.tls_auth_only and not tls) or s.exceptions.match(self.client_addr):
            return defer.succeed([])
        d = self.backend.mechanisms()

        def names(mechs):
            return [m.name for m in mechs if allowed(m, self._options(tls))]

        def failed(failure):
            self.log.warning(f"SASL: cannot get the mechanism list from {s.type}:{s.path}: "
                             f"{failure.getErrorMessage() or failure.type.__name__}")
            return []
        return d.addCallbacks(names, failed)

    def begin(self, event, tls: bool):
        s = self.settings
        if self.rate is not None and s.rate_limit and not s.rate_exceptions.match(self.client_addr):
            count = self.rate(self.client_addr)
            if count > s.rate_limit:
                self.log.warning(f"AUTH command rate limit exceeded: {count} from {self._namaddr()} "
                                 f"for service {s.service}")
                return too_many(self.client_addr)
        if s.tls_auth_only and not tls:
            return TLS_REQUIRED
        mech = event.mechanism.upper()
        initial = event.initial
        if initial == "=":
            initial = ""
        if initial and not is_base64(initial):
            return self._failed(mech, "Invalid base64 data in initial response", "")
        self._mech = mech
        d = self.backend.mechanisms()

        def start(mechs):
            if not any(m.name == mech and allowed(m, self._options(tls)) for m in mechs):
                return self._failed(mech, "Invalid authentication mechanism", "")
            self._exchange = self.backend.exchange(mech, lip=self.local_addr, rip=self.client_addr, secured=tls)
            return self._exchange.first(initial).addCallbacks(self._answer, self._temp)
        return d.addCallbacks(start, self._temp)

    def respond(self, event):
        if self._exchange is None:
            return auth_failed("no authentication in progress")
        if event.response == "*":
            self.abort()
            self.log.warning(f"{self._namaddr()}: SASL {self._mech} authentication aborted")
            return R.AUTH_ABORTED
        if not is_base64(event.response):
            self.abort()
            return self._failed(self._mech, "Invalid base64 data in continued response", "")
        return self._exchange.next(event.response).addCallbacks(self._answer, self._temp)

    def _answer(self, answer):
        if answer.kind == "cont":
            return Reply(334, None, answer.data)
        self._exchange = None
        user = answer.fields.get("user", "")
        self._last_user = user or self._last_user
        if answer.kind == "ok" and user:
            self.method, self.username = self._mech, user
            return AUTH_OK
        reason = answer.fields.get("reason", "") or "(reason unavailable)"
        if "temp" in answer.flags:
            self.log.warning(f"{self._namaddr()}: SASL {self._mech} authentication aborted: {reason}")
            return auth_temp(reason)
        return self._failed(self._mech, reason, user)

    def _failed(self, mech, reason, user):
        self._exchange = None
        user = user or self._last_user
        tail = f", sasl_username={user}" if user else ""
        self.log.warning(f"{self._namaddr()}: SASL {mech} authentication failed: {reason}{tail}")
        return auth_failed(reason)

    def _temp(self, failure):
        self._exchange = None
        why = failure.getErrorMessage() or failure.type.__name__
        self.log.warning(f"{self._namaddr()}: SASL {self._mech or 'AUTH'}: {self.settings.type} "
                         f"authentication server unavailable: {why}")
        return auth_temp("authentication server unavailable")
