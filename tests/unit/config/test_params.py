"""Parameter conversion, ranges, list grouping and the registry."""

import pytest

from pfx.config.params import BadValue, ParamRegistry, convert, split_list, to_bool, to_time
from pfx.plugin import Param, ParamTemplate


@pytest.mark.parametrize("text, want", [
    ("yes", True), ("YES", True), ("true", True), ("on", True), ("1", True),
    ("no", False), ("False", False), ("off", False), ("0", False),
])
def test_bool(text, want):
    assert to_bool(text) is want


def test_bad_bool():
    with pytest.raises(BadValue, match='bad boolean value: "maybe"'):
        to_bool("maybe")


@pytest.mark.parametrize("text, unit, want", [
    ("300s", "s", 300), ("5m", "s", 300), ("2h", "s", 7200), ("1d", "s", 86400),
    ("1w", "s", 604800), ("30", "s", 30), ("3", "d", 3 * 86400), ("0", "s", 0),
])
def test_time_units(text, unit, want):
    assert to_time(text, unit) == want


@pytest.mark.parametrize("text", ["10x", "", "s", "-5s", "1.5h", "5 m"])
def test_bad_time(text):
    with pytest.raises(BadValue, match="bad time value"):
        to_time(text)


@pytest.mark.parametrize("kind, text, want", [
    ("str", " as is ", " as is "),
    ("raw", "$not_expanded", "$not_expanded"),
    ("int", "42", 42),
    ("int", "-1", -1),
    ("size", "10240000", 10240000),
    ("time", "1h", 3600),
    ("bool", "no", False),
    ("list", "a, b\tc ,d", ["a", "b", "c", "d"]),
])
def test_convert(kind, text, want):
    assert convert(Param("p", "", kind), text) == want


@pytest.mark.parametrize("param, text, message", [
    (Param("p", "1", "int", min=1), "0", "invalid value: 0 < 1"),
    (Param("p", "1", "int", max=6), "7", "invalid value: 7 > 6"),
    (Param("p", "1s", "time", min=1), "0s", "invalid value: 0s < 1"),
    (Param("p", "1", "size", min=0), "12k", 'bad numerical value: "12k"'),
    (Param("p", "1", "int"), "", 'bad numerical value: ""'),
])
def test_ranges_and_bad_numbers(param, text, message):
    with pytest.raises(BadValue) as e:
        convert(param, text)
    assert str(e.value).startswith(message)


def test_bounds_are_inclusive():
    p = Param("p", "2", "int", min=0, max=6)
    assert convert(p, "0") == 0 and convert(p, "6") == 6


@pytest.mark.parametrize("text, want", [
    ("", []),
    (" , ,", []),
    ("hash:/etc/a, cidr:/etc/b", ["hash:/etc/a", "cidr:/etc/b"]),
    ("inline:{ a=b, c=d }, x", ["inline:{ a=b, c=d }", "x"]),
    ("{ a b } c", ["{ a b }", "c"]),
    ("x{a{b c}d} e", ["x{a{b c}d}", "e"]),
])
def test_split_list_grouping(text, want):
    assert split_list(text) == want


def test_split_list_unclosed_group():
    with pytest.raises(BadValue, match='missing "}"'):
        split_list("inline:{ a=b")


def test_registry_refuses_conflicting_declarations():
    reg = ParamRegistry([Param("a", "1", "int")])
    reg.add(Param("a", "1", "int"))  # the same declaration twice is fine
    with pytest.raises(ValueError, match="declared twice"):
        reg.add(Param("a", "2", "int"))


def test_registry_templates_per_service():
    t = ParamTemplate("{service}_destination_concurrency_limit",
                      "$default_destination_concurrency_limit", "int", min=0)
    reg = ParamRegistry([Param("z", "")], [t]).for_services(["smtp", "relay"])
    assert reg.names() == ["relay_destination_concurrency_limit",
                           "smtp_destination_concurrency_limit", "z"]
    assert reg.get("smtp_destination_concurrency_limit").min == 0
    assert "relay_destination_concurrency_limit" in reg
