"""Differential check against the installed Postfix: same answers as its trivial-rewrite.

Runs Postfix's own trivial-rewrite in stand-alone mode (-S: one request on stdin,
attribute protocol with NUL separators) against a throwaway main.cf, and compares
its resolve and rewrite answers with pfx's. Skipped when Postfix is not installed or
the daemon will not answer (it wants root to start). About one second in all.
"""

import os
import shutil
import subprocess

import pytest
from address_helpers import flag_names, make_settings
from resolve_cases import CLASSES, TRANSPORT
from test_address_relay_tricks import DEFAULT_KNOBS
from test_address_rewrite import CANONICAL, DEFAULT

from pfx.address.resolve import resolve
from pfx.address.rewrite import canonicalize_external

DAEMON = "/usr/lib/postfix/sbin/trivial-rewrite"

MAIN_CF = """\
compatibility_level = 3.7
queue_directory = {dir}/q
data_directory = {dir}/q
myhostname = mail.example.com
mydomain = example.com
myorigin = $myhostname
mydestination = $myhostname, localhost.$mydomain, localhost, example.com
inet_interfaces = 127.0.0.1
relay_domains = relay.test
virtual_alias_domains = valias.test
virtual_mailbox_domains = vmbox.test
transport_maps = texthash:{dir}/transport
recipient_delimiter = +
"""

pytestmark = pytest.mark.e2e


def _ask(config, *pairs):
    """Send one attribute request to trivial-rewrite -S; return the reply as a dict."""
    request = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in pairs) + b"\0"
    env = dict(os.environ, MAIL_CONFIG=str(config))
    proc = subprocess.run([DAEMON, "-S"], input=request, capture_output=True, env=env, timeout=10)
    fields = proc.stdout.split(b"\0")
    return {fields[i].decode(): fields[i + 1].decode(errors="replace")
            for i in range(0, len(fields) - 1, 2) if fields[i]}


@pytest.fixture(scope="module")
def postfix(tmp_path_factory):
    if not os.path.exists(DAEMON) or shutil.which("postconf") is None:
        pytest.skip("Postfix is not installed")
    conf = tmp_path_factory.mktemp("postfix")
    (conf / "q").mkdir()
    (conf / "master.cf").write_text("")
    (conf / "transport").write_text("".join(f"{k}\t{v}\n" for k, v in TRANSPORT.items()))
    (conf / "main.cf").write_text(MAIN_CF.format(dir=conf))
    if "flags" not in _ask(conf, ("request", "resolve"), ("sender", ""), ("address", "u@x")):
        pytest.skip("trivial-rewrite -S did not answer (not root?)")
    return conf


ADDRESSES = sorted({row[0] for row in CLASSES} | {row[0] for row in DEFAULT_KNOBS}
                   | {"u+x@ext.test", "a@x.sub.test", "a@err.test", "a@colon.test", "a@tonly.test"})


def test_resolve_agrees_with_postfix(postfix):
    settings = make_settings(transport_maps=TRANSPORT.get, recipient_delimiter="+")
    diffs = []
    for address in ADDRESSES:
        theirs = _ask(postfix, ("request", "resolve"), ("sender", ""), ("address", address))
        ours = resolve(address, settings)
        for key in ("transport", "nexthop"):
            if theirs[key].endswith(" NOT UPDATED"):  # Postfix answered before choosing one
                theirs[key] = ""
        got = (flag_names(ours.flags), ours.transport, ours.nexthop, ours.recipient)
        want = (flag_names(int(theirs["flags"])), theirs["transport"], theirs["nexthop"], theirs["recipient"])
        if got != want:
            diffs.append((address, want, got))
    assert diffs == []


def test_rewrite_agrees_with_postfix(postfix):
    diffs = []
    for address in [row[0] for row in CANONICAL]:
        theirs = _ask(postfix, ("request", "rewrite"), ("rule", "local"), ("address", address))["address"]
        ours = canonicalize_external(address, DEFAULT)
        if ours != theirs:
            diffs.append((address, theirs, ours))
    assert diffs == []
