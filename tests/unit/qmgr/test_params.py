"""QMGR_PARAMETERS carry Postfix's exact names and defaults (pfx.qmgr.params)."""

import shutil
import subprocess

import pytest

from pfx.config.params import ParamRegistry, convert
from pfx.plugin import Param, ParamTemplate
from pfx.qmgr.params import QMGR_PARAMETERS
from pfx.qmgr.window import Feedback

PARAMS = [p for p in QMGR_PARAMETERS if isinstance(p, Param)]
TEMPLATES = [p for p in QMGR_PARAMETERS if isinstance(p, ParamTemplate)]


def test_names_are_unique_and_defaults_convert():
    names = [p.name for p in PARAMS] + [t.pattern for t in TEMPLATES]
    assert len(names) == len(set(names))
    for p in PARAMS:
        if "feedback" in p.name:
            Feedback.parse(p.default)
        elif not p.default.startswith("$"):
            convert(p, p.default)


@pytest.mark.skipif(shutil.which("postconf") is None, reason="Postfix not installed")
def test_defaults_match_postconf_d():
    names = [p.name for p in PARAMS] + [t.for_service("smtp").name for t in TEMPLATES]
    out = subprocess.run(["postconf", "-d", *names], capture_output=True, text=True,
                         check=True).stdout
    theirs = dict(line.split(" = ", 1) if " = " in line else (line.rstrip(" ="), "")
                  for line in out.splitlines())
    ours = {p.name: p.default for p in PARAMS}
    ours.update({t.for_service("smtp").name: t.default for t in TEMPLATES})
    assert ours == theirs


def test_registry_accepts_the_declarations():
    registry = ParamRegistry()
    registry.add_declarations(QMGR_PARAMETERS)
    assert registry.get("minimal_backoff_time").default == "300s"
    smtp = registry.for_services(["smtp"])
    assert smtp.get("smtp_destination_recipient_limit").default == \
        "$default_destination_recipient_limit"


@pytest.mark.xfail(strict=True, raises=ValueError,
                   reason="ParamRegistry.for_services must let a concrete Param "
                          "(local_destination_recipient_limit = 1) win over a template")
def test_local_keeps_its_own_defaults_when_templates_are_instantiated():
    registry = ParamRegistry()
    registry.add_declarations(QMGR_PARAMETERS)
    local = registry.for_services(["local", "smtp"])
    assert local.get("local_destination_recipient_limit").default == "1"
    assert local.get("local_destination_concurrency_limit").default == "2"
