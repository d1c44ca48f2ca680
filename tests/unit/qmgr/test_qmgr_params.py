"""QMGR_PARAMETERS carry Postfix's exact names and defaults (pfx.qmgr.params)."""

import shutil
import subprocess

import pytest

from pfx.config.core import CORE_PARAMS
from pfx.config.params import ParamRegistry, convert
from pfx.config.settings import Setting, Settings
from pfx.plugin import Param, ParamTemplate
from pfx.qmgr.backoff import RetryPolicy
from pfx.qmgr.params import QMGR_PARAMETERS
from pfx.qmgr.policy import SchedulerConfig
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


def test_local_keeps_its_own_defaults_when_templates_are_instantiated():
    registry = ParamRegistry()
    registry.add_declarations(QMGR_PARAMETERS)
    local = registry.for_services(["local", "smtp"])
    assert local.get("local_destination_recipient_limit").default == "1"
    assert local.get("local_destination_concurrency_limit").default == "2"


def test_scheduler_config_from_real_settings():
    registry = ParamRegistry()
    registry.add_declarations(CORE_PARAMS)
    registry.add_declarations(QMGR_PARAMETERS)
    registry = registry.for_services(["smtp"])
    settings = Settings(registry, {
        "smtp_destination_concurrency_limit": Setting("10"),
        "default_destination_concurrency_negative_feedback": Setting("1/concurrency"),
        "minimal_backoff_time": Setting("5m"),
        "defer_transports": Setting("smtp, uucp"),
    })
    cfg = SchedulerConfig.from_settings(settings.get, {"smtp": 100})
    smtp = cfg.policy("smtp")
    assert (smtp.concurrency_limit, smtp.initial_concurrency, smtp.recipient_limit) == (10, 5, 50)
    assert smtp.negative_feedback == Feedback.parse("1/concurrency")
    assert cfg.defer_transports == {"smtp", "uucp"}
    assert (cfg.active_limit, cfg.recipient_limit, cfg.recipient_minimum) == (20000, 20000, 10)
    retry = RetryPolicy.from_settings(settings.get)
    assert retry == RetryPolicy(minimal_backoff_time=300)
    assert retry.maximal_queue_lifetime == 5 * 86400
