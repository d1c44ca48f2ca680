"""regexp_table(5)/pcre_table(5) rule parsing as Postfix 3.7's: ``!`` operators, IF with
extra text, bad replacement texts, and the warnings' words, line by line."""

import pytest

from tests.unit.tables.conftest import REAL_POSTMAP

SOURCE = """\
if /x/ foo
endif
!!/a/ double negation
! ! /b/ spaced negation
/abc X
!
abc def
if abc
endif
/(d)/ $(1
/e/ ${}
/f/ a $ b
/g/ a$
/(h)/ $1y
/q/Z Q
/ok/ fine
"""


def expected(kind, path):
    label = f"{kind} map {path}"
    unclosed = "ignoring" if kind == "pcre" else "skipping"
    return [
        f'{label}, line 1: ignoring extra text after IF statement: "foo"',
        f'{label}, line 5: no closing regexp delimiter "/": {unclosed} this rule',
        f"{label}, line 6: no regexp: skipping this rule",
        f"{label}, line 7: ignoring unrecognized request",
        f'{label}, line 8: no closing regexp delimiter "a": {unclosed} this rule',
        f"{label}, line 9: ignoring ENDIF without matching IF",
        'truncated macro reference: "$(1"',
        f"{label}, line 10: bad replacement syntax: skipping this rule",
        'empty macro name: "${}"',
        f"{label}, line 11: bad replacement syntax: skipping this rule",
        'empty macro name: "a $ b"',
        f"{label}, line 12: bad replacement syntax: skipping this rule",
        'empty macro name: "a$"',
        f"{label}, line 13: bad replacement syntax: skipping this rule",
        f'{label}, line 14: non-numeric replacement index "1y"',
        f"{label}, line 14: bad replacement syntax: skipping this rule",
        f'{label}, line 15: unknown regexp option "Z": skipping this rule',
    ]


ANSWERS = {"a": "double negation", "b": "spaced negation", "ok": "fine", "f": None,
           "x": None}


@pytest.mark.parametrize("kind", ["regexp", "pcre"])
def test_pfx_parses_and_warns_as_postfix(kind, tmp_path, registry, warnings):
    path = tmp_path / f"rules.{kind}"
    path.write_text(SOURCE)
    table = registry.open_strict(f"{kind}:{path}")
    assert {k: table.lookup(k) for k in ANSWERS} == ANSWERS
    assert warnings == expected(kind, path)


@pytest.mark.parametrize("kind", ["regexp", "pcre"])
def test_real_postmap_agrees(kind, tmp_path, real_postfix):
    real_postfix.require(kind)
    path = tmp_path / f"rules.{kind}"
    path.write_text(SOURCE)
    assert real_postfix.query(f"{kind}:{path}", ANSWERS) == {
        k: v for k, v in ANSWERS.items() if v is not None}
    done = real_postfix.run(REAL_POSTMAP, "-q", "ok", f"{kind}:{path}")
    warned = [line.removeprefix("postmap: warning: ") for line in done.stderr.splitlines()]
    # Postfix 3.7 also says "do not prepend whitespace to statements between IF and
    # ENDIF" after an IF with extra text; pfx leaves that quirk out.
    assert [w for w in warned if "do not prepend whitespace" not in w] == expected(kind, path)


EMPTY = "/nores/\n/ok/ fine\n"


@pytest.mark.parametrize("kind", ["regexp", "pcre"])
def test_a_rule_without_replacement_text_answers_the_empty_string(kind, tmp_path, monkeypatch):
    import io

    from pfx.cli import postmap

    path = tmp_path / f"empty.{kind}"
    path.write_text(EMPTY)
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.delenv("MAIL_CONFIG", raising=False)
    status = postmap.Program(stdin=io.StringIO(""), stdout=out, stderr=err).run(
        ["-c", str(tmp_path), "-q", "nores", f"{kind}:{path}"])
    assert (status, out.getvalue()) == (0, "\n")
    assert err.getvalue().splitlines() == [
        f"postmap: warning: {kind} map {path}, line 1: no replacement text: using empty string",
        f"postmap: warning: table {kind}:{path}: key nores: empty string result is not allowed",
        f"postmap: warning: table {kind}:{path} should return NO RESULT in case of NOT FOUND"]


@pytest.mark.parametrize("kind", ["regexp", "pcre"])
def test_real_postmap_answers_the_empty_string_too(kind, tmp_path, real_postfix):
    real_postfix.require(kind)
    path = tmp_path / f"empty.{kind}"
    path.write_text(EMPTY)
    done = real_postfix.run(REAL_POSTMAP, "-q", "nores", f"{kind}:{path}")
    assert (done.returncode, done.stdout) == (0, "\n")
    assert done.stderr.splitlines() == [
        f"postmap: warning: {kind} map {path}, line 1: no replacement text: using empty string",
        f"postmap: warning: table {kind}:{path}: key nores: empty string result is not allowed",
        f"postmap: warning: table {kind}:{path} should return NO RESULT in case of NOT FOUND"]
