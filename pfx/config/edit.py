"""In-place edits of main.cf and master.cf text, as postconf -e/-X/-#/-Me/-MX/-Pe/-Fe do.

Pure text in, text out. Every line that is not part of the edited logical line stays
byte-identical; comment and blank lines inside an edited logical line stay where they
are (Postfix keeps them too). Only a missing final newline is added before appending.
"""

import re

from pfx.config.mastercf import split_args

_NAME_END = re.compile(r"[\s=]")
FIELDS = ("service", "type", "private", "unprivileged", "chroot", "wakeup",
          "process_limit", "command")
_COLUMN_GOAL = (0, 11, 17, 25, 33, 41, 49, 57)  # postconf -M column stops
_LINE_LIMIT = 80
_INDENT = "    "


def _is_skipped(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def blocks(lines: list[str]):
    """Group physical lines: yield (start_index, [member indices]) per logical line;
    comment and blank lines are never members, even inside a continuation."""
    start, members = None, []
    for i, line in enumerate(lines):
        if _is_skipped(line):
            continue
        if line[0].isspace() and start is not None:
            members.append(i)
            continue
        if start is not None:
            yield start, members
        start, members = i, [i]
    if start is not None:
        yield start, members


def main_name(line: str) -> str:
    """The parameter name a main.cf logical line assigns (text before space or =)."""
    return _NAME_END.split(line.lstrip(), 1)[0]


def master_key(line: str) -> str:
    """service/type of a master.cf logical line's first physical line."""
    words = line.split(None, 2)
    return "/".join(words[:2])


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):] or "\n"


def _rewrite(text, keyfunc, actions, at_end=False):
    """Apply ``actions[key](member_lines) -> replacement lines`` to each logical line
    whose key matches; returns (new_text, {key: times_found}). A replacement that is not
    line for line goes where the first member was, or the last one with ``at_end``."""
    lines = text.splitlines(keepends=True)
    found = {}
    replace = {}
    for start, members in blocks(lines):
        key = keyfunc(lines[start])
        action = actions.get(key)
        if action is None:
            continue
        found[key] = found.get(key, 0) + 1
        new = action([lines[i] for i in members])
        if len(new) != len(members):
            rest = [None] * (len(members) - 1)
            new = (rest + ["".join(new)] if at_end else ["".join(new)] + rest) if new \
                else [None] * len(members)
        for n, i in enumerate(members):
            replace[i] = new[n]
    out = []
    for i, line in enumerate(lines):
        if i not in replace:
            out.append(line)
        elif replace[i] is not None:
            out.append(replace[i])
    return "".join(out), found


def _append(text: str, new_lines) -> str:
    if not new_lines:
        return text
    if text and not text.endswith("\n"):
        text += "\n"  # Postfix glues the new line onto an unterminated last line
    return text + "".join(new_lines)


def _comment(members):
    return ["#" + line for line in members]


def _drop(members):
    return []


def set_params(text: str, assignments) -> tuple[str, list[str]]:
    """postconf -e: ``assignments`` is [(name, value)]. Returns (text, names found more
    than once); each occurrence gets the new value, a new name goes at the end."""
    values = dict(assignments)
    actions = {name: (lambda members, n=name: [f"{n} = {values[n]}{_ending(members[0])}"])
               for name in values}
    text, found = _rewrite(text, main_name, actions)
    text = _append(text, [f"{n} = {v}\n" for n, v in values.items() if n not in found])
    return text, _multiple(found)


def _multiple(found):
    return [name for name, count in found.items() if count > 1]


def remove_params(text: str, names) -> tuple[str, list[str]]:
    """postconf -X: drop each named logical line (interleaved comments stay)."""
    text, found = _rewrite(text, main_name, {n: _drop for n in names})
    return text, _multiple(found)


def comment_out_params(text: str, names) -> tuple[str, list[str]]:
    """postconf -#: prefix every physical line of each named logical line with #."""
    text, found = _rewrite(text, main_name, {n: _comment for n in names})
    return text, _multiple(found)


# -- master.cf --------------------------------------------------------------------


def master_rows(text: str) -> list[tuple[str, list[str], int]]:
    """[(service/type, words, first line number)] in file order, words as split_args
    gives them (group braces removed)."""
    lines = text.splitlines(keepends=True)
    rows = []
    for start, members in blocks(lines):
        logical = " ".join(lines[i].strip() for i in members)
        words = split_args(logical, "master.cf", start + 1)
        rows.append(("/".join(words[:2]), words, start + 1))
    return rows


def set_master_row(text: str, key: str, row: str, comments_first=False) -> str:
    """postconf -Me: replace the row named ``key`` (service/type) or append it. Comments
    inside the old row stay after the new one; -Pe/-Fe (``comments_first``) put them
    before it, as Postfix does."""
    new = row + "\n"
    text, found = _rewrite(text, master_key, {key: lambda members: [new]},
                           at_end=comments_first)
    if not found:
        text = _append(text, [new])
    return text


def remove_master_row(text: str, key: str) -> str:
    """postconf -MX: drop the row named ``key``."""
    return _rewrite(text, master_key, {key: _drop})[0]


def _quoted(arg: str) -> str:
    return f"{{{arg}}}" if not arg or any(c.isspace() for c in arg) else arg


def _items(args):
    """Command arguments as (forces_line_breaks, text): a daemon option with a value
    (``-o name=value``) is one item that -f puts on a line of its own."""
    items, in_options, i = [], True, 0
    while i < len(args):
        arg = args[i]
        if in_options and (not arg.startswith("-") or arg == "--"):
            in_options = False
        if in_options and arg == "-o" and i + 1 < len(args):
            name, eq, value = args[i + 1].partition("=")
            pair = f"{name.strip()}={value.strip()}" if eq else args[i + 1]
            items.append((True, "-o " + _quoted(pair)))
            i += 2
            continue
        items.append((False, _quoted(arg)))
        i += 1
    return items


def command_text(words) -> str:
    """The command column and its arguments as postconf -F shows them."""
    return " ".join([words[7]] + [item for _, item in _items(words[8:])])


def format_row(words, fold: bool = False) -> str:
    """A master.cf row as postconf -M prints it (-Mf / edits when ``fold``)."""
    out, length = [], 0
    for field, word in enumerate(words[:8]):
        if length:
            pad = max(1, _COLUMN_GOAL[field] - length)
            out.append(" " * pad)
            length += pad
        out.append(word)
        length += len(word)
    previous_option = False
    for is_option, item in _items(words[8:]):
        # Postfix breaks before and after "-o name=value", and where an item won't fit.
        if fold and (is_option or previous_option or length + 1 + len(item) >= _LINE_LIMIT):
            out.append("\n" + _INDENT)
            length = len(_INDENT)
        else:
            out.append(" ")
            length += 1
        out.append(item)
        length += len(item)
        previous_option = is_option
    return "".join(out)


def set_override(words, name: str, value: str | None) -> list[str]:
    """Row words with ``-o name=value`` set (replaced in place or added after the last
    daemon option), or removed when ``value`` is None."""
    head, args = list(words[:8]), list(words[8:])
    out, done, i, insert_at = [], False, 0, None
    while i < len(args):
        if args[i] == "-o" and i + 1 < len(args) and "=" in args[i + 1]:
            oname = args[i + 1].partition("=")[0].strip()
            if oname == name:
                if value is not None and not done:
                    out += ["-o", f"{name}={value}"]
                done = True
            else:
                out += args[i:i + 2]
            i += 2
            insert_at = len(out)
            continue
        if insert_at is None and not args[i].startswith("-"):
            insert_at = len(out)
        out.append(args[i])
        i += 1
    if value is not None and not done:
        at = len(out) if insert_at is None else insert_at
        out[at:at] = ["-o", f"{name}={value}"]
    return head + out


def set_field(words, field: str, value: str) -> list[str]:
    """Row words with one of FIELDS replaced; ``command`` replaces command and args."""
    index = FIELDS.index(field)
    if field == "command":
        return list(words[:7]) + split_args(value, "master.cf", 0)
    new = list(words)
    new[index] = value
    return new
