"""``pcre:`` tables: pcre_table(5) rules on Python's re, with the PCRE-only syntax translated.

Accepted as PCRE writes them: ``(?<name>..)``, ``(?'name'..)``, ``\\k<name>``,
``\\g{n}``, ``\\Q..\\E``, ``\\z``, ``\\Z``, ``\\h``/``\\H``, ``\\R``, possessive
quantifiers and atomic groups (Python 3.11), lookaround, backreferences. Flags i (on by
default), m, s, x, A, E, U (quantifiers rewritten lazy) and X behave as in PCRE; u is
accepted (keys are already text).

Differences accepted: recursion ``(?R)``/``(?1)``, ``\\K``,
callouts, ``(*VERB)`` controls and Unicode properties ``\\p{..}`` are refused with a
warning naming the line, and the rule is skipped; ``\\w``, ``\\d`` and case folding are
ASCII-only, as PCRE without UCP; lookbehind must be fixed-width (PCRE allows
alternatives of different fixed widths).

Inline options such as ``a(?i)b|c`` are allowed anywhere, as in PCRE: Python accepts
them only at the start, so the rest of the group becomes ``a(?i:b)|(?i:c)``.
"""

import re
import warnings

from pfx.tables.pattern import PatternTable, RuleError

_UNSUPPORTED = [
    (re.compile(r"\(\?R\)|\(\?[+-]?\d+\)|\(\?&"), "recursion"),
    (re.compile(r"\\K"), "\\K"),
    (re.compile(r"\(\*[A-Z]"), "(*VERB)"),
    (re.compile(r"\\[pPX]"), "Unicode properties"),
    (re.compile(r"\(\?C"), "callouts"),
]


_OPTION_SETTING = re.compile(r"\(\?([a-zA-Z]*(?:-[a-zA-Z]*)?)\)")
_QUANTIFIER = re.compile(r"[*+?]|\{\d*,?\d*\}")


def translate_pcre(pattern, dollar_endonly=False, ungreedy=False):
    """PCRE syntax -> Python re syntax (see the module docstring for what is refused)."""
    out, i, n = [], 0, len(pattern)
    in_class = prev_assert = False
    scopes = [[]]  # per open group: inline option settings turned into scoped groups
    while i < n:
        ch = pattern[i]
        if not in_class and prev_assert and _QUANTIFIER.match(pattern, i):
            raise RuleError("quantifier does not follow a repeatable item")
        prev_assert = False
        if ch == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                end = n if end < 0 else end
                out.append(re.escape(pattern[i + 2:end]))
                i = end + 2
                continue
            if nxt == "E":
                i += 2
                continue
            if not in_class:
                prev_assert = nxt in "zZAbBG"
                m = re.compile(r"\\k(?:<(\w+)>|'(\w+)'|\{(\w+)\})").match(pattern, i)
                if m:
                    out.append(f"(?P={m.group(1) or m.group(2) or m.group(3)})")
                    i = m.end()
                    continue
                m = re.compile(r"\\g(?:\{(-?\d+)\}|(\d+))").match(pattern, i)
                if m:
                    number = m.group(1) or m.group(2)
                    if number.startswith("-"):
                        raise RuleError("relative back references are not supported")
                    out.append(f"(?:\\{number})")
                    i = m.end()
                    continue
                if nxt == "z":
                    out.append(r"\Z")
                elif nxt == "Z":
                    out.append(r"(?=\n?\Z)")
                elif nxt == "R":
                    out.append(r"(?:\r\n|[\n\v\f\r\x85])")
                elif nxt == "h":
                    out.append(r"[ \t\xa0]")
                elif nxt == "H":
                    out.append(r"[^ \t\xa0]")
                else:
                    out.append(ch + nxt)
            else:
                out.append({"h": r" \t\xa0"}.get(nxt, ch + nxt))
            i += 2
            continue
        if in_class:
            if ch == "]" and out[-1] not in ("[", "[^"):
                in_class = False
            elif ch == "[" and pattern[i + 1:i + 2] == ":" and pattern.find(":]", i) > 0:
                end = pattern.find(":]", i)
                out.append(_posix_class(pattern[i + 2:end]))
                i = end + 2
                continue
            elif ch in "&|~[" or (ch == "-" and out[-1].endswith("-")):
                out.append("\\" + ch)  # Python warns about these as future set syntax
                i += 1
                continue
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "^":
                out.append("[^")
                i += 2
            else:
                out.append("[")
                i += 1
            if pattern[i:i + 1] == "]":  # a leading ] is a literal
                out.append(r"\]")
                i += 1
            continue
        if ch == "(":
            m = _OPTION_SETTING.match(pattern, i)
            if m:
                # Python allows (?i) only at the very start: scope it to the rest of
                # this group, closed again before each | (see the docstring).
                options = m.group(1)
                if set(options) - set("imsx-"):
                    raise RuleError(f"unsupported inline option (?{options})")
                if options.strip("-"):
                    scopes[-1].append(options)
                    out.append(f"(?{options}:")
                i = m.end()
                continue
            scopes.append([])
        elif ch == ")" and len(scopes) > 1:
            out.append(")" * len(scopes.pop()))
        elif ch == "|":
            out.append(")" * len(scopes[-1]) + "|" + "".join(f"(?{o}:" for o in scopes[-1]))
            i += 1
            continue
        elif ch in "^$":
            prev_assert = True
        if pattern.startswith("(?<", i) and pattern[i + 3:i + 4] not in ("=", "!"):
            out.append("(?P<")
            i += 3
            continue
        m = re.compile(r"\(\?'(\w+)'").match(pattern, i)
        if m:
            out.append(f"(?P<{m.group(1)}>")
            i = m.end()
            continue
        if ch == "$" and dollar_endonly:
            out.append(r"\Z")
        elif ungreedy and ch in "*+?{" and out and out[-1] not in ("(", "(?"):
            i = _invert_quantifier(pattern, i, out)
            continue
        else:
            out.append(ch)
        i += 1
    out.append(")" * len(scopes[0]))
    return "".join(out)


def _invert_quantifier(pattern, i, out):
    """PCRE's U flag: a quantifier at pattern[i] becomes lazy, and ``x?`` after it greedy."""
    if pattern[i] == "{":
        end = pattern.find("}", i)
        if end < 0 or not re.fullmatch(r"\{\d*(,\d*)?\}", pattern[i:end + 1]):
            out.append("{")
            return i + 1
        out.append(pattern[i:end + 1])
        i = end + 1
    else:
        out.append(pattern[i])
        i += 1
    nxt = pattern[i:i + 1]
    if nxt == "?":
        return i + 1  # explicitly lazy under U means greedy
    if nxt == "+":
        out.append("+")  # possessive stays possessive
        return i + 1
    out.append("?")
    return i


def _posix_class(name):
    from pfx.tables.regexp import _CLASSES

    if name not in _CLASSES:
        raise RuleError(f"unknown POSIX class name [:{name}:]")
    return _CLASSES[name]


def compile_pcre(pattern, flags):
    """``pattern`` with pcre_table flags -> compiled Python regex."""
    opts = re.ASCII | re.IGNORECASE
    anchored = dollar_endonly = ungreedy = False
    for f in flags:
        if f == "i":
            opts ^= re.IGNORECASE
        elif f == "m":
            opts ^= re.MULTILINE
        elif f == "s":
            opts ^= re.DOTALL
        elif f == "x":
            opts ^= re.VERBOSE
        elif f == "A":
            anchored = True
        elif f == "E":
            dollar_endonly = True
        elif f in "Xu":
            pass
        elif f == "U":
            ungreedy = not ungreedy
        else:
            raise RuleError(f'unknown regexp option "{f}": skipping this rule')  # Postfix's words
    for probe, what in _UNSUPPORTED:
        if probe.search(pattern):
            raise RuleError(f"{what} is not supported by pfx: skipping this rule")
    text = translate_pcre(pattern, dollar_endonly, ungreedy)
    if anchored:
        text = r"\A(?:" + text + ")"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FutureWarnings about set syntax: not the user's
            return re.compile(text, opts)
    except re.error as e:
        raise RuleError(f"error in regex at offset {e.pos}: {e.msg}") from e
    except (OverflowError, RecursionError) as e:  # huge {n} counts, absurd nesting
        raise RuleError(f"regular expression too large: {e}") from e


def open_pcre(name, flags):
    return PatternTable("pcre", name, compile_pcre, flags)
