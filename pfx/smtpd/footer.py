"""smtpd_reject_footer: text appended to every 4xx/5xx reply, with a few session $names (pure)."""

import re

from pfx.dsn import Reply

_NAME = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def apply_footer(reply: Reply, template: str, values: dict) -> Reply:
    """The reply with the footer: on a new line, or joined to the text when the template
    starts with ``\\c``; ``\\n`` in the template starts a new line. Unknown $names stay."""
    if not template or reply is None or reply.code < 400:
        return reply
    text = _NAME.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), template)
    joined = reply.text + text[2:] if text.startswith("\\c") else reply.text + "\n" + text
    return Reply(reply.code, reply.dsn, joined.replace("\\n", "\n"))
