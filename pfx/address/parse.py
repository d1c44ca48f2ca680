"""RFC 5322 lexing of addresses and header address lists, as Postfix's tok822 does.

Tokens keep their offsets in the source text, so a header rewriter can replace just
the addresses and leave display names, comments, groups and spacing as they were.
'%' and '!' are operators here (not atom text) because the resolver must find them.
"""

import re

import attrs

ATOM = "atom"
QSTRING = "qstring"  # text is the unquoted (internal) content
DOMLIT = "domlit"  # text is the whole "[...]" literal
COMMENT = "comment"  # text is the whole "(...)" comment
WORDS = frozenset({ATOM, QSTRING, DOMLIT})
OPERATORS = frozenset('<>@,;:.%![]()"|')  # '|' too, as tok822 (for aliases files)
SPACE = frozenset(" \t\n\r\f\v")  # C isspace(): a non-ASCII space is atom text, as in Postfix
# An atom without backslashes, found in one step (the usual case); the loop in scan()
# handles quoted-pairs. It never contains SPACE or OPERATORS, so only a control
# character makes it print quoted.
_PLAIN_ATOM = re.compile(r'[^ \t\n\r\f\v<>@,;:.%!\[\]()"|\\]+')
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@attrs.frozen
class Token:
    """One lexical token: kind is ATOM/QSTRING/DOMLIT/COMMENT or the operator character."""

    kind: str
    text: str
    start: int = attrs.field(default=0, eq=False)
    end: int = attrs.field(default=0, eq=False)
    glued: bool = attrs.field(default=False, eq=False)  # never print a space after it


def _delimited(text, i, close, nest=None):
    """Scan from just after an opening delimiter to ``close``; honour backslash escapes.

    In quoted strings and literals (not comments) each white-space character,
    escaped or not, becomes a plain space, as tok822 does.
    """
    fold = nest is None
    depth, out = 1, []
    while i < len(text):
        ch = text[i]
        if ch == "\\":  # a quoted-pair; a lone trailing backslash is dropped
            pair = text[i + 1 : i + 2]
            out.append(" " if fold and pair in SPACE else pair)
            i += 2
            continue
        if nest and ch == nest:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return "".join(out), i + 1
        out.append(" " if fold and ch in SPACE else ch)
        i += 1
    return "".join(out), min(i, len(text))  # unterminated: take the rest, as tok822 does


def scan(text):
    """Split ``text`` into tokens (comments included); never raises on bad input."""
    tokens, i, n = [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch in SPACE:
            i += 1
        elif ch == "(":
            _, j = _delimited(text, i + 1, ")", nest="(")
            tokens.append(Token(COMMENT, text[i:j], i, j))
            i = j
        elif ch == '"':
            value, j = _delimited(text, i + 1, '"')
            tokens.append(Token(QSTRING, value, i, j))
            i = j
        elif ch == "[":
            value, j = _delimited(text, i + 1, "]")
            tokens.append(Token(DOMLIT, f"[{value}]", i, j))  # an unterminated one is closed
            i = j
        elif ch in OPERATORS:
            tokens.append(Token(ch, ch, i, i + 1))
            i += 1
        else:
            plain = _PLAIN_ATOM.match(text, i)
            j = plain.end() if plain else i
            if j == n or text[j] != "\\":
                value = text[i:j]
                kind = QSTRING if _CONTROL.search(value) else ATOM
                tokens.append(Token(kind, value, i, j))
                i = j
                continue
            j, out = i, []
            while j < n and text[j] not in SPACE and text[j] not in OPERATORS:
                if text[j] == "\\":
                    j += 1  # a quoted-pair in an atom: keep the character, drop the backslash
                    if j == n:
                        break
                out.append(" " if text[j] in SPACE else text[j])  # an escaped tab is a space
                j += 1
            value = "".join(out)
            # An atom that got a special character through a backslash prints quoted.
            quoted = any(ord(c) < 32 or ord(c) == 127 or c in SPACE or c in OPERATORS for c in value)
            tokens.append(Token(QSTRING if quoted else ATOM, value, i, j))
            i = j
    return tokens


def scan_address(text):
    """Tokens of one address (comments dropped), for rewriting and resolving."""
    return [t for t in scan(text) if t.kind != COMMENT]


def _needs_space(tok, nxt):
    # tok822's spacing: words stay apart ("first last"), a space follows ',' and
    # precedes '<', and other operators hug their neighbours.
    if tok.kind == "," or nxt.kind == "<":
        return True
    nonop = WORDS | {COMMENT}
    return tok.kind in nonop and nxt.kind in nonop


def _join(tokens, render):
    out = []
    for k, tok in enumerate(tokens):
        out.append(render(tok))
        if k + 1 < len(tokens) and not tok.glued and _needs_space(tok, tokens[k + 1]):
            out.append(" ")
    return "".join(out)


def _quote_text(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def internalize(tokens):
    """Tokens -> internal form: quoted strings lose their quotes and escapes."""
    return _join(tokens, lambda t: t.text)


def externalize(tokens):
    """Tokens -> external form: quoted strings are quoted again."""
    return _join(tokens, lambda t: _quote_text(t.text) if t.kind == QSTRING else t.text)


@attrs.frozen
class Mailbox:
    """One address in a header: where it lies in the value, and what surrounds it."""

    # External form without angle brackets or comments. A source route stays in front
    # ("@a, @b:u@d"), as in tok822, so canonical rewriting strips it as Postfix does.
    address: str
    span: tuple  # (start, end) of the address in the header value; (n, n) if empty
    display: str = ""  # the phrase before '<', as written (quotes and all)
    route: str = ""  # a source route inside <...>, e.g. "@a,@b:"
    angle: bool = False
    group: str | None = None  # the group's display name when inside "name: ...;"

    @property
    def addr_spec(self):
        """The address without its source route."""
        return self.address[len(self.route) :]

    @property
    def display_name(self):
        """The phrase with its quotes removed (for logging; not MIME-decoded)."""
        return internalize([t for t in scan(self.display) if t.kind != COMMENT])


@attrs.frozen
class AddressList:
    """A parsed header value: the original text plus every mailbox found in it."""

    text: str
    mailboxes: tuple
    groups: tuple = ()  # group display names, in order, including empty groups

    def addresses(self):
        """The external-form addresses, in order."""
        return [m.address for m in self.mailboxes]

    def rewrite(self, fn):
        """Return the header value with each address replaced by ``fn(address)``.

        Only the addr-spec spans change; a None result keeps the address as it was.
        """
        out, pos = [], 0
        for box in self.mailboxes:
            new = fn(box.address)
            if new is None or new == box.address:
                continue
            start, end = box.span
            out.append(self.text[pos:start])
            out.append(new)
            pos = end
        out.append(self.text[pos:])
        return "".join(out)


def _mailbox(text, toks, group):
    """Build a Mailbox from the tokens of one list element, or None if it is empty."""
    words = [t for t in toks if t.kind != COMMENT]
    if not words:
        return None
    opens = [k for k, t in enumerate(toks) if t.kind == "<"]
    if opens:
        lt = opens[0]
        closes = [k for k, t in enumerate(toks) if t.kind == ">" and k > lt]
        gt = closes[0] if closes else len(toks)
        inner = [t for t in toks[lt + 1 : gt] if t.kind != COMMENT]
        route = ""
        if inner and inner[0].kind == "@":
            colon = next((k for k, t in enumerate(inner) if t.kind == ":"), None)
            if colon is not None:
                route = externalize(inner[: colon + 1])
        display = text[toks[0].start : toks[lt].start].strip() if lt else ""
        if inner:
            span = (inner[0].start, inner[-1].end)
        else:
            span = (toks[lt].end, toks[lt].end)
        return Mailbox(externalize(inner), span, display, route, True, group)
    span = (words[0].start, words[-1].end)
    return Mailbox(externalize(words), span, "", "", False, group)


class _Element(list):
    """Tokens of one list element, counting as it grows whether they form a phrase."""

    def __init__(self):
        super().__init__()
        self.words = self.others = 0

    def append(self, tok):
        super().append(tok)
        if tok.kind in (ATOM, QSTRING):
            self.words += 1
        elif tok.kind not in (".", COMMENT):
            self.others += 1

    def clear(self):
        super().clear()
        self.words = self.others = 0

    def is_phrase(self):
        """A ':' starts a group only after a phrase (words and dots), not inside an address."""
        return self.words > 0 and self.others == 0


def parse_address_list(text, tokens=None):
    """Parse an RFC 5322 address-list header value (To, Cc, From, ...) leniently;
    ``tokens``: scan(text), when the caller already has it."""
    mailboxes, groups = [], []
    current, group = _Element(), None
    # Inside <...>: "route" is True while a source route (<@a,@b:...) is still open.
    in_angle = route = False

    def flush():
        box = _mailbox(text, current, group)
        if box is not None:
            mailboxes.append(box)
        current.clear()

    for tok in scan(text) if tokens is None else tokens:
        kind = tok.kind
        if in_angle:
            if kind == "@" and current[-1].kind == "<":
                route = True
            if kind in (",", ":", ";") and not (route and kind != ";"):
                in_angle = False  # a broken "<..." runs into the next element; close it here
            else:
                if kind == ":":
                    route = False
                elif kind == ">":
                    in_angle = False
                current.append(tok)
                continue
        if kind == "<":
            in_angle, route = True, False
            current.append(tok)
        elif kind == ",":
            flush()
        elif kind == ":" and group is None and current.is_phrase():
            group = internalize([t for t in current if t.kind != COMMENT])
            groups.append(group)
            current.clear()
        elif kind == ";" and group is not None:
            flush()
            group = None
        else:
            current.append(tok)
    flush()
    return AddressList(text, tuple(mailboxes), tuple(groups))
