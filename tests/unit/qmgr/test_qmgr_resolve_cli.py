"""``pfx resolve`` prints what the queue manager's resolver answers; the resolve
parameters carry Postfix's defaults."""

import os
import shutil
import subprocess

import pytest

from pfx.cli import main as pfx_main
from pfx.cli.resolve import main
from pfx.config.params import convert
from pfx.plugin import Param
from pfx.qmgr.params import DELIVERY_PARAMS, RESOLVE_PARAMS


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.delenv("MAIL_CONFIG", raising=False)
    (tmp_path / "relocated").write_text("gone@example.com new@example.org\n")
    (tmp_path / "transport").write_text("example.net error:5.1.1 no such domain\n"
                                        "slow.example smtp:[relay.example]:2525\n")
    (tmp_path / "main.cf").write_text(
        "myhostname = mx.example.test\nmydomain = example.test\n"
        "inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
        f"relocated_maps = texthash:{tmp_path}/relocated\n"
        f"transport_maps = texthash:{tmp_path}/transport\n")
    (tmp_path / "master.cf").write_text("")
    return tmp_path


def test_resolve_prints_class_transport_nexthop(config, capsys):
    assert main(["-c", str(config), "user@mx.example.test", "y@slow.example",
                 "gone@example.com", "x@example.net", "user@[127.0.0.1]"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "class=local transport=local nexthop=mx.example.test recipient=user@mx.example.test",
        "class=default transport=smtp nexthop=[relay.example]:2525 recipient=y@slow.example",
        "class=default transport=error nexthop=5.1.6 User has moved to new@example.org "
        "recipient=gone@example.com qmgr=bounced dsn=5.1.6 (User has moved to "
        "new@example.org)",
        "class=default transport=error nexthop=5.1.1 no such domain recipient=x@example.net"
        " qmgr=bounced dsn=5.1.1 (no such domain)",
        "class=local transport=local nexthop=mx.example.test recipient=user@[127.0.0.1]",
    ]


def test_resolve_is_a_pfx_tool_and_takes_a_sender(config, capsys):
    (config / "main.cf").write_text((config / "main.cf").read_text()
                                    + "relay_domains = relay.example\n")
    assert pfx_main.main(["-c", str(config), "resolve", "-s", "a@b", "u@relay.example"]) == 0
    assert capsys.readouterr().out == (
        "class=relay transport=relay nexthop=relay.example recipient=u@relay.example\n")


def test_resolve_usage_and_fatal_errors(tmp_path, capsys):
    assert main([]) == 64
    (tmp_path / "main.cf").write_text("resolve_null_domain = maybe\n")
    (tmp_path / "master.cf").write_text("")
    assert main(["-c", str(tmp_path), "u@x"]) == 1
    assert "resolve: fatal:" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("postconf") is None, reason="Postfix not installed")
def test_resolve_and_delivery_defaults_match_postfix(tmp_path):
    (tmp_path / "main.cf").write_text("compatibility_level = 3.6\n")
    params = [p for p in RESOLVE_PARAMS + DELIVERY_PARAMS if isinstance(p, Param)]
    env = {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}
    out = subprocess.run(["postconf", "-c", str(tmp_path), "-x",
                          *[p.name for p in params]],
                         capture_output=True, text=True, check=True, env=env).stdout
    theirs = dict(line.split(" =", 1) for line in out.splitlines())
    for p in params:
        expected = theirs[p.name].strip()
        if "$" in p.default:  # compare the declaration, not Postfix's expansion of it
            continue
        assert p.default == expected, p.name
        convert(p, p.default)


def test_braced_inline_virtual_alias_maps_make_a_virtual_alias_domain(config, capsys):
    # virtual_alias_domains defaults to $virtual_alias_maps: an inline table with
    # "{ key = a, b }" elements is one table, not words to split
    with open(config / "main.cf", "a") as f:
        f.write("virtual_alias_maps = inline:{ v.example=x, { list@v.example = a@x.example, b@x.example } }\n")
    assert main(["-c", str(config), "list@v.example"]) == 0
    assert capsys.readouterr().out.startswith("class=alias ")
