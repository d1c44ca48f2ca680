"""A test DNS server (twisted.names, as a subprocess) and the resolver that talks to it.

    with DnsServer() as ns:                  # or the pytest fixture ``dns_server``
        resolver = make_resolver(ns.port)    # in the process under test (pfx's Runtime)
        resolve(ns.port, [("MX", "example.test"), ("A", "nosuch.test")])   # reactor-free check

The default zone is :data:`DEFAULT_ZONE` (COMPONENTS.md 3): ``example.test`` (MX 10 mx1, MX 20
mx2, A/AAAA), ``nomx.test`` (A/AAAA, no MX), ``nullmx.test`` (RFC 7505), ``danglingmx.test``
(MX -> NXDOMAIN host), ``cnamemx.test`` (MX -> CNAME), ``equalmx.test`` (two MX at 10),
``big.test`` (40 A records: TC over UDP, retried over TCP), ``servfail.test`` (SERVFAIL),
``timeout.test`` (never answers); any other name under ``test.`` is NXDOMAIN, and names
outside every zone are NXDOMAIN too (the server is not recursive and never forwards).

Pass ``zones=[text, ...]`` for your own zones: BIND syntax, one-line SOA without
parentheses, and always ``$ORIGIN``.
"""

import json
import os
import signal
import subprocess
import sys

from .common import PeerFailed, kill_group, remove_tree, short_tempdir, start_group

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SERVER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dnsserver.py")

DEFAULT_ZONE = """\
$ORIGIN test.
$TTL 60
@            IN SOA ns.test. hostmaster.test. 1 60 60 600 60
@            IN NS  ns.test.
ns           IN A   127.0.0.1
example      IN MX  10 mx1.example.test.
example      IN MX  20 mx2.example.test.
mx1.example  IN A    127.0.0.1
mx1.example  IN AAAA ::1
mx2.example  IN A    127.0.0.1
nomx         IN A    127.0.0.1
nomx         IN AAAA ::1
nullmx       IN MX  0 .
danglingmx   IN MX  10 nxhost.test.
cnamemx      IN MX  10 alias.test.
alias        IN CNAME mx1.example.test.
equalmx      IN MX  10 mx1.example.test.
equalmx      IN MX  10 mx2.example.test.
""" + "".join(f"big          IN A    127.0.1.{i}\n" for i in range(1, 41))

DEFAULT_SERVFAIL = ("servfail.test",)
DEFAULT_SILENT = ("timeout.test",)


class DnsServer:
    """The server process. ``port`` is chosen by the server itself (free for UDP and TCP)
    unless given. ``servfail`` / ``silent`` name the fault domains (and everything below)."""

    def __init__(self, zones=(DEFAULT_ZONE,), servfail=DEFAULT_SERVFAIL, silent=DEFAULT_SILENT,
                 port=0, python=sys.executable):
        if isinstance(zones, str):
            zones = (zones,)
        self.zones = tuple(zones)
        self.servfail, self.silent = tuple(servfail), tuple(silent)
        self.requested_port = port
        self.python = python
        self.port = None
        self.proc = None
        self.dir = None

    def start(self, timeout=15.0):
        self.dir = short_tempdir("pfxdns.")
        argv = [self.python, SERVER_SCRIPT, "--port", str(self.requested_port)]
        for i, text in enumerate(self.zones):
            path = os.path.join(self.dir, f"zone{i}")
            with open(path, "w") as f:
                f.write(text)
            argv += ["--zone", path]
        for name in self.servfail:
            argv += ["--servfail", name]
        for name in self.silent:
            argv += ["--silent", name]
        self.proc = start_group(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = _readline(self.proc, timeout)
        if not line.startswith(b"READY "):
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
            err = self.proc.stderr.read()
            self.stop()
            raise PeerFailed(f"test DNS server did not start: {line!r}\n{err.decode()[-3000:]}")
        self.port = int(line.split()[1])
        return self

    def stop(self):
        kill_group(self.proc)
        self.proc = None
        remove_tree(self.dir)

    def __enter__(self):
        """Start unless already started, so a started peer works in a with statement too."""
        return self if self.proc else self.start()

    def __exit__(self, *exc):
        self.stop()


def _readline(proc, timeout):
    """One stdout line from ``proc``, or b"" after ``timeout`` s (bounded, no thread)."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            return b""
        return proc.stdout.readline()
    finally:
        sel.close()


def make_resolver(port, timeout=(1,), host="127.0.0.1", reactor=None):
    """A twisted.names client talking ONLY to the test server.

    Not ``client.createResolver``: that one also reads /etc/resolv.conf, falls back to the
    host's nameserver on timeout and starts a 60 s timer (COMPONENTS.md 3, pitfall 1). A
    final timeout raises ``twisted.internet.defer.TimeoutError``. ``reactor`` defaults to the
    global one (imported, hence installed, only then)."""
    from twisted.names import client
    return client.Resolver(servers=[(host, port)], timeout=tuple(timeout), reactor=reactor)


_RESOLVE_SCRIPT = r"""
import json, sys
from twisted.internet import defer, task
sys.path.insert(0, sys.argv[1])
from tests.support.peers.dns import make_resolver
METHODS = {"A": "lookupAddress", "AAAA": "lookupIPV6Address", "MX": "lookupMailExchange",
           "CNAME": "lookupCanonicalName", "TXT": "lookupText", "NS": "lookupNameservers",
           "SOA": "lookupAuthority", "PTR": "lookupPointer"}
async def run(reactor):
    r = make_resolver(int(sys.argv[2]), timeout=tuple(json.loads(sys.argv[4])))
    out = []
    for qtype, name in json.loads(sys.argv[3]):
        t0 = reactor.seconds()
        try:
            ans, auth, add = await getattr(r, METHODS[qtype])(name)
            res = {"error": None, "answers": [str(rr.payload) for rr in ans],
                   "answer_names": [str(rr.name) for rr in ans],
                   "authority": [str(rr.payload) for rr in auth],
                   "additional": [str(rr.payload) for rr in add]}
        except Exception as e:
            res = {"error": f"{type(e).__module__}.{type(e).__name__}"}
        res["seconds"] = round(reactor.seconds() - t0, 3)
        out.append(res)
    print(json.dumps(out))
task.react(lambda reactor: defer.ensureDeferred(run(reactor)))
"""


def resolve(port, queries, timeout=(1,), python=sys.executable, limit=60.0):
    """Run ``queries`` ([("MX", "example.test"), ...]) through :func:`make_resolver` in a
    fresh Python with its own reactor, so the calling test stays reactor-free.

    Returns one dict per query: ``error`` (None, or e.g. ``"twisted.names.error.DNSNameError"``,
    ``"twisted.names.error.DNSServerError"``, ``"twisted.internet.defer.TimeoutError"``),
    ``answers`` / ``authority`` / ``additional`` (``str()`` of each record payload, e.g.
    ``"<MX preference=10 name=mx1.example.test ttl=60>"``), ``answer_names`` and ``seconds``."""
    done = subprocess.run(
        [python, "-c", _RESOLVE_SCRIPT, CHECKOUT, str(port), json.dumps(list(queries)),
         json.dumps(list(timeout))], capture_output=True, text=True, timeout=limit)
    if done.returncode != 0:
        raise AssertionError(f"resolver subprocess failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout)
