"""sendmail: the Sendmail-compatible submission command (Postfix's sendmail(1)).

``pfx sendmail [options] [--] [recipient ...]`` reads a message from standard input
and hands it to postdrop (pfx.cli.postdrop.Maildrop, in this process), which writes a
file into maildrop/ and wakes pickup. It works whether or not pfx runs: the file
waits in maildrop/. -bs speaks SMTP on stdin/stdout through pfx.smtp.server, one
maildrop file per transaction. -bp, -bi/-I, -q and -bd/-bl run postqueue,
newaliases and ``pfx start``.

Exit codes are sysexits(3), with Postfix's messages: 64 (EX_USAGE) for bad options
and missing recipients, 65 (EX_DATAERR) for an input read error, 69 when a tool is
missing, 75 (EX_TEMPFAIL) for queue file write errors and signals, 77 (EX_NOPERM) for
a user not in authorized_submit_users. (Postfix 3.7 itself exits 75 for most of its
64 cases: its sendmail's clean-up handler exits with EX_TEMPFAIL before the intended
status is used. pfx uses the documented codes.)

Security: stdin and the arguments come from a local, possibly untrusted, user; the
maildrop file only carries what a local user may set (the MAILDROP policy), and pickup
checks it again. Use ``--`` before user-supplied recipients. Reads queue_directory,
myhostname, mail_name, message_size_limit, header_size_limit, authorized_submit_users
and sendmail_fix_line_endings.
"""

import os
import pwd
import re
import sys

from pfx.address.parse import internalize, parse_address_list, scan_address
from pfx.cli.postdrop import EX_DATAERR, EX_NOPERM, EX_TEMPFAIL, EX_USAGE, Interrupted, \
    Maildrop, interrupted_by_signals, trigger_pickup
from pfx.envelope import NOTIFY_WORDS, Envelope, Recipient

EX_UNAVAILABLE = 69
WITH_ARG = set("ABCFLNORVXbcefhopr")
IGNORED_FLAGS = set("GUmn")  # flags without an argument that Postfix ignores
_HEADER_NAME = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_RCPT_HEADERS = {b"to", b"cc", b"bcc"}
_RESENT_HEADERS = {b"resent-to", b"resent-cc", b"resent-bcc"}


class Usage(Exception):
    """A fatal command-line problem: exit EX_USAGE with this text."""


class Options:
    def __init__(self):
        self.mode = "m"  # m: read a message; s: SMTP; p, i, d, l, v; q: flush
        self.config_dir = None
        self.sender = None
        self.full_name = None
        self.dot_ends = True  # -i / -oi turn it off
        self.extract = False  # -t
        self.notify = frozenset()
        self.ret = None
        self.envid = None
        self.body_type = ""
        self.verbose = 0
        self.queue_arg = ""  # -qR site, -qI id
        self.warnings = []
        self.recipients = []


def parse_args(argv) -> Options:
    """Sendmail's getopt-style options; recipients follow (``--`` ends options)."""
    opts, i = Options(), 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        pos = 1
        while pos < len(arg):
            ch = arg[pos]
            if ch in WITH_ARG:
                value = arg[pos + 1:]
                if not value:
                    i += 1
                    if i >= len(argv):
                        raise Usage(f"option requires an argument -- '{ch}'")
                    value = argv[i]
                _option(opts, ch, value)
                break
            if ch == "q":  # -q alone, -qR site, -qI id, -q30m
                _queue_option(opts, arg[pos + 1:])
                break
            if ch == "t":
                opts.extract = True
            elif ch == "i":
                opts.dot_ends = False
            elif ch == "v":
                opts.verbose += 1
            elif ch == "I":
                opts.mode = "i"
            elif ch not in IGNORED_FLAGS:
                raise Usage(f"invalid option -- '{ch}'")
            pos += 1
        i += 1
    opts.recipients = list(argv[i:])
    return opts


def _option(opts, ch, value):
    if ch in "fr":
        opts.sender = value
    elif ch == "F":
        opts.full_name = value
    elif ch in "Cc":
        opts.config_dir = os.path.dirname(value) if value.endswith("main.cf") else value
    elif ch == "b":
        if value[:1] not in tuple("dlmpsivhH") or len(value) != 1:
            raise Usage(f"unsupported: -b{value}")
        opts.mode = value if value not in "hH" else opts.mode
    elif ch == "o":
        if value == "i":
            opts.dot_ends = False  # -oA, -om, -o7, -o8 and the rest are ignored, as Postfix
    elif ch == "N":
        words = {w.upper() for w in re.split(r"[\s,]+", value) if w}
        if words and words <= NOTIFY_WORDS and ("NEVER" not in words or len(words) == 1):
            opts.notify = frozenset(words)
        else:
            opts.warnings.append("bad -N option value -- ignored")
    elif ch == "R":
        if value.upper() in ("FULL", "HDRS"):
            opts.ret = value.upper()
        else:
            opts.warnings.append("bad -R option value -- ignored")
    elif ch == "V":
        if 0 < len(value) <= 100 and all("\x21" <= c <= "\x7e" for c in value):
            opts.envid = value
        else:
            opts.warnings.append("bad syntax in -V option value -- ignored")
    elif ch == "B":
        if value.upper() not in ("7BIT", "8BITMIME"):
            raise Usage("-B option needs 8BITMIME or 7BIT")
        opts.body_type = value.upper()
    elif ch == "X" and value.startswith("V"):
        opts.warnings.append("-XV (VERP) is not supported by pfx -- ignored")
    # -A -L -O -e -h -p -X log: accepted and ignored, as Postfix does


def _queue_option(opts, value):
    if not value:
        opts.mode = "q"
    elif value[0] in "RI":
        opts.mode, opts.queue_arg = "q" + value[0], value[1:]
    elif value[0] == "S":
        raise Usage("-qS is not implemented: use the slower \"sendmail -q\" command")
    elif not value[0].isdigit():
        raise Usage(f"invalid option -- 'q{value}'")
    # -q30m: the queue run interval is queue_run_delay; ignored


# --- configuration and identity ----------------------------------------------------------


def load_settings(config_dir=None):
    """main.cf's settings, with the core parameters and those of cleanup and pickup."""
    from pfx.cleanup.params import PARAMETERS as CLEANUP
    from pfx.config.core import CONFIG_DIRECTORY, CORE_PARAMS
    from pfx.config.load import load
    from pfx.config.params import ParamRegistry
    from pfx.pickup.params import PARAMETERS as PICKUP
    registry = ParamRegistry(CORE_PARAMS)
    registry.add_declarations(CLEANUP + PICKUP)
    config_dir = config_dir or os.environ.get("MAIL_CONFIG") or CONFIG_DIRECTORY
    return load(config_dir, registry).settings


def login_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return "unknown"  # Postfix's name for a uid without a passwd entry


def submit_allowed(user: str, rules) -> bool:
    """authorized_submit_users: first match wins; ``static:anyone`` matches everyone."""
    for rule in rules:
        negate = rule.startswith("!")
        rule = rule[1:] if negate else rule
        if rule == "static:anyone" or rule == user or \
                (rule.startswith("static:") and rule[7:] == user):
            return not negate
        if ":" in rule:
            _fatal_warn(f"authorized_submit_users: table {rule} is not supported yet -- "
                        "skipped")
    return False


def _fatal_warn(text):
    sys.stderr.write(f"sendmail: warning: {text}\n")


def _internal(text: str) -> list[str]:
    """Every address in ``text`` (RFC 5322 list syntax), in internal form: Postfix's
    sendmail and cleanup parse with tok822 and queue unquoted local parts."""
    return [internalize(scan_address(a)) for a in parse_address_list(text).addresses()]


def envelope_sender(text: str) -> str:
    """-f/-r: the first address (``Name <a@b>`` gives a@b, ``<>`` the null sender)."""
    found = _internal(text)
    if len(found) > 1:
        _fatal_warn(f"-f option specified malformed sender: {text}")
    return found[0] if found else ""


def addresses(text: str) -> list[str]:
    """The addresses in one header value or command-line argument."""
    return [addr for addr in _internal(text) if addr]


# --- reading the message -----------------------------------------------------------------


class Collector:
    """Streams stdin into the maildrop file: line ends, the lone-dot end, -t headers."""

    def __init__(self, drop, *, dot_ends, extract, fix_line_endings, header_size_limit):
        self.drop = drop
        self.dot_ends = dot_ends
        self.extract = extract
        self.fix_mode = fix_line_endings
        self.fix = fix_line_endings == "always"
        self.limit = header_size_limit
        self.in_headers = True
        self.header = bytearray()
        self.recipients, self.resent = [], []

    def run(self, stream):
        first, at_line_start = True, True
        while True:
            line = stream.readline(65536)
            if not line:
                break
            whole = line.endswith(b"\n")
            if at_line_start and self.dot_ends and line.rstrip(b"\r\n") == b"." and \
                    (whole or line == b"."):
                break
            if first:
                if self.fix_mode == "strict":
                    self.fix = line.endswith(b"\r\n")
                first = False
                if line.startswith(b"From ") and at_line_start:
                    at_line_start = whole
                    continue  # a leading mbox "From " line is not part of the message
            if self.fix and line.endswith(b"\r\n"):
                line = line[:-2] + b"\n"
            if self.in_headers:
                self._header_piece(line, at_line_start)
            self.drop.write(line)
            at_line_start = whole
        if self.in_headers:
            self._end_header()

    def _header_piece(self, line, at_line_start):
        if not at_line_start:  # the rest of an over-long line
            self._add(line)
            return
        if line[:1] in (b" ", b"\t") and self.header:
            self._add(line)
            return
        self._end_header()
        if _HEADER_NAME.match(line):
            self._add(line)
        else:
            self.in_headers = False

    def _add(self, piece):
        room = self.limit - len(self.header)
        if room > 0:
            self.header += piece[:room]

    def _end_header(self):
        if not self.header or not self.extract:
            self.header.clear()
            return
        name = _HEADER_NAME.match(self.header).group(1).lower()
        value = bytes(self.header[self.header.index(b":") + 1:]).decode("utf-8", "replace")
        self.header.clear()
        if name in _RCPT_HEADERS:
            self.recipients += addresses(" ".join(value.split()))
        elif name in _RESENT_HEADERS:
            self.resent += addresses(" ".join(value.split()))

    def extracted(self) -> list[str]:
        # Resent- recipients win when there are any (Postfix sendmail's state.resent)
        return self.resent or self.recipients


# --- the modes ----------------------------------------------------------------------------


def enqueue(opts, settings, stdin, user, uid) -> int:
    """Read one message from stdin into maildrop/; the sysexits status."""
    sender = user if opts.sender is None else envelope_sender(opts.sender)
    rcpts = [Recipient(a, notify=opts.notify) for arg in opts.recipients for a in addresses(arg)]
    envelope = Envelope(sender, tuple(rcpts), envid=opts.envid, ret=opts.ret,
                        body_type=opts.body_type)
    queue_directory = settings.get_str("queue_directory")
    full_name = opts.full_name if opts.full_name is not None else os.environ.get("NAME", "")
    try:
        # signals first: one during the file's creation must not leave it behind either
        with interrupted_by_signals(), \
                Maildrop(queue_directory, envelope, full_name=full_name) as drop:
            collect = Collector(
                drop, dot_ends=opts.dot_ends, extract=opts.extract,
                fix_line_endings=settings.get_str("sendmail_fix_line_endings"),
                header_size_limit=settings.get("header_size_limit"))
            try:
                collect.run(stdin)
            except OSError as exc:
                if exc.filename is None and not isinstance(exc, PermissionError):
                    return _fatal(f"{user}({uid}): error reading input: {exc.strerror}",
                                  EX_DATAERR)
                raise
            extracted = [Recipient(a, notify=opts.notify) for a in collect.extracted()] \
                if opts.extract else []
            if not rcpts and not extracted:
                return _fatal(f"{user}({uid}): " + (
                    "No recipient addresses found in message header" if opts.extract else
                    "Recipient addresses must be specified on the command line or via "
                    "the -t option"), EX_USAGE)
            qid = drop.commit(extracted)
    except Interrupted as exc:
        return _fatal(f"{user}({uid}): caught signal {exc.signum}", EX_TEMPFAIL)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return _fatal(f"{user}({uid}): error writing queue file: {why}", EX_TEMPFAIL)
    trigger_pickup(queue_directory)
    if opts.verbose:
        sys.stderr.write(f"sendmail: maildrop/{qid}\n")
    return 0


def run_tool(name, argv) -> int:
    """postqueue / newaliases as ``pfx NAME`` runs them, when this pfx has them."""
    import importlib
    from pfx.cli.main import TOOLS
    module_name, _, function = TOOLS[name].partition(":")
    try:
        tool = importlib.import_module(f"pfx.cli.{module_name}")
    except ModuleNotFoundError as e:
        if e.name != f"pfx.cli.{module_name}":
            raise
        return _fatal(f"{name} is not available in this version of pfx", EX_UNAVAILABLE)
    return getattr(tool, function or "main")(argv)


def _fatal(text, status) -> int:
    sys.stderr.write(f"sendmail: fatal: {text}\n")
    return status


def main(argv) -> int:
    try:
        opts = parse_args(list(argv))
    except Usage as exc:
        sys.stderr.write(f"sendmail: {exc}\n")
        return _fatal("usage: sendmail [options]", EX_USAGE)
    for text in opts.warnings:
        _fatal_warn(text)
    config = ["-c", opts.config_dir] if opts.config_dir else []
    if opts.mode == "p":
        return run_tool("postqueue", config + ["-p"])
    if opts.mode == "i":
        return run_tool("newaliases", config)
    if opts.mode in ("q", "qR", "qI"):
        flag = {"q": [], "qR": ["-s", opts.queue_arg], "qI": ["-i", opts.queue_arg]}[opts.mode]
        return run_tool("postqueue", config + (flag or ["-f"]))
    if opts.mode in ("d", "l"):
        from pfx.cli.main import control
        from pfx.config.core import CONFIG_DIRECTORY
        return control("start", opts.config_dir or os.environ.get("MAIL_CONFIG")
                       or CONFIG_DIRECTORY)
    if opts.mode == "v":
        return _fatal("-bv is not supported by this version of pfx", EX_UNAVAILABLE)
    from pfx.errors import ConfigError
    try:
        settings = load_settings(opts.config_dir)
    except ConfigError as exc:
        return _fatal(str(exc), EX_TEMPFAIL)
    uid = os.getuid()
    user = login_name(uid)
    if not submit_allowed(user, settings.get_list("authorized_submit_users")):
        return _fatal(f"User {user}({uid}) is not allowed to submit mail", EX_NOPERM)
    if opts.mode == "s":
        from pfx.cli.sendmail_bs import smtp_session
        return smtp_session(settings, sys.stdin.buffer, sys.stdout.buffer)
    return enqueue(opts, settings, sys.stdin.buffer, user, uid)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
