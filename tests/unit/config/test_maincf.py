"""main.cf parsing: logical lines, comments, errors with file and line, overriding."""

import pytest

from pfx.config import maincf
from pfx.errors import ConfigError


def test_names_values_and_lines():
    cf = maincf.parse("# c\n\na = 1\nb=two words  \n", "/x/main.cf")
    assert cf.entries["a"] == maincf.Entry("a", "1", 3)
    assert cf.value("b") == "two words"
    assert cf.value("missing") is None
    assert cf.warnings == ()


def test_continuations_are_appended_verbatim_and_comments_inside_are_skipped():
    # Postfix 3.7: "a = x  \n  y \t\n# c\n\tz" has the value "x    y \t\tz"
    cf = maincf.parse("a = x  \n  y \t\n# c\n   # indented comment\n\n\tz\nb = 1\n")
    assert cf.value("a") == "x    y \t\tz"
    assert cf.entries["b"].line == 7


def test_value_may_contain_equals_and_hash():
    cf = maincf.parse("a = b=c # not a comment\n")
    assert cf.value("a") == "b=c # not a comment"


def test_name_is_anything_up_to_space_or_equals():
    # Postfix reports "a-b = x" as an unused parameter, not a syntax error.
    assert maincf.parse("a-b = x\nc.d=y\n").value("a-b") == "x"


@pytest.mark.parametrize("text, message, line", [
    ("a = 1\nbad line\n", "missing '=' after attribute name: \"bad line\"", 2),
    ("a b = x\n", "missing '=' after attribute name: \"a b = x\"", 1),
    ("# c\n=x\n", 'missing attribute name: "=x"', 2),
])
def test_errors_name_file_and_line(text, message, line):
    with pytest.raises(ConfigError) as e:
        maincf.parse(text, "/etc/pfx/main.cf")
    assert (e.value.file, e.value.line, e.value.message) == ("/etc/pfx/main.cf", line, message)
    assert str(e.value) == f"/etc/pfx/main.cf, line {line}: {message}"


def test_leading_whitespace_line_is_a_warning_and_ignored():
    cf = maincf.parse(" lead = x\na = 1\n", "m.cf")
    assert "lead" not in cf.entries
    assert cf.warnings == ('m.cf: logical line must not start with whitespace: " lead = x"',)


def test_last_entry_wins_with_overriding_warning():
    cf = maincf.parse("a = 1\nb = 2\na = 3\n", "m.cf")
    assert cf.value("a") == "3"
    assert cf.entries["a"].line == 3
    assert cf.warnings == ("m.cf, line 3: overriding earlier entry: a=1",)


def test_read_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        maincf.read(str(tmp_path / "main.cf"))
    assert e.value.file == str(tmp_path / "main.cf")
    assert "No such file" in str(e.value)
