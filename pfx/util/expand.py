"""Postfix's $name expansion (util/mac_expand.c), pure and recursive.

Forms: ``$name``, ``${name}``, ``$(name)``, ``$$`` (a literal $),
``${name?value}`` (value when $name is non-empty), ``${name:value}`` (value when $name
is empty or undefined), the braced forms ``${name?{value}}``, ``${name:{value}}`` and
``${name?{then}:{else}}``. Values are expanded again, so ``a = $b`` and ``b = $c`` give
$c's value; a cycle raises ExpansionError naming the chain. An undefined name
expands to the empty string, as in Postfix.
"""

import re
from typing import Callable

_NAME = re.compile(r"[A-Za-z0-9_]+")
_MAX_DEPTH = 100  # Postfix: "unreasonable macro call nesting"


class ExpansionError(ValueError):
    """A loop or a syntax error in a $ expression; ``name`` is where it was found."""

    def __init__(self, message, name=None):
        super().__init__(message)
        self.name = name


Lookup = Callable[[str], "str | None"]


def expand(text: str, lookup: Lookup, _stack: tuple = ()) -> str:
    """Expand every $ expression in ``text``; ``lookup(name)`` gives the raw value."""
    if "$" not in text:
        return text
    out = []
    i, n = 0, len(text)
    while i < n:
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        i = j + 1
        if i >= n:
            out.append("$")  # a trailing $ stays
            break
        c = text[i]
        if c == "$":
            out.append("$")
            i += 1
        elif c in "{(":
            close = "}" if c == "{" else ")"
            end = _matching(text, i, c, close)
            out.append(_expand_expr(text[i + 1:end], lookup, _stack))
            i = end + 1
        else:
            m = _NAME.match(text, i)
            if not m:
                out.append("$")  # "$ " or "$-": literal, as Postfix leaves it
                continue
            out.append(_value(m.group(), lookup, _stack))
            i = m.end()
    return "".join(out)


def _matching(text, start, open_, close):
    depth = 0
    for k in range(start, len(text)):
        if text[k] == open_:
            depth += 1
        elif text[k] == close:
            depth -= 1
            if depth == 0:
                return k
    raise ExpansionError(f'missing "{close}" in "{text}"')


def _value(name, lookup, stack):
    if name in stack:
        chain = " -> ".join(stack[stack.index(name):] + (name,))
        raise ExpansionError(f"recursive parameter expansion: {chain}", name)
    if len(stack) >= _MAX_DEPTH:
        raise ExpansionError(f'unreasonable macro call nesting: "{name}"', name)
    raw = lookup(name)
    if raw is None:
        return ""
    return expand(raw, lookup, stack + (name,))


def _expand_expr(expr, lookup, stack):
    m = _NAME.match(expr)
    if not m:
        raise ExpansionError(f'bad parameter name in "${{{expr}}}"')
    name, rest = m.group(), expr[m.end():]
    value = _value(name, lookup, stack)
    if not rest:
        return value
    op, arg = rest[0], rest[1:]
    if op not in "?:":
        raise ExpansionError(f'unexpected "{op}" after "{name}" in "${{{expr}}}"', name)
    then, otherwise = _branches(arg, op)
    chosen = then if (value != "") == (op == "?") else otherwise
    return expand(chosen, lookup, stack) if chosen else ""


def _branches(arg, op):
    """``value`` or ``{value}`` or ``{then}:{else}`` -> (branch for op, other branch)."""
    if not arg.startswith("{"):
        return arg, ""
    end = _matching(arg, 0, "{", "}")
    first, tail = arg[1:end], arg[end + 1:].strip()
    if not tail:
        return first, ""
    if op == "?" and tail.startswith(":{") and tail.endswith("}"):
        return first, tail[2:-1]
    raise ExpansionError(f'bad text after "{{{first}}}": "{tail}"')


_REFERENCE = re.compile(r"\$(\$|[{(]?([A-Za-z0-9_]+))")


def reference_list(text: str) -> list:
    """The parameter names ``text`` refers to, in order, repeats included; ``$$`` is a
    literal dollar, not a reference."""
    return [m.group(2) for m in _REFERENCE.finditer(text) if m.group(1) != "$"]


def references(text: str) -> set:
    """The parameter names ``text`` refers to (for unused-parameter warnings)."""
    return set(reference_list(text))
