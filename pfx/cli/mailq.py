"""pfx mailq: the Sendmail-compatible queue listing, ``postqueue -p``."""

import sys

from pfx.cli import postqueue


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Only -c and -v mean anything here; Sendmail's mailq flags are accepted and ignored.
    keep = []
    while argv:
        arg = argv.pop(0)
        if arg == "-c" and argv:
            keep += ["-c", argv.pop(0)]
        elif arg == "-v":
            keep.append(arg)
    return postqueue.main([*keep, "-p"])


if __name__ == "__main__":
    sys.exit(main())
