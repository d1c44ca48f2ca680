"""``regexp:`` tables: regexp_table(5) rules with POSIX regular expressions, run on Python's re.

POSIX syntax is translated, not passed through: bracket expressions (``[[:alpha:]]``,
a literal ``\\`` and ``]`` inside brackets), basic syntax when the ``x`` flag turns
extended syntax off, and glibc's ``\\<`` ``\\>`` word anchors. Without the ``m`` flag
newlines are ordinary characters (``.`` and ``[^a]`` match them, ``$`` is only the end
of the string), as with regcomp() without REG_NEWLINE. Matching is ASCII-only for
``\\w`` and case folding, as in the C locale Postfix runs in. Differences: POSIX picks the
longest leftmost match where Python picks the first alternative that matches, which
can change what ``$n`` captures in patterns like ``(a|ab)``.
"""

import re

from pfx.tables.pattern import PatternTable, RuleError

_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": r" \t\n\r\f\v", "blank": r" \t", "punct": r"!-/:-@\[-`{-~", "print": r" -~",
    "graph": r"!-~", "cntrl": r"\x00-\x1f\x7f", "xdigit": "0-9A-Fa-f", "word": r"\w",
}
# Characters that are plain text in a POSIX bracket but special (or warned about) in Python's.
_BRACKET_ESCAPE = set("\\[]&|~^-")


def translate_bracket(pattern, i, newline_special):
    """Translate the bracket expression starting at pattern[i] == '['; -> (text, next index)."""
    out, i = ["["], i + 1
    if i < len(pattern) and pattern[i] == "^":
        out.append("^")
        if newline_special:
            out.append(r"\n")
        i += 1
    first = True
    while i < len(pattern):
        ch = pattern[i]
        if ch == "]" and not first:
            out.append("]")
            return "".join(out), i + 1
        at_start, first = first, False
        if ch == "[" and pattern[i + 1:i + 2] in (":", ".", "="):
            kind = pattern[i + 1]
            end = pattern.find(kind + "]", i + 2)
            if end < 0:
                raise RuleError("Unmatched [ or [^")
            name = pattern[i + 2:end]
            if kind == ":":
                if name not in _CLASSES:
                    raise RuleError("Invalid character class name")
                out.append(_CLASSES[name])
            else:
                out.append("".join("\\" + c if c in _BRACKET_ESCAPE else c for c in name))
            i = end + 2
            continue
        if ch == "-" and not at_start and pattern[i + 1:i + 2] != "]":
            out.append("-")  # a range
        else:
            out.append("\\" + ch if ch in _BRACKET_ESCAPE else ch)
        i += 1
    raise RuleError("Unmatched [ or [^")


def translate_posix(pattern, extended=True, newline_special=False):
    """A POSIX ERE (or BRE when not ``extended``) -> Python re syntax."""
    out, i, n = [], 0, len(pattern)
    bre_specials = {"(": "(", ")": ")", "{": "{", "}": "}", "|": "|", "+": "+", "?": "?"}
    while i < n:
        ch = pattern[i]
        if ch == "[":
            text, i = translate_bracket(pattern, i, newline_special)
            out.append(text)
            continue
        if ch == "\\":
            if i + 1 >= n:
                raise RuleError("Trailing backslash")
            nxt = pattern[i + 1]
            i += 2
            if not extended and nxt in bre_specials:
                out.append(bre_specials[nxt])
            elif nxt == "<":
                out.append(r"\b(?=\w)")
            elif nxt == ">":
                out.append(r"\b(?<=\w)")
            elif nxt == "`":
                out.append(r"\A")
            elif nxt == "'":
                out.append(r"\Z")
            elif nxt in "wWsSbB123456789":
                out.append("\\" + nxt)
            else:
                out.append(re.escape(nxt))
            continue
        if not extended and ch in "(){}|+?":
            out.append("\\" + ch)
        elif ch == "$" and not newline_special:
            out.append(r"\Z")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def compile_regexp(pattern, flags):
    """``pattern`` with regexp_table flags (i, x, m toggles) -> compiled Python regex."""
    icase, extended, multiline = True, True, False
    for f in flags:
        if f == "i":
            icase = not icase
        elif f == "x":
            extended = not extended
        elif f == "m":
            multiline = not multiline
        else:
            raise RuleError(f'unknown regexp option "{f}": skipping this rule')
    opts = re.ASCII | (re.IGNORECASE if icase else 0)
    opts |= re.MULTILINE if multiline else re.DOTALL
    try:
        return re.compile(translate_posix(pattern, extended, multiline), opts)
    except re.error as e:
        raise RuleError(f"Invalid regular expression: {e}") from e
    except (OverflowError, RecursionError) as e:  # huge {n} counts, absurd nesting
        raise RuleError(f"regular expression too large: {e}") from e


def open_regexp(name, flags):
    return PatternTable("regexp", name, compile_regexp, flags)
