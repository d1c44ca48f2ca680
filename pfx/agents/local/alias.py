"""aliases(5) expansion helpers for local(8): element kinds, :include: files, owner- senders.

Security: alias and :include: contents come from the administrator (or, for
:include:, from whoever owns that file); each element is classified here and the agent
checks allow_mail_to_commands / allow_mail_to_files against where it came from
("alias", "include", "forward") before running or writing anything.
"""

import base64

from pfx.delivery import helper
from pfx.delivery.helper import read_small_file
from pfx.tables.aliases import split_rhs, unquote
from pfx.tables.base import logical_lines

INCLUDE = ":include:"
MAX_INCLUDE = 1024 * 1024  # bytes read from one :include: or .forward file


def classify(element):
    """-> (kind, value): kind is "command", "file", "include" or "address"."""
    text = element.strip()
    bare = unquote(text) if text.startswith('"') and text.endswith('"') else text
    if bare.startswith("|"):
        return "command", bare[1:].strip()
    if bare.startswith("/"):
        return "file", bare
    if bare.lower().startswith(INCLUDE):
        return "include", bare[len(INCLUDE):].strip()
    if text.startswith("\\"):
        return "address", text[1:]  # "\user": deliver to the mailbox, no expansion
    return "address", text


def parse_elements(text):
    """The text of a :include: or .forward file -> its elements (comments, blanks skipped)."""
    out = []
    for _, line in logical_lines(text):
        out.extend(split_rhs(line))
    return out


def read_list_file(path, ids=None):
    """Read a :include: or .forward file (blocking): a regular file, no symlink, bounded.
    With ``ids`` = (uid, gid) it is read by the privileged helper as that user.
    Returns (elements, owner uid). Raises OSError."""
    if ids is None:
        data, owner = read_small_file(path, MAX_INCLUDE)
    else:
        answer = helper.run({"op": "read", "path": path, "uid": ids[0], "gid": ids[1]})
        data, owner = base64.b64decode(answer["data"]), answer["owner"]
    return parse_elements(data.decode("utf-8", "surrogateescape")), owner


def owner_name(name):
    """The alias whose expansion gives the envelope sender for errors about ``name``."""
    return f"owner-{name}"
