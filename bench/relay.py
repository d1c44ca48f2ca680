#!/usr/bin/env python3
"""Issues 6 and 8: relay. smtp-source -> pfx -> smtp-sink (relayhost = [127.0.0.1]:SINKPORT),
pfx beside a private Postfix relaying to its own smtp-sink (mode relay).

    .venv/bin/python bench/relay.py [--messages 5000] [--sessions 20] [--size 5120]
        [--recipients 1] [--skip-postfix] [--json]

smtp-sink's CPU is not counted for either MTA. Figures as in bench/lib/compare.py.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.lib.compare import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main("relay", default_recipients=(1,)))
