"""Settings: lazy expansion, per-service overrides, check() and unused()."""

import pytest

from pfx.config import maincf
from pfx.config.params import ParamRegistry
from pfx.config.settings import Setting, Settings
from pfx.errors import ConfigError
from pfx.plugin import Param

REGISTRY = ParamRegistry([
    Param("myhostname", "host.example"),
    Param("myorigin", "$myhostname"),
    Param("smtpd_timeout", "300s", "time", min=1),
    Param("smtpd_banner", "$myhostname ESMTP"),
    Param("syslog_name", "pfx"),
    Param("soft_bounce", "no", "bool"),
    Param("mydestination", "$myhostname, localhost", "list"),
    Param("command", "$not_expanded", "raw"),
    Param("loop", "$loop"),
])


def settings(text="", path="/etc/pfx/main.cf"):
    return Settings.from_maincf(REGISTRY, maincf.parse(text, path), "/etc/pfx")


def test_defaults_and_expansion():
    s = settings()
    assert s.raw("myorigin") == "$myhostname"
    assert s.get_str("myorigin") == "host.example"
    assert s.get("smtpd_timeout") == 300
    assert s.get("soft_bounce") is False
    assert s.get_list("mydestination") == ["host.example", "localhost"]
    assert s.get("command") == "$not_expanded"
    assert s.default_text("myorigin") == "$myhostname"
    assert s.raw("unknown") is None and s.default_text("unknown") is None


def test_expansion_is_lazy_a_bad_value_only_fails_when_read():
    s = settings("myhostname = mx.test\nsmtpd_timeout = 10x\n")
    assert s.get_str("smtpd_banner") == "mx.test ESMTP"
    with pytest.raises(ConfigError) as e:
        s.get("smtpd_timeout")
    assert str(e.value) == ('/etc/pfx/main.cf, line 2: parameter smtpd_timeout: bad time '
                            'value: "10x" (use a number with an optional unit s, m, h, d or w)')


def test_later_definition_is_seen_by_an_earlier_reference():
    s = settings("myorigin = $mydomain\nmydomain = late.test\n")
    assert s.get_str("myorigin") == "late.test"


def test_recursion_is_a_config_error_naming_the_parameter():
    with pytest.raises(ConfigError) as e:
        settings("a = $b\nb = $a\nmyorigin = $a\n").get_str("myorigin")
    assert e.value.param == "myorigin" and e.value.line == 3
    assert "recursive" in str(e.value)
    with pytest.raises(ConfigError):
        settings().get_str("loop")


def test_overrides_are_visible_to_that_service_only():
    s = settings("myhostname = mx.test\n")
    sub = s.for_service("submission", (
        ("syslog_name", Setting("postfix/$service_name", "/etc/pfx/master.cf", 12)),
        ("myhostname", Setting("sub.test", "/etc/pfx/master.cf", 12))))
    assert sub.get_str("syslog_name") == "postfix/submission"
    assert sub.get_str("smtpd_banner") == "sub.test ESMTP"
    assert sub.get_str("process_name") == "submission"
    assert s.get_str("syslog_name") == "pfx"
    assert s.get_str("smtpd_banner") == "mx.test ESMTP"
    assert s.for_service("smtp").get_str("myhostname") == "mx.test"
    assert sub.origin("myhostname") == Setting("sub.test", "/etc/pfx/master.cf", 12)


def test_override_errors_name_master_cf():
    sub = settings().for_service("smtp", (
        ("smtpd_timeout", Setting("0", "/etc/pfx/master.cf", 7)),))
    with pytest.raises(ConfigError) as e:
        sub.get("smtpd_timeout")
    assert (e.value.file, e.value.line, e.value.param) == ("/etc/pfx/master.cf", 7,
                                                           "smtpd_timeout")


def test_check_names_param_file_and_line():
    s = settings("soft_bounce = perhaps\nmyhostname = fine\n\nsmtpd_timeout = 0\n"
                 "unknown_thing = 12x\n")
    errors = s.check()
    assert [(e.param, e.file, e.line) for e in errors] == [
        ("soft_bounce", "/etc/pfx/main.cf", 1), ("smtpd_timeout", "/etc/pfx/main.cf", 4)]
    assert "invalid value: 0 < 1" in str(errors[1])


def test_unused_skips_declared_and_referenced_names():
    s = settings("foo = bar\nbaz = $foo\nqux = 1\nmyorigin = ${quux?x}\nquux = y\n"
                 "lit = a$$qux\n")
    assert [n for n, _ in s.unused()] == ["baz", "qux", "lit"]
    assert [n for n, _ in s.unused(["$qux"])] == ["baz", "lit"]
    assert s.unused()[0][1] == Setting("$foo", "/etc/pfx/main.cf", 2)


def test_is_set_and_origin():
    s = settings("myorigin = x\n")
    assert s.is_set("myorigin") and not s.is_set("myhostname")
    assert s.origin("myorigin").line == 1 and s.origin("myhostname") is None


def test_restriction_class_names_are_used_parameters():
    # postconf registers the names in smtpd_restriction_classes as user-defined parameters
    s = settings("smtpd_restriction_classes = foo, bar\nfoo = reject\nbar = permit\nbaz = x\n")
    assert [n for n, _ in s.unused()] == ["smtpd_restriction_classes", "baz"]  # no smtpd params here
