#!/usr/bin/env python3
"""Issue 7: Maildir delivery. smtp-source -> pfx -> virtual(8) into 100 Maildirs
(u00..u99@example.test under virtual_mailbox_base), beside Postfix's mode maildir (virtual(8)).

    .venv/bin/python bench/maildir.py [--messages 5000] [--sessions 20] [--size 5120]
        [--recipients 1] [--skip-postfix] [--json]

smtp-source -N numbers the recipients (``<n>u@example.test``); Postfix spreads them over the
100 users with a regexp virtual_alias_maps, pfx (no virtual alias rewriting yet) with a
regexp entry in virtual_mailbox_maps (bench/lib/pfxinstance.py). A run ends when the queue is
empty and every message is in a Maildir. Both MTAs run as root and write as uid 65534.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.lib.compare import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("maildir", default_recipients=(1,)))
