"""Bounce templates (bounce(5)): Postfix's built-in texts and bounce_template_file parsing.

A template file holds up to four ``name = <<EOF`` ... ``EOF`` blocks (failure, delay,
success, verify). Each block starts with optional headers (Charset, From, Subject,
Postmaster-Subject; one line each, ASCII, no $ expansion), an empty line, then text in
which $name, ${name} and $$ expand. Outside a block only comments and blank lines are
allowed. Pure: the caller reads the file and supplies the parameter lookup.
"""

import re

import attrs

from pfx.util.expand import ExpansionError, expand

NAMES = ("failure_template", "delay_template", "success_template", "verify_template")
_HEADERS = {"charset": "charset", "from": "sender", "subject": "subject",
            "postmaster-subject": "postmaster_subject"}
_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
_SPECIAL = re.compile(r"^(delay_warning_time|maximal_queue_lifetime)_(%s)$" % "|".join(_UNITS))
_START = re.compile(r"^\s*(\w+)\s*=\s*<<\s*(\S+)\s*$")
_HEADER = re.compile(r"^([A-Za-z][A-Za-z-]*):\s*(.*?)\s*$")


class TemplateError(ValueError):
    """A bad template file; ``line`` is where (1-based), when known."""

    def __init__(self, message, line=None):
        super().__init__(message)
        self.line = line


@attrs.frozen
class Template:
    """One notice type: its headers and the unexpanded text lines."""

    name: str
    charset: str = "us-ascii"
    sender: str = "Mail Delivery System <MAILER-DAEMON>"
    subject: str = ""
    postmaster_subject: str = ""
    text: tuple = ()

    def expand_text(self, lookup) -> list:
        """The text with $parameters expanded; ``lookup(name)`` -> raw value or None."""
        try:
            return expand("\n".join(self.text), lookup).split("\n") if self.text else []
        except ExpansionError as e:
            raise TemplateError(f"{self.name}: {e}") from None


def time_lookup(lookup, delay_warning_time: int, maximal_queue_lifetime: int):
    """``lookup`` plus the ``NAME_UNIT`` forms (delay_warning_time_hours, ...)."""
    seconds = {"delay_warning_time": delay_warning_time,
               "maximal_queue_lifetime": maximal_queue_lifetime}

    def find(name):
        m = _SPECIAL.match(name)
        if m:
            return str(int(seconds[m.group(1)]) // _UNITS[m.group(2)])
        return lookup(name)
    return find


def parse(text: str, origin: str = "bounce_template_file") -> dict:
    """Template file text -> {name: Template}; TemplateError on a syntax error."""
    found, lines, i = {}, text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _START.match(line)
        if not m:
            raise TemplateError(f"{origin}, line {i}: expected \"name = <<EOF\"", i)
        name, end, start = m.group(1), m.group(2), i
        if name not in NAMES:
            raise TemplateError(f"{origin}, line {i}: unknown template name: {name}", i)
        body = []
        while i < len(lines) and lines[i].rstrip("\r") != end:
            body.append(lines[i].rstrip("\r"))
            i += 1
        if i >= len(lines):
            raise TemplateError(f"{origin}, line {start}: missing \"{end}\" end marker", start)
        i += 1
        found[name] = _template(name, body, origin, start)
    return found


def _template(name, body, origin, start):
    fields, k = {}, 0
    while k < len(body) and body[k].strip():
        m = _HEADER.match(body[k])
        key = m.group(1).lower() if m else None
        if key not in _HEADERS:
            if k == 0:
                break  # no headers at all: the block is text only
            raise TemplateError(f"{origin}, line {start + k + 1}: {name}: unknown or bad "
                                f"header: {body[k]!r}", start + k + 1)
        if not m.group(2).isascii() or "\0" in m.group(2):
            raise TemplateError(f"{origin}, line {start + k + 1}: {name}: header must be "
                                f"ASCII", start + k + 1)
        fields[_HEADERS[key]] = m.group(2)
        k += 1
    if fields and k < len(body):
        k += 1  # the empty line after the headers
    default = DEFAULTS[name]
    text = tuple(body[k:])
    if not "".join(text).isascii() and fields.get("charset", default.charset).lower() == "us-ascii":
        raise TemplateError(f"{origin}: {name}: non-ASCII text needs a Charset: header "
                            f"other than us-ascii", start)
    return attrs.evolve(default, text=text, **fields)


def load(text: str | None, origin: str = "bounce_template_file") -> dict:
    """The four templates: the file's, where it has one, else the built-in ones."""
    merged = dict(DEFAULTS)
    if text:
        merged.update(parse(text, origin))
    return merged


_SIGNATURE = ("", "                   The mail system")
_ASSIST = ("For further assistance, please send mail to postmaster.", "",
           "If you do so, please include this problem report. You can",
           "delete your own text from the attached returned message.")
_INTRO = ("This is the mail system at host $myhostname.", "")

# Postfix 3.7's built-in templates (postconf -t), which notices must match word for word.
DEFAULTS = {
    "failure_template": Template(
        "failure_template", subject="Undelivered Mail Returned to Sender",
        postmaster_subject="Postmaster Copy: Undelivered Mail",
        text=_INTRO + (
            "I'm sorry to have to inform you that your message could not",
            "be delivered to one or more recipients. It's attached below.", "")
        + _ASSIST + _SIGNATURE),
    "delay_template": Template(
        "delay_template", subject="Delayed Mail (still being retried)",
        postmaster_subject="Postmaster Warning: Delayed Mail",
        text=_INTRO + (
            "#" * 68,
            "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #",
            "#" * 68, "",
            "Your message could not be delivered for more than "
            "$delay_warning_time_hours hour(s).",
            "It will be retried until it is $maximal_queue_lifetime_days day(s) old.", "")
        + _ASSIST + _SIGNATURE),
    "success_template": Template(
        "success_template", subject="Successful Mail Delivery Report",
        text=_INTRO + (
            "Your message was successfully delivered to the destination(s)",
            "listed below. If the message was delivered to mailbox you will",
            "receive no further notifications. Otherwise you may still receive",
            "notifications of mail delivery errors from other systems.")
        + _SIGNATURE),
    "verify_template": Template(
        "verify_template", subject="Mail Delivery Status Report",
        text=_INTRO + ("Enclosed is the mail delivery report that you requested.",)
        + _SIGNATURE),
}
