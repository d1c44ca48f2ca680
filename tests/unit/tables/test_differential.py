"""Random patterns, matched by pfx and by the real postmap: same keys match, same rules refused.

Seeded, so a failure is reproducible. Left out on purpose: an anchor inside a counted
group, e.g. ``(^|a){2}`` or ``(\\b|a){2}``, where glibc's matcher accepts strings that
POSIX does not. Regexp cases include basic syntax (the ``x`` flag).
"""

import random

import pytest

from pfx.tables.pattern import RuleError
from pfx.tables.pcre import compile_pcre
from pfx.tables.regexp import compile_regexp
from tests.unit.tables.conftest import REAL_POSTMAP

COMMON = ["a", "b", ".", "[ab]", "[^a]", "[]a]", "[a-]", "[[:alpha:]]", "\\w", "\\W", "@",
          "\\-", "[.]", "{", "}", "a|", "()", "x*"]
ATOMS = {
    "regexp": COMMON + ["[\\]", "\\(a\\)", "\\b", "\\<"],
    "pcre": COMMON + ["(?:a)", "(?=a)", "(?!b)", "\\d", "a*?", "a++", "(?i)A", "\\Qa.\\E",
                      "\\h", "(?<n>a)", "\\z", "\\Z", "[^]a]", "\\x41", "\\101", "(?<=a)"],
}
ANCHORS = {"\\b", "\\<", "(?=a)", "(?!b)", "\\z", "\\Z", "(?<=a)"}
QUANTIFIERS = ["", "", "", "*", "+", "?", "{2}", "{1,2}"]
FLAGS = {"regexp": ["", "", "i", "x", "ix"], "pcre": ["", "", "i"]}
CASES = 150


def patterns(kind, rng):
    for _ in range(CASES):
        parts = []
        for _ in range(rng.randint(1, 4)):
            atom = rng.choice(ATOMS[kind])
            if rng.random() < 0.2:
                plain = [a for a in ATOMS[kind] if a not in ANCHORS]
                atom = f"({rng.choice(plain)}|{rng.choice(plain)})"
            parts.append(atom + rng.choice(QUANTIFIERS))
        text = "".join(parts)
        yield ("^" if rng.random() < 0.3 else "") + text + ("$" if rng.random() < 0.3 else ""), \
            rng.choice(FLAGS[kind])


@pytest.mark.parametrize("kind", ["regexp", "pcre"])
def test_pfx_and_postmap_agree_on_random_patterns(kind, tmp_path, real_postfix):
    real_postfix.require(kind)
    rng = random.Random(20261125)
    keys = sorted({"".join(rng.choice("abxA.-@c") for _ in range(rng.randint(1, 6)))
                   for _ in range(60)})
    compile_ = compile_regexp if kind == "regexp" else compile_pcre
    path = tmp_path / f"t.{kind}"
    problems = []
    for pattern, flags in patterns(kind, rng):
        path.write_text(f"/{pattern}/{flags} hit\n")
        done = real_postfix.run(REAL_POSTMAP, "-q", "-", f"{kind}:{path}",
                                stdin="".join(k + "\n" for k in keys))
        real = None if "warning" in done.stderr else \
            {line.split("\t")[0] for line in done.stdout.splitlines()}
        try:
            regex = compile_(pattern, flags)
            ours = {k for k in keys if regex.search(k)}
        except RuleError:
            ours = None
        if ours != real:
            problems.append((pattern, flags, ours, real))
    assert problems == []


CAPTURE_ATOMS = ["a", "b", ".", "[ab]", "x", "ab", "a|ab", "b|ba", "x*", "a+", ""]


@pytest.mark.parametrize("kind", ["regexp", "pcre"])
def test_pfx_and_postmap_capture_the_same_dollar_one(kind, tmp_path, real_postfix, registry):
    # POSIX takes the longest leftmost match, PCRE the first: both must come out the same
    # as in Postfix. (Nested groups repeated with empty iterations, as in ((x*)*), are
    # left out: there glibc and Python disagree about the inner group.)
    real_postfix.require(kind)
    rng = random.Random(1125)

    def part():
        return "".join(rng.choice([f"({rng.choice(CAPTURE_ATOMS)})", rng.choice(CAPTURE_ATOMS)])
                       + rng.choice(["", "", "*", "+", "?"]) for _ in range(rng.randint(1, 3)))

    keys = sorted({"".join(rng.choice("abx") for _ in range(rng.randint(1, 6)))
                   for _ in range(40)})
    problems = []
    for n in range(60):
        path = tmp_path / f"c{n}.{kind}"
        path.write_text(f"/({part()})({part()})/ [$1]\n")
        done = real_postfix.run(REAL_POSTMAP, "-q", "-", f"{kind}:{path}",
                                stdin="".join(k + "\n" for k in keys))
        if "warning" in done.stderr:
            continue
        real = dict(line.split("\t", 1) for line in done.stdout.splitlines())
        table = registry.open_strict(f"{kind}:{path}")
        ours = {k: v for k in keys if (v := table.lookup(k)) is not None}
        if ours != real:
            problems.append((path.read_text(), ours, real))
    assert problems == []
