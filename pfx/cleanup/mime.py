"""A bounded MIME structure tracker for content checks (mime_state.c's job, much reduced).

It never decodes anything: it only says, line by line, whether a body line is part of
a MIME part's header block (and which checks class applies: "mime" or "nested") or is
body content (boundaries included, as body_checks sees them in Postfix). Memory is the
boundary stack, at most mime_nesting_limit deep; past that depth boundaries are
ignored (the content is then body content) and ``nesting_exceeded`` is set. Work per
line is one pass over the stack, so the total is linear in the message size.
"""

import re

_PARAM = re.compile(r'boundary\s*=\s*(?:"([^"]*)"|([^\s;]+))', re.IGNORECASE)


def is_mime_header(name: str) -> bool:
    name = name.lower()
    return name.startswith("content-") or name == "mime-version"


def content_type(value: str):
    """``multipart/mixed; boundary="x"`` -> ("multipart", "mixed", "x" or None)."""
    main = value.split(";", 1)[0].strip().lower()
    kind, _, sub = main.partition("/")
    m = _PARAM.search(value)
    boundary = (m.group(1) if m.group(1) is not None else m.group(2)) if m else None
    return kind.strip(), sub.strip(), boundary


class MimeTracker:
    """Feed it the Content-Type of each header block and every body line."""

    BODY, PART_HEADERS, NESTED_HEADERS = "body", "part", "nested"

    def __init__(self, nesting_limit=100):
        self.nesting_limit = nesting_limit
        self.boundaries = []  # bytes, innermost last
        self.state = self.BODY
        self.nesting_exceeded = False
        self._ctype = ""  # Content-Type of the header block being read
        self._block_default = ("text", "plain")

    def header(self, name: str, value: str):
        """A header of the current block (primary, part or nested)."""
        if name.lower() == "content-type":
            self._ctype = value

    def end_of_headers(self):
        """The current header block ended (an empty line or the primary headers' end)."""
        kind, sub, boundary = content_type(self._ctype) if self._ctype else ("text", "plain",
                                                                             None)
        self._ctype = ""
        self.state = self.BODY
        if kind == "multipart" and boundary:
            if len(self.boundaries) >= self.nesting_limit:
                self.nesting_exceeded = True
            else:
                self.boundaries.append(boundary.encode("utf-8", "surrogateescape"))
        elif kind == "message" and sub in ("rfc822", "global"):
            if len(self.boundaries) + 1 > self.nesting_limit:
                self.nesting_exceeded = True
            else:
                self.state = self.NESTED_HEADERS

    def classify(self, line: bytes) -> str:
        """-> "part" / "nested" (a header line of that block), "end" (the empty line that
        ends it), or "body"."""
        if self.state != self.BODY:
            if line.strip() == b"":
                return "end"
            return self.state
        if line.startswith(b"--") and self.boundaries:
            text = line.rstrip(b" \t")
            for depth in range(len(self.boundaries) - 1, -1, -1):
                b = self.boundaries[depth]
                if text == b"--" + b or text.startswith(b"--" + b) and text[2 + len(b):] == b"--":
                    del self.boundaries[depth + 1:]
                    if text.endswith(b"--") and text != b"--" + b:
                        self.boundaries.pop()  # the closing boundary
                    else:
                        self.state = self.PART_HEADERS
                    return "body"  # boundaries are body content for body_checks
        return "body"
