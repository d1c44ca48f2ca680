"""aliases(5) source files: ``name: value, value, ...`` -> what postalias stores in a hash table.

The name may be quoted (``"a user": ...``) and is stored unquoted and folded to lower
case. The right-hand side is a comma-separated list of addresses, ``|command``,
``/file/name``, ``:include:/file`` and ``"quoted local"@domain`` forms; commas inside
quotes, ``<...>`` and ``(...)`` do not split. Like Postfix's postalias the list is stored
normalized (whitespace runs outside quotes collapsed, elements joined by ``", "``), and
split_rhs() gives local(8) the elements back. ``owner-name`` entries are ordinary
entries: local(8) looks them up to pick the error recipient for ``name``.
"""

from pfx.errors import TableConfigError
from pfx.tables.base import fold_key, logical_lines


def _scan(text, stop):
    """Yield (start, end) of pieces separated by ``stop`` chars outside quotes/<>/()."""
    start, i, depth_angle, depth_paren, n = 0, 0, 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == '"':
            end = i + 1
            while end < n and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            i = end + 1
            continue
        if ch == "<":
            depth_angle += 1
        elif ch == ">" and depth_angle:
            depth_angle -= 1
        elif ch == "(":
            depth_paren += 1
        elif ch == ")" and depth_paren:
            depth_paren -= 1
        elif ch in stop and not depth_angle and not depth_paren:
            yield start, i
            start = i + 1
        i += 1
    yield start, n


def _collapse(element):
    """Collapse whitespace runs outside double quotes to one space."""
    out, in_quote, prev_space = [], False, False
    for ch in element.strip():
        if ch == '"':
            in_quote = not in_quote
        if not in_quote and ch in " \t":
            if not prev_space:
                out.append(" ")
            prev_space = True
            continue
        prev_space = False
        out.append(ch)
    return "".join(out)


def split_rhs(value):
    """``'a, "|cmd x", :include:/f'`` -> ['a', '"|cmd x"', ':include:/f'] (empties dropped)."""
    return [e for e in (_collapse(value[s:t]) for s, t in _scan(value, ",")) if e]


def unquote(name):
    """``"a user"`` -> ``a user``; backslash escapes inside quotes are honoured."""
    if len(name) >= 2 and name.startswith('"') and name.endswith('"'):
        body, out, i = name[1:-1], [], 0
        while i < len(body):
            if body[i] == "\\" and i + 1 < len(body):
                i += 1
            out.append(body[i])
            i += 1
        return "".join(out)
    return name


def split_entry(line):
    """``name: rhs`` -> (name, rhs) with the colon found outside quotes."""
    for start, end in _scan(line, ":"):
        if end < len(line):
            return line[:end].strip(), line[end + 1:].strip()
        break
    return None, None


def parse_aliases(text, path, fold=True):
    """Source text -> [(line, key, value)]; raises TableConfigError naming file and line."""
    entries = []
    for number, line in logical_lines(text):
        name, rhs = split_entry(line)
        if not name:
            raise TableConfigError(f"{path}, line {number}: need name:value pair")
        key = unquote(name)
        elements = split_rhs(rhs)
        if not key or not elements:
            raise TableConfigError(f"{path}, line {number}: need name:value pair")
        for element in elements:
            if element.startswith(":include:") and not element[len(":include:"):].strip():
                raise TableConfigError(f"{path}, line {number}: :include: without a file name")
        entries.append((number, fold_key(key) if fold else key, ", ".join(elements)))
    return entries
