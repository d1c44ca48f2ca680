"""smtpd_*_restrictions evaluation: lists, restriction classes, smtpd_delay_reject and the
defer_if_permit / defer_if_reject / warn_if_reject modifiers (Postfix's smtpd_check.c).

A restriction is ``fn(state, arg) -> result`` (or a Deferred of one) registered in
RESTRICTIONS by name; ``arg`` is the next word of the list for restrictions that take
one (``check_client_access hash:/x``). Results: PERMIT, DUNNO (None), DEFER_IF_PERMIT /
DEFER_IF_REJECT markers, or a Reply (4xx defers, 5xx rejects). The built-in restrictions
live in restrictions.py and register themselves; table- and address-based families
(access maps, local_recipient_maps) register the same way from their own modules.
"""

import attrs
from twisted.internet import defer
from twisted.python.failure import Failure

from pfx.address.resolve import resolve
from pfx.dsn import Dsn, Reply

PERMIT = "permit"
DUNNO = None

# stage -> the words a generic reply names it by ("<x>: Client host rejected: ...")
STAGE_CLASS = {"client": "Client host", "helo": "Helo command", "sender": "Sender address",
               "relay": "Recipient address", "recipient": "Recipient address",
               "data": "Data command", "end_of_data": "End-of-data"}


# X.1.<micro> -> the detail a sender / a recipient rejection carries (smtpd_dsn_fix.c):
# an address status is made to name the address actually rejected.
_SENDER_DSN = {"1": "1.7", "2": "1.8", "3": "1.7", "4": "1.7", "5": "1.0", "6": "1.7",
               "7": "1.7", "8": "1.8"}
_RECIPIENT_DSN = {"1": "1.1", "2": "1.2", "3": "1.3", "4": "1.4", "5": "1.5", "6": "1.6",
                  "7": "1.3", "8": "1.2"}


def fix_dsn(code: int, dsn: str, stage: str) -> str:
    """``dsn`` with the reply code's class, and an address detail (X.1.Y) that fits
    the stage: 5.1.1 while rejecting a sender becomes 5.1.7; any X.1.Y while rejecting
    a client, HELO or DATA becomes X.0.0."""
    klass = str(code)[0]
    _, subject, detail = dsn.split(".", 2)
    if subject == "1":
        table = {"sender": _SENDER_DSN, "recipient": _RECIPIENT_DSN,
                 "relay": _RECIPIENT_DSN}.get(stage)
        return f"{klass}.{table.get(detail, '1.0')}" if table is not None else f"{klass}.0.0"
    return f"{klass}.{subject}.{detail}"


@attrs.frozen
class Restriction:
    fn: object
    takes_arg: bool = False


RESTRICTIONS: dict[str, Restriction] = {}


def restriction(name, takes_arg=False):
    """Decorator: register ``fn`` as the restriction ``name``."""
    def register(fn):
        RESTRICTIONS[name] = Restriction(fn, takes_arg)
        return fn
    return register


@attrs.define
class CheckState:
    """What the restrictions may look at; the session fills it in as the dialogue goes."""

    config: object  # SmtpdConfig
    client_name: str = "unknown"
    client_addr: str = ""
    helo: str | None = None
    esmtp: bool = False
    sender: str | None = None
    recipient: str | None = None
    command: str = "CONNECT"  # the SMTP command being checked: RCPT, DATA, END-OF-MESSAGE ...
    stage: str = "client"
    input_pending: bool = False  # unread client input at the time of the command
    sasl_authenticated: bool = False
    sasl_username: str = ""
    sasl_method: str = ""
    sasl_sender: str = ""  # MAIL FROM AUTH= (for policy servers)
    tables: object = None  # opens "type:name" lists, or None when no tables are installed
    notes: list = attrs.field(factory=list)  # WARN texts from access tables, for the log
    infos: list = attrs.field(factory=list)  # INFO texts from access tables, for the log
    actions: list = attrs.field(factory=list)  # access(5) HOLD, ... PREPEND: (name, value, log text)
    warnings: list = attrs.field(factory=list)  # configuration problems to log as warnings
    run_list: object = None  # the running evaluation's list runner, for nested lists
    resolver: object = None  # a twisted.names IResolver, for the DNS restrictions
    policy: object = None  # (spec, attrs) -> Deferred[action], for check_policy_service
    instance: str = ""  # the transaction's id for policy servers
    rcpt_count: int = 0  # recipients accepted so far
    resolved: dict = attrs.field(factory=dict)  # address -> Resolution, for one evaluation


    def resolve(self, address: str):
        """pfx.address.resolve(address) once per evaluation: the relay check and
        reject_unlisted_recipient ask for the same recipient, and Postfix's
        resolve_clnt answers a repeated query from its cache as well."""
        found = self.resolved.get(address)
        if found is None:
            found = self.resolved[address] = resolve(address, self.config.resolve)
        return found

    @property
    def namaddr(self) -> str:
        return f"{self.client_name}[{self.client_addr}]"

    def subject(self, stage=None) -> str:
        """What a generic reject names: the client, HELO name, address or command."""
        stage = stage or self.stage
        if stage == "client":
            return self.namaddr
        if stage == "helo":
            return self.helo or ""
        if stage == "sender":
            return self.sender or ""
        if stage in ("relay", "recipient"):
            return self.recipient or ""
        return self.command

    def reply(self, code: int, dsn: str, text: str, stage=None) -> Reply:
        """``CODE X.Y.Z <subject>: Class rejected: text`` with dsn's class made to agree."""
        stage = stage or self.stage
        return Reply(code, Dsn(fix_dsn(code, dsn, stage)),
                     f"<{self.subject(stage)}>: {STAGE_CLASS[stage]} rejected: {text}")


@attrs.frozen
class Verdict:
    """The outcome of one check: ``reply`` None means go on; ``warnings`` are replies that
    warn_if_reject turned into log lines."""

    reply: Reply | None = None
    warnings: tuple = ()

    @property
    def accepted(self) -> bool:
        return self.reply is None


class _Marker:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


@attrs.frozen
class DeferIfPermit:
    """defer_if_permit with the restriction's own reply (a DNS lookup that failed for now,
    an access(5) DEFER_IF_PERMIT)."""

    reply: Reply


@attrs.frozen
class DeferIfReject:
    """defer_if_reject with its own reply (an access(5) DEFER_IF_REJECT)."""

    reply: Reply


DEFER_IF_PERMIT = _Marker("DEFER_IF_PERMIT")
DEFER_IF_REJECT = _Marker("DEFER_IF_REJECT")


class ConfigProblem(Exception):
    """A restriction list names something unknown: Postfix answers 451 4.3.5 and logs it."""


SERVER_CONFIG_ERROR = Reply(451, Dsn("4.3.5"), "Server configuration error")


class _Run:
    """One evaluation's modifier state across the stages it runs."""

    def __init__(self, state):
        self.state = state
        self.defer_if_permit: Reply | None = None
        self.defer_if_reject: Reply | None = None
        self.warnings: list[Reply] = []
        state.run_list = self.run_list
        state.resolved.clear()  # tables may answer differently by the next command

    def run_list(self, words, depth=0):
        """-> PERMIT, DUNNO or a Reply, or a Deferred of one if a restriction waited."""
        return drive(self._run_list(words, depth))

    def _run_list(self, words, depth):
        state = self.state
        warn_next = False
        i = 0
        while i < len(words):
            word = words[i]
            i += 1
            if word == "warn_if_reject":
                warn_next = True
                continue
            if word in state.config.classes:
                if depth > 10:
                    raise ConfigProblem(f"restriction class {word}: nested too deep")
                result = yield self.run_list(state.config.classes[word], depth + 1)
            else:
                entry = RESTRICTIONS.get(word.lower())
                if entry is None:
                    raise ConfigProblem(f"unknown smtpd restriction: \"{word}\"")
                arg = None
                if entry.takes_arg:
                    if i >= len(words):
                        raise ConfigProblem(f"restriction {word} needs an argument")
                    arg = words[i]
                    i += 1
                result = yield entry.fn(state, arg)
            if isinstance(result, DeferIfPermit):
                if self.defer_if_permit is None:
                    self.defer_if_permit = result.reply
                result = DUNNO
            elif result is DEFER_IF_PERMIT:
                if self.defer_if_permit is None:
                    self.defer_if_permit = state.reply(450, "4.7.0", "defer_if_permit requested")  # fixed, as Postfix
                result = DUNNO
            elif isinstance(result, DeferIfReject):
                if self.defer_if_reject is None:
                    self.defer_if_reject = result.reply
                result = DUNNO
            elif result is DEFER_IF_REJECT:
                if self.defer_if_reject is None:
                    self.defer_if_reject = state.reply(450, "4.7.0", "defer_if_reject requested")  # fixed, as Postfix
                result = DUNNO
            if isinstance(result, Reply):
                if warn_next:
                    self.warnings.append(result)
                    result = DUNNO
                elif result.code >= 500 and self.defer_if_reject is not None:
                    result = self.defer_if_reject
            warn_next = False
            if result is not DUNNO:
                return result
        return DUNNO


def drive(gen, value=None, failure=None):
    """Run a generator that yields results or Deferreds of them, synchronously for as
    long as no Deferred comes up -> its return value, or a Deferred of it.

    inlineCallbacks without its per-call Deferreds: most restrictions answer at once
    (static checks, the address resolver), and each list or lookup used to cost one.
    """
    while True:
        try:
            if failure is not None:
                y = failure.throwExceptionIntoGenerator(gen)
                failure = None
            else:
                y = gen.send(value)
        except StopIteration as stop:
            return stop.value
        if isinstance(y, defer.Deferred):
            return y.addCallbacks(lambda v: drive(gen, v), lambda f: drive(gen, failure=f))
        value = y


def evaluate(state: CheckState, stages):
    """Run the restriction lists of ``stages`` in order -> Deferred[Verdict].

    A PERMIT ends only its own list; a reply ends everything. If nothing rejected and a
    defer_if_permit was requested, the answer is that defer.
    """
    try:
        result = drive(_evaluate(state, stages))
    except BaseException:
        return defer.fail()
    return result if isinstance(result, defer.Deferred) else defer.succeed(result)


def evaluate_now(state: CheckState, stages, on_verdict, on_failure):
    """evaluate() without Deferreds when no check waits: on_verdict(Verdict) at once
    (an exception becomes on_failure(Failure)), or a Deferred with them as callbacks."""
    try:
        result = drive(_evaluate(state, stages))
    except BaseException:
        return on_failure(Failure())
    if isinstance(result, defer.Deferred):
        return result.addCallbacks(on_verdict, on_failure)
    return on_verdict(result)


def then(result, f, *args):
    """f(result, *args) at once for a value, as a callback for a Deferred."""
    if isinstance(result, defer.Deferred):
        return result.addCallback(f, *args)
    return f(result, *args)


def _evaluate(state, stages):
    run = _Run(state)
    for stage in stages:
        state.stage = stage
        result = yield run.run_list(state.config.restrictions.get(stage, []))
        if isinstance(result, Reply):
            return Verdict(result, tuple(run.warnings))
    # smtpd_reject_unlisted_sender/_recipient: apply even when a list said permit.
    for stage, wanted in (("sender", state.config.reject_unlisted_sender),
                          ("recipient", state.config.reject_unlisted_recipient)):
        unlisted = RESTRICTIONS.get(f"reject_unlisted_{stage}")
        if stage in stages and wanted and unlisted is not None:
            state.stage = stage
            result = yield unlisted.fn(state, None)
            if isinstance(result, Reply):
                return Verdict(result, tuple(run.warnings))
    if run.defer_if_permit is not None:
        return Verdict(run.defer_if_permit, tuple(run.warnings))
    return Verdict(None, tuple(run.warnings))


def validate(config) -> None:
    """Check every restriction list and class now; raise ConfigError naming the parameter
    (Postfix finds an unknown restriction only when mail arrives, and answers 451 4.3.5)."""
    from pfx.errors import ConfigError

    lists = [(f"smtpd_{stage}_restrictions", words) for stage, words in config.restrictions.items()]
    lists += list(config.classes.items())
    for param, words in lists:
        i = 0
        while i < len(words):
            word = words[i]
            i += 1
            if word == "warn_if_reject" or word in config.classes:
                continue
            entry = RESTRICTIONS.get(word.lower())
            if entry is None:
                known = ", ".join(sorted(RESTRICTIONS))
                raise ConfigError(f'unknown or unsupported restriction "{word}" (pfx has: {known})', param=param)
            if entry.takes_arg:
                if i >= len(words):
                    raise ConfigError(f'restriction "{word}" needs a table argument', param=param)
                i += 1


def stages_for(command: str, delay_reject: bool) -> tuple:
    """Which restriction lists a command triggers (smtpd_delay_reject semantics)."""
    if command in ("RCPT", "VRFY"):
        return (("client", "helo", "sender") if delay_reject else ()) + ("relay", "recipient")
    if delay_reject:
        return {"DATA": ("data",), "END-OF-MESSAGE": ("end_of_data",)}.get(command, ())
    return {"CONNECT": ("client",), "HELO": ("helo",), "EHLO": ("helo",), "MAIL": ("sender",),
            "DATA": ("data",), "END-OF-MESSAGE": ("end_of_data",)}.get(command, ())
