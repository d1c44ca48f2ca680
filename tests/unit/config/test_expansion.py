"""$name expansion (pfx.util.expand), checked against what Postfix 3.7's postconf -x prints."""

import pytest

from pfx.util.expand import ExpansionError, expand, reference_list, references

VALUES = {"full": "yes", "empty": "", "a": "$b", "b": "$c", "c": "end", "loop1": "$loop2",
          "loop2": "x ${loop1}", "self": "$self"}


def run(text):
    return expand(text, VALUES.get)


@pytest.mark.parametrize("text, want", [
    ("plain", "plain"),
    ("$full", "yes"),
    ("${full}", "yes"),
    ("$(full)", "yes"),
    ("[$full]", "[yes]"),
    ("$full.x", "yes.x"),
    ("a$$b", "a$b"),
    ("$$full", "$full"),
    ("$", "$"),
    ("$ x", "$ x"),
    ("$undefined!", "!"),
    ("${undefined}", ""),
    ("${full?set}", "set"),
    ("${empty?set}", ""),
    ("${undefined?set}", ""),
    ("${full:unset}", ""),
    ("${empty:unset}", "unset"),
    ("${undefined:unset}", "unset"),
    ("${full?{with space}}", "with space"),
    ("${empty:{with space}}", "with space"),
    ("${full?{t}:{f}}", "t"),
    ("${empty?{t}:{f}}", "f"),
    ("${full?$c}", "end"),
    ("${empty:{$a and $c}}", "end and end"),
    ("$a", "end"),
])
def test_every_form(text, want):
    assert run(text) == want


def test_same_name_twice_is_not_a_loop():
    assert run("$c $c ${c}") == "end end end"


@pytest.mark.parametrize("text, chain", [
    ("$loop1", "loop1 -> loop2 -> loop1"),
    ("${self}", "self -> self"),
    ("${full?$self}", "self -> self"),
])
def test_recursion_names_the_chain(text, chain):
    with pytest.raises(ExpansionError) as e:
        run(text)
    assert chain in str(e.value)


def test_unclosed_brace_is_an_error():
    with pytest.raises(ExpansionError, match='missing "}"'):
        run("${full")


def test_bad_operator_is_an_error():
    with pytest.raises(ExpansionError):
        run("${full!x}")


def test_references_skip_literal_dollars_and_keep_order():
    text = "a$$b ${x} $y ${z?{$w}} $(q) $$$v $x"
    assert reference_list(text) == ["x", "y", "z", "w", "q", "v", "x"]
    assert references(text) == {"x", "y", "z", "w", "q", "v"}
