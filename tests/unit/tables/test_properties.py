"""Hypothesis: translators never crash on odd patterns; search orders keep their invariants."""

from hypothesis import given, settings
from hypothesis import strategies as st

from pfx.tables.match import FULL, mapping_keys, split_extension
from pfx.tables.pattern import RuleError, parse_template, split_pattern
from pfx.tables.pcre import compile_pcre
from pfx.tables.regexp import compile_regexp

pattern_text = st.text(st.sampled_from(list("ab.^$*+?{}[]()|\\-:=!<>'1x ")), max_size=14)
flags = st.text(st.sampled_from(list("imxsAEUX")), max_size=3)


@settings(max_examples=300, deadline=None)
@given(pattern_text, flags)
def test_regexp_compiles_or_reports_a_rule_error(pattern, fl):
    try:
        compile_regexp(pattern, fl.replace("s", "").replace("A", ""))
    except RuleError:
        pass


@settings(max_examples=300, deadline=None)
@given(pattern_text, flags)
def test_pcre_compiles_or_reports_a_rule_error(pattern, fl):
    try:
        compile_pcre(pattern, fl)
    except RuleError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_rule_lines_and_templates_parse_or_report(line):
    for parse in (split_pattern, parse_template):
        try:
            parse(line)
        except RuleError:
            pass


local_parts = st.text(st.sampled_from(list("abc+-.=_")), min_size=1, max_size=10)


@given(local_parts, st.sampled_from(["", "+", "-", "+-", "=+"]))
def test_split_extension_rejoins(local, delimiters):
    base, ext = split_extension(local, delimiters)
    assert base + ext == local and base
    assert ext == "" or ext[0] in delimiters


@given(local_parts, st.sampled_from(["example.com", "a.b.example.org"]), st.booleans())
def test_mapping_keys_start_with_the_address_and_end_with_the_domain(local, domain, is_local):
    address = f"{local}@{domain}"
    keys = mapping_keys(address, "+", is_local)
    assert keys[0] == (address, FULL)
    assert keys[-1][0] == f"@{domain}"
    assert len({k for k, _ in keys}) == len(keys)


def test_oversized_patterns_are_rule_errors():
    for compile_ in (compile_regexp, compile_pcre):
        for pattern in ("a{99999999999}", "(" * 2000 + ")" * 2000):
            try:
                compile_(pattern, "")
            except RuleError:
                continue
            raise AssertionError(pattern)
