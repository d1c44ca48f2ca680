"""~/.forward files for local(8): forward_path expansion and reading the first that exists.

Security: forward_path is the administrator's; the values put into it ($user, $home,
$extension, ...) come from the address and the passwd entry and are filtered through
forward_expansion_filter first (a ``$`` or ``/..`` in an address cannot steer the path
elsewhere). The file is owned by the user, who decides where their mail goes; its
commands and files run with the "forward" permissions of allow_mail_to_*.
"""

import os

from pfx.util.expand import expand

from pfx.agents.local.alias import read_list_file
from pfx.agents.local.params import apply_filter


def forward_files(ctx):
    """forward_path with the recipient's values -> candidate paths, in order."""
    keep = ctx.cfg.forward_filter
    values = {
        "home": ctx.home, "user": ctx.user, "shell": ctx.shell, "local": ctx.local,
        "domain": ctx.domain, "recipient": ctx.recipient, "extension": ctx.extension,
        "recipient_delimiter": ctx.delim if ctx.extension else "",
    }
    safe = {k: apply_filter(v, keep) if k != "home" else v for k, v in values.items()}
    out = []
    for template in ctx.cfg.forward_path:
        path = expand(template, lambda name: safe.get(name, "")).strip()
        if path and os.path.isabs(path) and "/../" not in path + "/" and path not in out:
            out.append(path)
    return out


def read_forward(paths, uid=None, ids=None):
    """Blocking: (path, elements) of the first readable file in ``paths``, or None.

    A file not owned by ``uid`` (when given) or root is ignored, as local(8) does. With
    ``ids`` the privileged helper reads it as that user."""
    for path in paths:
        try:
            elements, owner = read_list_file(path, ids)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except IsADirectoryError:
            continue
        if uid is not None and owner not in (uid, 0):
            continue
        return path, elements
    return None
