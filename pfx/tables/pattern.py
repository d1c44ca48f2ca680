"""The rule engine shared by ``regexp:`` and ``pcre:`` tables: lines, if/endif, !, $n results.

A dialect (pfx/tables/regexp.py, pfx/tables/pcre.py) supplies only ``compile(pattern,
flags) -> re.Pattern``. As in Postfix, a bad rule is a warning naming the file and line
and the rule is skipped; only an unreadable file makes the table fail to open.
"""

import re

import attrs
from zope.interface import implementer

from pfx.errors import TableConfigError
from pfx.interfaces import ILookupTable
from pfx.tables.base import (FileStamp, flags_or_default, logical_lines, read_text,
                             split_braced_list, warn)


class RuleError(Exception):
    """One bad rule; reported as a warning with its line, then skipped."""


class TemplateError(RuleError):
    """A replacement text Postfix's mac_parse refuses: ``detail`` is warned first (on its
    own for mac_parse's messages, with map and line for a bad index), then the rule's
    "bad replacement syntax" (both checked against Postfix 3.7's postmap)."""

    def __init__(self, detail, with_line=False):
        super().__init__("bad replacement syntax: skipping this rule")
        self.detail, self.with_line = detail, with_line


@attrs.frozen
class Rule:
    op: str                 # "match", "if" or "endif"
    line: int
    regex: object = None
    negate: bool = False
    result: tuple = ()      # parsed template: str pieces and int group numbers
    uses_groups: bool = False
    skip_to: int = 0        # for "if": index just after the matching endif


def parse_template(text):
    """``"x $1 ${2}y $$"`` -> ("x ", 1, " ", 2, "y $"), Postfix's mac_parse rules."""
    parts, literal, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch != "$":
            literal.append(ch)
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        if nxt == "$":
            literal.append("$")
            i += 2
            continue
        if nxt in ("{", "("):
            close = "}" if nxt == "{" else ")"
            end = text.find(close, i + 2)
            if end < 0:
                raise TemplateError(f'truncated macro reference: "{text}"')
            name, i = text[i + 2:end], end + 1
        else:
            m = re.compile(r"[A-Za-z0-9_]+").match(text, i + 1)
            name, i = (m.group(), m.end()) if m is not None else ("", i + 1)
        if not name:
            raise TemplateError(f'empty macro name: "{text}"')  # "a $ b", "a$", "${}"
        if not name.isdigit():
            raise TemplateError(f'non-numeric replacement index "{name}"', with_line=True)
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(int(name))
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def split_pattern(text, unclosed="skipping"):
    """``"!/pat/flags rest"`` -> (negate, pattern, flags, rest); the delimiter is the first
    char after the ``!`` operators, each of which flips the match (``!!/a/`` is ``/a/``).
    ``unclosed``: Postfix's regexp says "skipping this rule", its pcre "ignoring"."""
    negate, i = False, 0
    while i < len(text) and (text[i] == "!" or text[i].isspace()):
        negate ^= text[i] == "!"
        i += 1
    text = text[i:]
    if not text:
        raise RuleError("no regexp: skipping this rule")
    delim, i = text[0], 1
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            i += 2
            continue
        if text[i] == delim:
            break
        i += 1
    else:
        raise RuleError(f'no closing regexp delimiter "{delim}": {unclosed} this rule')
    pattern = text[1:i]
    rest = text[i + 1:]
    m = re.compile(r"\S*").match(rest)
    return negate, pattern, m.group(), rest[m.end():].strip()


def _keyword(line, word):
    head = line[:len(word)]
    return head.lower() == word and (len(line) == len(word) or not line[len(word)].isalnum())


def parse_rules(lines, label, compile_regex, flags, unclosed="skipping"):
    """Logical lines -> list of Rule; bad rules become warnings (``label, line N: ...``)."""
    rules, open_ifs = [], []
    for number, line in lines:
        try:
            if _keyword(line, "endif"):
                if not open_ifs:
                    raise RuleError("ignoring ENDIF without matching IF")
                start = open_ifs.pop()
                rules.append(Rule("endif", number))
                rules[start] = attrs.evolve(rules[start], skip_to=len(rules))
                continue
            op = "match"
            if _keyword(line, "if"):
                op, line = "if", line[2:].lstrip()
            elif line[:1].isascii() and line[:1].isalnum():
                raise RuleError("ignoring unrecognized request")
            negate, pattern, pflags, result = split_pattern(line, unclosed)
            regex = compile_regex(pattern, pflags)
            if op == "if":
                if result:  # Postfix keeps the IF
                    warn(flags, f'{label}, line {number}: ignoring extra text after IF '
                                f'statement: "{result}"')
                open_ifs.append(len(rules))
                rules.append(Rule("if", number, regex, negate))
                continue
            if not result:  # Postfix keeps the rule; postmap -q warns when it matches
                warn(flags, f"{label}, line {number}: no replacement text: using empty string")
            template = parse_template(result)
            groups = [p for p in template if isinstance(p, int)]
            if negate and groups:
                raise RuleError("$number found in negative match replacement text: "
                                "skipping this rule")
            for g in groups:
                if g > regex.groups:
                    raise RuleError(f'out of range replacement index "{g}": skipping this rule')
            rules.append(Rule("match", number, regex, negate, template, bool(groups)))
        except TemplateError as e:
            warn(flags, f"{label}, line {number}: {e.detail}" if e.with_line else e.detail)
            warn(flags, f"{label}, line {number}: {e}")
        except RuleError as e:
            warn(flags, f"{label}, line {number}: {e}")
    for start in open_ifs:
        warn(flags, f"{label}, line {rules[start].line}: IF has no matching ENDIF")
        rules[start] = attrs.evolve(rules[start], skip_to=len(rules))
    return rules


def expand(template, match):
    out = []
    for part in template:
        if isinstance(part, int):
            out.append(match.group(part) or "")
        else:
            out.append(part)
    return "".join(out)


def source_lines(name):
    """A file name, or Postfix 3.7's inline form ``{ {rule-1}, {rule-2} }``."""
    stripped = name.strip()
    if stripped.startswith("{"):
        if not stripped.endswith("}"):
            raise TableConfigError(f'missing \'}}\' in "{name}"')
        rules = []
        for number, item in enumerate(split_braced_list(stripped[1:-1]), 1):
            item = item.strip()
            if item.startswith("{") and item.endswith("}"):
                item = item[1:-1].strip()
            rules.append((number, item))
        return rules, None
    return list(logical_lines(read_text(name))), name


@implementer(ILookupTable)
class PatternTable:
    """An ordered rule list; reloaded when its file changes (Postfix needs a reload)."""

    pattern = True  # sees only whole keys (see pfx.tables.match)

    def __init__(self, kind, name, compile_regex, flags):
        self.kind, self.name = kind, name
        self.flags = flags_or_default(flags)
        self._compile = compile_regex
        self.rules = self._load()
        self.stamp = FileStamp(self._path) if self._path else None

    def _load(self):
        lines, self._path = source_lines(self.name)
        return parse_rules(lines, f"{self.kind} map {self._path or self.kind + ':' + self.name}",
                           self._compile, self.flags,
                           "ignoring" if self.kind == "pcre" else "skipping")

    def lookup(self, key):
        if self.stamp is not None and self.stamp.changed():
            try:
                self.rules = self._load()
            except TableConfigError as e:
                warn(self.flags, f"{self.kind}:{self.name}: reload failed: {e}")
        rules, i, n = self.rules, 0, len(self.rules)
        while i < n:
            rule = rules[i]
            if rule.op == "endif":
                i += 1
                continue
            m = rule.regex.search(key)
            if rule.op == "if":
                i = i + 1 if (m is not None) != rule.negate else rule.skip_to
                continue
            if m is not None and not rule.negate:
                if rule.uses_groups and hasattr(rule.regex, "longest"):
                    m = rule.regex.longest(key, m)  # POSIX captures (pfx.tables.regexp)
                return expand(rule.result, m)
            if m is None and rule.negate:
                return "".join(rule.result)
            i += 1
        return None
