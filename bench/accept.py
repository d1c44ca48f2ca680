#!/usr/bin/env python3
"""Issue 5: accept and discard. smtp-source -> smtpd -> cleanup -> queue -> qmgr -> discard,
pfx beside a private Postfix (mode discard), 1 and 10 recipients per message.

    .venv/bin/python bench/accept.py [--messages 5000] [--sessions 20] [--size 5120]
        [--recipients 1,10] [--skip-postfix] [--json]

Figures: msgs/s until the queue is empty, server CPU-s per 1000 messages, and the ratios
pfx/Postfix; see bench/lib/compare.py. Postfix needs root and the Debian postfix package.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.lib.compare import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("accept", default_recipients=(1, 10)))
