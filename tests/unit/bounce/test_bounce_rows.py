"""The bounce plugin and its three master.cf rows: one provides INotifier, two are idle."""

import pytest
from twisted.internet.task import Clock
from twisted.plugin import getPlugins

from bounce_fakes import FakeSubmitter
from pfx.config.mastercf import parse
from pfx.config.settings import Setting, Settings
from pfx.discover import discover
from pfx.errors import ConfigError
from pfx.interfaces import IMailSubmitter, INotifier, IServiceFactory
from pfx.runtime.build import inline_runtime
from pfx.runtime.context import Components, ServiceContext
from pfx.runtime.logging import MailLog

ROWS = """\
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
"""


def contexts(tmp_path, **explicit):
    registry = discover().registry()
    values = {"queue_directory": str(tmp_path), "myhostname": "mx.example.com", **explicit}
    settings = Settings(registry, {k: Setting(v) for k, v in values.items()}, str(tmp_path))
    runtime = inline_runtime(Clock(), log=MailLog("pfx", "master", pid=1))
    components = Components()
    for entry in parse(ROWS):
        yield entry, ServiceContext(settings.for_service(entry.service), runtime,
                                    str(tmp_path), components), components


def factory():
    [f] = [p for p in getPlugins(IServiceFactory) if p.name == "bounce"]
    return f


def test_plugin_is_registered_between_cleanup_and_qmgr():
    f = factory()
    assert f.start_order == 25
    names = {p.name for p in f.parameters}
    assert {"bounce_size_limit", "notify_classes", "bounce_template_file",
            "2bounce_notice_recipient", "double_bounce_sender"} <= names


def test_only_the_bounce_row_provides_the_notifier(tmp_path):
    f = factory()
    services = []
    for entry, context, components in contexts(tmp_path):
        services.append((entry.service, f.make_service(entry, context)))
        services[-1][1].startService()
    notifier = components.require(INotifier)
    assert dict(services)["bounce"].notifier is notifier
    assert dict(services)["defer"].notifier is None and dict(services)["trace"].notifier is None
    assert notifier.config.size_limit == 50000
    assert notifier.config.notify_classes == {"resource", "software"}
    components.provide(IMailSubmitter, FakeSubmitter())  # cleanup may come later
    assert notifier._submitter() is components.require(IMailSubmitter)


def test_template_file_from_main_cf(tmp_path):
    path = tmp_path / "bounce.cf"
    path.write_text("failure_template = <<EOF\nSubject: Returned\n\nSorry.\nEOF\n")
    f = factory()
    entry, context, components = next(contexts(tmp_path, bounce_template_file=str(path)))
    f.make_service(entry, context).startService()
    tpl = components.require(INotifier).config.templates["failure_template"]
    assert tpl.subject == "Returned" and tpl.text == ("Sorry.",)


@pytest.mark.parametrize("text", [None, "failure_template = <<EOF\nno end\n"])
def test_bad_template_file_is_a_config_error(tmp_path, text):
    path = tmp_path / "bounce.cf"
    if text is not None:
        path.write_text(text)
    entry, context, _ = next(contexts(tmp_path, bounce_template_file=str(path)))
    with pytest.raises(ConfigError) as e:
        factory().make_service(entry, context)
    assert "bounce" in str(e.value)
