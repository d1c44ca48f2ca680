"""``regexp:`` tables: regexp_table(5) rules with POSIX regular expressions, run on Python's re.

POSIX syntax is translated, not passed through: bracket expressions (``[[:alpha:]]``,
a literal ``\\`` and ``]`` inside brackets), basic syntax when the ``x`` flag turns
extended syntax off, and glibc's ``\\<`` ``\\>`` word anchors. Without the ``m`` flag
newlines are ordinary characters (``.`` and ``[^a]`` match them, ``$`` is only the end
of the string), as with regcomp() without REG_NEWLINE. Matching is ASCII-only for
``\\w`` and case folding, as in the C locale Postfix runs in. Differences: POSIX picks the
longest leftmost match where Python picks the first alternative that matches, which
can change what ``$n`` captures; PosixRegex.longest() corrects this for patterns that
do not look past the end of the match. Another known difference: glibc accepts odd
strings for an anchor inside a counted group, e.g. ``(^|a){2}``.
"""

import re
import warnings

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
    first, in_range = True, False
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
        if ch == "-" and not at_start and not in_range and pattern[i + 1:i + 2] != "]":
            out.append("-")  # a range operator; the next character is its end
            in_range = True
        else:
            out.append("\\" + ch if ch in _BRACKET_ESCAPE else ch)
            in_range = False
        i += 1
    raise RuleError("Unmatched [ or [^")


_INTERVAL = re.compile(r"(\d*)(,(\d*))?")
_RE_DUP_MAX = 0x7FFF


def _interval(pattern, i, close):
    """Parse ``{n}``, ``{n,}``, ``{n,m}``, ``{,m}`` after pattern[i-1]; -> (text, next index)."""
    end = pattern.find(close, i)
    m = _INTERVAL.fullmatch(pattern, i, end) if end >= 0 else None
    if m is None or not (m.group(1) or m.group(3)):
        raise RuleError("Unmatched \\{ or invalid content of \\{\\}")
    low = int(m.group(1) or 0)
    high = low if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
    if high is not None and high < low:
        raise RuleError("Invalid content of \\{\\}")
    if max(low, high or 0) > _RE_DUP_MAX:
        raise RuleError("Regular expression too big")
    text = "{%d}" % low if m.group(2) is None else "{%d,%s}" % (low, "" if high is None else high)
    return text, end + len(close)


def _tokens(pattern, extended, newline_special):
    """Split a POSIX pattern into (kind, python_text): atom, open, close, alt, quant, anchor."""
    toks, i, n, depth = [], 0, len(pattern), 0

    def leading():
        # BRE: where ^ is an anchor and * a literal (glibc also makes * literal after an anchor).
        return not toks or toks[-1][0] in ("open", "alt")

    while i < n:
        ch = pattern[i]
        if ch == "[":
            text, i = translate_bracket(pattern, i, newline_special)
            toks.append(("atom", text))
            continue
        i += 1
        if ch == "\\":
            if i >= n:
                raise RuleError("Trailing backslash")
            nxt, i = pattern[i], i + 1
            if not extended and nxt == "(":
                depth += 1
                toks.append(("open", "("))
            elif not extended and nxt == ")":
                if depth == 0:
                    raise RuleError("Unmatched ) or \\)")
                depth -= 1
                toks.append(("close", ")"))
            elif not extended and nxt == "{":
                text, i = _interval(pattern, i, "\\}")
                toks.append(("quant", text))
            elif not extended and nxt == "|":
                toks.append(("alt", "|"))
            elif not extended and nxt in "+?":
                toks.append(("quant", nxt))
            elif nxt in "<>`'bB":
                toks.append(("anchor", {"<": r"\b(?=\w)", ">": r"\b(?<=\w)", "`": r"\A",
                                        "'": r"\Z"}.get(nxt, "\\" + nxt)))
            elif nxt in "wWsS123456789":
                toks.append(("atom", "\\" + nxt))
            else:
                toks.append(("atom", re.escape(nxt)))
        elif extended and ch == "(":
            depth += 1
            toks.append(("open", "("))
        elif extended and ch == ")" and depth > 0:
            depth -= 1
            toks.append(("close", ")"))
        elif extended and ch == "|":
            toks.append(("alt", "|"))
        elif extended and ch in "*+?":
            toks.append(("quant", ch))
        elif extended and ch == "{":
            text, i = _interval(pattern, i, "}")
            toks.append(("quant", text))
        elif ch == "*" and not (leading() or toks[-1][0] == "anchor"):
            toks.append(("quant", "*"))
        elif ch == "^" and (extended or leading()):
            toks.append(("anchor", "^"))
        elif ch == "$" and (extended or i == n or pattern.startswith(("\\)", "\\|"), i)):
            toks.append(("anchor", "$" if newline_special else r"\Z"))
        elif ch == ".":
            toks.append(("atom", "."))
        else:
            toks.append(("atom", re.escape(ch)))
    if depth > 0:
        raise RuleError("Unmatched ( or \\(")
    return toks


def translate_posix(pattern, extended=True, newline_special=False):
    """A POSIX ERE (or BRE when not ``extended``) -> Python re syntax.

    In extended syntax glibc accepts a quantifier on a quantified atom (``a**``,
    ``a+{2}``: the repeated atom is repeated again); Python does not, or reads ``*+`` as
    possessive, so such an atom is wrapped in ``(?:...)`` first. Basic syntax refuses it. A quantifier with nothing to
    repeat, or an invalid ``{...}``, is an error as in glibc.
    """
    out, atom_start, quantified, groups = [], None, False, []
    for kind, text in _tokens(pattern, extended, newline_special):
        if kind == "quant":
            if atom_start is None:
                raise RuleError("Invalid preceding regular expression")
            if quantified:
                if not extended:
                    raise RuleError("Invalid preceding regular expression")
                out[atom_start:] = ["(?:", *out[atom_start:], ")"]
            out.append(text)
            quantified = True
            continue
        quantified = False
        if kind == "atom":
            atom_start = len(out)
        elif kind == "open":
            groups.append(len(out))
            atom_start = None
        elif kind == "close":
            atom_start = groups.pop()
        else:
            atom_start = None
        out.append(text)
    return "".join(out)


_END_SENSITIVE = re.compile(r"\\[ZbB]|\$|\(\?<?[=!]")


class PosixRegex:
    """A compiled pattern plus POSIX's leftmost-*longest* rule for ``$n`` results.

    Python stops at the first alternative that matches; regexec() takes the longest
    match at the leftmost position, so ``/(x|xy)(z?)/`` gives ``$1`` = ``xy`` for
    ``xyz``. longest() re-matches at the same start against shrinking ends. Patterns
    whose meaning depends on what follows the match (``$``, word boundaries,
    lookahead) keep Python's answer, since a shortened string would change it.
    """

    def __init__(self, regex, end_sensitive):
        self.regex = regex
        self.groups = regex.groups
        self.end_sensitive = end_sensitive

    def search(self, key):
        return self.regex.search(key)

    def longest(self, key, match):
        if self.end_sensitive:
            return match
        for end in range(len(key), match.end(), -1):
            longer = self.regex.fullmatch(key, match.start(), end)
            if longer is not None:
                return longer
        return match


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
    text = translate_posix(pattern, extended, multiline)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # FutureWarnings about set syntax: not the user's
            return PosixRegex(re.compile(text, opts), _END_SENSITIVE.search(text) is not None)
    except re.error as e:
        raise RuleError(f"Invalid regular expression: {e}") from e
    except (OverflowError, RecursionError) as e:  # huge {n} counts, absurd nesting
        raise RuleError(f"regular expression too large: {e}") from e


def open_regexp(name, flags):
    return PatternTable("regexp", name, compile_regexp, flags)
