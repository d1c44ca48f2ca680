"""pfx postconf -x prints what Postfix 3.7's postconf -x prints, parameter by parameter.

For a directory whose main.cf sets only compatibility_level, myhostname and mydomain,
every parameter pfx declares must print the same line as in Postfix, except the
deviations listed below, each with its reason. Both tools run once with all names.
"""

import os
import subprocess

import pytest

from pfx.cli.postconf import main
from pfx.discover import discover

POSTCONF = "/usr/sbin/postconf"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.access(POSTCONF, os.X_OK),
                       reason=f"{POSTCONF} not found: install Debian's postfix package "
                              "to compare pfx postconf with Postfix's"),
]

MAIN_CF = "compatibility_level = 3.6\nmyhostname = mx.example.test\nmydomain = example.test\n"

#: Parameters whose value must differ from Postfix's, and why.
DEVIATIONS = {
    "queue_directory": "install path: pfx's queue is /var/spool/pfx, not Postfix's",
    "data_directory": "install path: /var/lib/pfx, not /var/lib/postfix",
    "command_directory": "install path: wherever pfx's commands are installed",
    "mail_name": "pfx's identity: pfx, not Postfix",
    "mail_version": "pfx's identity: pfx's version, not Postfix's",
    "syslog_name": "pfx's identity: logs as pfx/..., not postfix/...",
    "smtpd_banner": "pfx's identity: $mail_name is pfx",
    "smtpd_forbid_bare_newline": "pfx defaults to Postfix 3.9's normalize (smuggling defence)",
    "alias_maps": "pfx has no nis: table type; Debian's Postfix adds nis:mail.aliases",
    "local_recipient_maps": "follows alias_maps, above",
    "smtpd_sasl_type": "pfx has no Cyrus SASL: dovecot (or its built-in pfx), docs/sasl.md",
    "smtpd_sasl_path": "follows smtpd_sasl_type: Dovecot's usual socket, private/auth",
}

#: Parameters pfx declares that Postfix does not have (Postfix warns "unknown parameter").
PFX_ONLY = {
    "example_directory": "the documented example agent's own parameter (docs/examples/)",
    "pfx_dns_servers": "DNS servers for the shared resolver (pfx.runtime.dns); Postfix uses resolv.conf",
    "pfx_dns_timeout": "per-try DNS timeout of the shared resolver (pfx.runtime.dns)",
    "pfx_content_check_time_limit": "per-message lookup time budget of header/body checks "
                                    "(docs/content-checks.md)",
}


def parse(out):
    values = {}
    for line in out.splitlines():
        name, _, value = line.partition(" =")
        values[name] = value.removeprefix(" ")
    return values


def test_every_parameter_prints_as_postfix_prints_it(tmp_path, capsys, monkeypatch):
    (tmp_path / "main.cf").write_text(MAIN_CF)
    (tmp_path / "master.cf").write_text("")
    names = discover().registry().names()
    env = {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}
    real = subprocess.run([POSTCONF, "-c", str(tmp_path), "-x", *names],
                          capture_output=True, text=True, env=env, check=True)
    unknown = {line.split(": ")[2] for line in real.stderr.splitlines()
               if line.endswith(": unknown parameter")}
    monkeypatch.delenv("MAIL_CONFIG", raising=False)
    assert main(["-c", str(tmp_path), "-x", *names]) == 0
    ours = parse(capsys.readouterr().out)
    theirs = parse(real.stdout)

    assert unknown <= set(PFX_ONLY), \
        f"pfx declares parameters Postfix does not know: {sorted(unknown - set(PFX_ONLY))}"
    compared = [n for n in names if n not in DEVIATIONS and n not in unknown]
    differ = {n: (ours.get(n), theirs.get(n)) for n in compared if ours.get(n) != theirs.get(n)}
    assert differ == {}, "name: (pfx, Postfix)"
    assert set(ours) == set(names)


@pytest.mark.parametrize("style", ["host", "subnet", "class"])
def test_mynetworks_style_computes_mynetworks_as_postfix(style, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MAIL_CONFIG", raising=False)
    (tmp_path / "main.cf").write_text(MAIN_CF + f"mynetworks_style = {style}\ninet_interfaces = all\n")
    (tmp_path / "master.cf").write_text("")
    real = subprocess.run([POSTCONF, "-c", str(tmp_path), "-h", "mynetworks"],
                          capture_output=True, text=True, check=True).stdout
    assert main(["-c", str(tmp_path), "-h", "mynetworks"]) == 0
    assert capsys.readouterr().out == real
