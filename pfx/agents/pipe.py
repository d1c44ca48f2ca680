"""The pipe delivery agent (pipe(8)): run a master.cf ``argv=`` command per delivery.

A row such as ``maildrop unix - n n - - pipe flags=DRhu user=vmail argv=/usr/bin/maildrop
-d ${recipient}`` gives its attributes through ``settings.master_args``: flags=
(B D F O R X h q u . >), user=name[:group], size=, eol=, directory=, null_sender=, and
argv= last. Macros in argv expand per pipe(8); an argument with a recipient macro
(${recipient}, ${original_recipient}, ${user}, ${extension}, ${mailbox}, ${domain})
becomes one argument per recipient. Exit 0 is sent (``delivered via SERVICE service``),
sysexits map to bounce or defer, output starting with X.Y.Z overrides, signals and the
time limit ($SERVICE_time_limit) defer. Every recipient of one run gets the same status.

Security: the message and every macro value (addresses, HELO, SASL names) are
untrusted. argv is executed directly, never through a shell, and each macro value is one
argument or part of one. Started as root, the command runs as ``user=`` (set in the
child between fork and exec, never in this process); root and mail_owner are refused.
Started unprivileged, it runs as pfx's own user and user= is not needed.

Parameters: command_time_limit, {service}_time_limit, mail_owner, queue_directory.
"""

import os
import pwd
import grp
import re

from twisted.internet import defer
from twisted.plugin import IPlugin
from zope.interface import implementer

from pfx.address.quote import quote_822_local
from pfx.delivery import command as runner
from pfx.delivery.copy import copy_body, delivered_to, envelope_headers, from_line
from pfx.dsn import Dsn
from pfx.envelope import DeliveryResult, RecipientStatus
from pfx.errors import ConfigError
from pfx.interfaces import IDeliveryAgent, IDeliveryAgentFactory
from pfx.plugin import Param, ParamTemplate
from pfx.runtime.inflight import InFlight

FLAGS = set("BDFORXhqu.>")
RCPT_MACROS = {"recipient", "original_recipient", "user", "extension", "mailbox", "domain"}
MACROS = RCPT_MACROS | {
    "sender", "nexthop", "size", "queue_id", "client_address", "client_helo",
    "client_hostname", "client_port", "client_protocol", "sasl_method", "sasl_sender",
    "sasl_username"}
_MACRO = re.compile(r"\$(?:\{(\w+)\}|\((\w+)\)|(\w+)|(\$))")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\"}


def unescape(text):
    """eol=: the C escapes pipe(8) recognizes, \\ddd octal included."""
    return re.sub(r"\\([0-7]{1,3}|.)",
                  lambda m: chr(int(m.group(1), 8)) if m.group(1)[0] in "01234567"
                  else _ESCAPES.get(m.group(1), m.group(1)), text)


def parse_args(words, service):
    """master.cf attributes -> dict; argv= takes the rest. Raises ConfigError."""
    attrs_, argv = {}, None
    for i, word in enumerate(words):
        name, eq, value = word.partition("=")
        if not eq:
            raise ConfigError(f'{service}: bad pipe attribute "{word}"')
        if name == "argv":
            argv = [value, *words[i + 1:]] if value else list(words[i + 1:])
            break
        if name not in ("flags", "user", "size", "eol", "directory", "null_sender"):
            raise ConfigError(f'{service}: unknown pipe attribute "{name}"')
        attrs_[name] = value
    if not argv or not argv[0]:
        raise ConfigError(f"{service}: missing argv= attribute")
    bad = set(attrs_.get("flags", "")) - FLAGS
    if bad:
        raise ConfigError(f'{service}: unknown flag "{sorted(bad)[0]}" in flags=')
    for word in argv:
        for m in _MACRO.finditer(word):
            name = m.group(1) or m.group(2) or m.group(3)
            if name and name not in MACROS:
                raise ConfigError(f'{service}: unknown macro "${{{name}}}" in argv=')
    if "size" in attrs_ and not attrs_["size"].isdigit():
        raise ConfigError(f'{service}: bad size= value "{attrs_["size"]}"')
    attrs_["argv"] = argv
    return attrs_


def _split(address):
    local, at, domain = address.rpartition("@")
    return (local, domain) if at else (address, "")


def rcpt_values(rcpt, flags, delimiter):
    """Per-recipient macro values with the h, q and u flags applied."""
    def fold(address, quote):
        local, domain = _split(address)
        if "u" in flags:
            local = local.lower()
        if "h" in flags:
            domain = domain.lower()
        full = f"{local}@{domain}" if domain else local
        return quote_822_local(full) if quote and "q" in flags else full
    local, domain = _split(rcpt.address)
    if "u" in flags:
        local = local.lower()
    user, ext = local, ""
    for i, ch in enumerate(local):
        if delimiter and ch in delimiter and i > 0:
            user, ext = local[:i], local[i + 1:]
            break
    return {"recipient": fold(rcpt.address, True),
            "original_recipient": fold(rcpt.orig or rcpt.address, True),
            "user": user, "extension": ext, "mailbox": local,
            "domain": domain.lower() if "h" in flags else domain}


def expand_argv(argv, common, per_rcpt):
    """Expand macros; an argument with a recipient macro repeats once per recipient."""
    def sub(word, values):
        return _MACRO.sub(lambda m: "$" if m.group(4) else
                          values.get(m.group(1) or m.group(2) or m.group(3), ""), word)
    out = []
    for word in argv:
        names = {m.group(1) or m.group(2) or m.group(3) for m in _MACRO.finditer(word)}
        if names & RCPT_MACROS:
            out.extend(sub(word, {**common, **values}) for values in per_rcpt)
        else:
            out.append(sub(word, common))
    return out


@implementer(IDeliveryAgent)
class PipeAgent:
    def __init__(self, service, attributes, runtime, time_limit, queue_directory="",
                 delimiter="", geteuid=os.geteuid):
        self.service, self.rt, self.time_limit = service, runtime, time_limit
        self.flags = attributes.get("flags", "")
        self.argv = attributes["argv"]
        self.size = int(attributes["size"]) if attributes.get("size") else 0
        self.eol = unescape(attributes.get("eol", "\\n")).encode()
        self.directory = attributes.get("directory") or queue_directory
        self.null_sender = attributes.get("null_sender", "MAILER-DAEMON")
        self.delimiter = delimiter
        self.ids = None
        if geteuid() == 0:
            self.ids = _user_ids(service, attributes.get("user"))
        self._in_flight = InFlight()

    def deliver(self, request):
        return self._in_flight.track(self.rt.run_blocking(self._deliver, request))

    def stop(self):
        """Fires when the commands in progress have finished (or hit their time limit)."""
        return self._in_flight.idle()

    def _deliver(self, request):
        statuses = {}
        rcpts = list(request.recipients)
        if self.size and request.size > self.size:
            return self._all(rcpts, "bounced", Dsn("5.2.3"), "message too large")
        if "D" in self.flags:
            with request.open_content() as src:
                seen = delivered_to(src)
            for r in rcpts:
                if quote_822_local(r.address).lower() in seen:
                    statuses[r] = RecipientStatus(r, "bounced", Dsn("5.4.6"),
                                                  f"mail forwarding loop for {r.address}",
                                                  self.service)
        todo = [r for r in rcpts if r not in statuses]
        if todo:
            st = self._run(request, todo)
            statuses.update({r: st(r) for r in todo})
        return DeliveryResult(statuses[r] for r in rcpts)

    def _all(self, rcpts, action, dsn, text):
        return DeliveryResult(RecipientStatus(r, action, dsn, text, self.service) for r in rcpts)

    def _run(self, request, rcpts):
        sender = request.sender or self.null_sender
        client = request.client
        common = {"sender": quote_822_local(sender) if "q" in self.flags and sender
                  else sender,
                  "nexthop": request.nexthop.lower() if "h" in self.flags else request.nexthop,
                  "size": str(request.size), "queue_id": request.queue_id,
                  "client_address": client.addr, "client_helo": client.helo,
                  "client_hostname": client.name, "client_port": client.port,
                  "client_protocol": client.protocol, "sasl_method": client.sasl_method,
                  "sasl_sender": "", "sasl_username": client.sasl_username}
        argv = expand_argv(self.argv, common,
                           [rcpt_values(r, self.flags, self.delimiter) for r in rcpts])
        first = rcpts[0]
        prefix = b""
        if "F" in self.flags:
            prefix += from_line(request.sender, self.rt.clock.seconds(), self.null_sender)
        prefix += envelope_headers(
            sender=request.sender if "R" in self.flags else None,
            orig_rcpt=(first.orig or first.address) if "O" in self.flags else None,
            delivered=first.address if "D" in self.flags else None,
            null_sender=self.null_sender)
        if self.eol != b"\n":
            prefix = prefix.replace(b"\n", self.eol)

        def write_input(out):
            out.write(prefix)
            with request.open_content() as src:
                copy_body(src, out, quote_from=">" in self.flags, dot="." in self.flags,
                          eol=self.eol, blank="B" in self.flags)

        cwd = self.directory if self.directory and os.path.isdir(self.directory) else None
        if self.directory and cwd is None:
            return self._status("deferred", Dsn("4.3.0"),
                                f"chdir {self.directory}: No such file or directory")
        uid, gid = self.ids or (None, None)
        try:
            result = runner.run(argv, write_input, {"PATH": "/usr/bin:/bin"}, cwd,
                                self.time_limit, user=uid, group=gid)
        except OSError as e:
            return self._status("deferred", Dsn("4.3.0"),
                                f'cannot execute command "{argv[0]}": {e.strerror}')
        done = f"delivered via {self.service} service"
        if result.output:
            done += f" ({result.output})"
        o = runner.outcome(result, argv[0], done)
        return self._status(o.action, o.dsn, o.text)

    def _status(self, action, dsn, text):
        return lambda r: RecipientStatus(r, action, dsn, text, self.service)


def _user_ids(service, spec):
    """user=name[:group] -> (uid, gid); root and mail_owner are refused (pipe(8))."""
    if not spec:
        raise ConfigError(f"{service}: missing user= command-line attribute")
    name, _, group = spec.partition(":")
    try:
        pw = pwd.getpwnam(name)
        gid = grp.getgrnam(group).gr_gid if group else pw.pw_gid
    except KeyError:
        raise ConfigError(f'{service}: unknown user or group in "user={spec}"') from None
    if pw.pw_uid == 0 or gid == 0:
        raise ConfigError(f"{service}: user= command-line attribute specifies root "
                          f"privileges")
    return pw.pw_uid, gid


@implementer(IPlugin, IDeliveryAgentFactory)
class PipeAgentFactory:
    name = "pipe"
    description = "pipe(8): deliver to an external command given by argv= in master.cf"
    parameters = (
        Param("command_time_limit", "1000s", "time", min=1),
        ParamTemplate("{service}_time_limit", "$command_time_limit", "time", min=1),
    )

    def make_agent(self, settings, runtime):
        service = settings.service_name or "pipe"
        attributes = parse_args(list(getattr(settings, "master_args", ())), service)
        limit = settings.get(f"{service}_time_limit")
        if not isinstance(limit, int):  # no template instance outside a master.cf row
            limit = settings.get("command_time_limit")
        agent = PipeAgent(service, attributes, runtime, limit,
                          settings.get_str("queue_directory"),
                          settings.get_str("recipient_delimiter"))
        if agent.ids is not None:
            owner = settings.get_str("mail_owner")
            try:
                if pwd.getpwnam(owner).pw_uid == agent.ids[0]:
                    raise ConfigError(f"{service}: user= command-line attribute specifies "
                                      f"mail system owner {owner}")
            except KeyError:
                pass
        return agent
