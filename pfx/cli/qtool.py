"""What postqueue, postsuper and postcat share: -c handling, the QueueStore, messages."""

import os
import sys

from pfx.config.core import CONFIG_DIRECTORY
from pfx.errors import ConfigError


class Fatal(Exception):
    """``PROG: fatal: TEXT`` on stderr, then exit with ``status``."""

    def __init__(self, text, status=1):
        super().__init__(text)
        self.text, self.status = text, status


class Tool:
    """One run of a queue tool: its name (for messages), verbosity and queue directory."""

    def __init__(self, prog):
        self.prog = prog
        self.verbose = 0

    def say(self, text):
        sys.stderr.write(f"{self.prog}: {text}\n")
        sys.stderr.flush()

    def warn(self, text):
        self.say(f"warning: {text}")

    def info(self, text):
        if self.verbose:
            self.say(text)

    def run(self, body, argv) -> int:
        """Call body(argv); Fatal becomes its message and status, a closed pipe a quiet 0."""
        try:
            return body(argv)
        except Fatal as e:
            self.say(f"fatal: {e.text}")
            return e.status
        except BrokenPipeError:
            return self._closed_pipe()
        except OSError as e:
            # e.g. a queue directory we may not read: say which, never a traceback
            where = f"{e.filename}: " if e.filename else ""
            self.say(f"fatal: {where}{e.strerror or e}")
            return 1

    @staticmethod
    def _closed_pipe():
        # `postqueue -p | head`: the reader is gone; Postfix ignores EPIPE too. Point stdout
        # at /dev/null so that the interpreter's final flush does not complain again.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0


def config_dir(option=None) -> str:
    return option or os.environ.get("MAIL_CONFIG") or CONFIG_DIRECTORY


def open_store(directory):
    """The QueueStore for DIR/main.cf; Fatal if main.cf cannot be read."""
    from pfx.config.load import load  # import late: the usage errors need none of this
    from pfx.discover import discover, quiet_logging
    from pfx.queue.store import QueueStore
    quiet_logging()
    main_cf = os.path.join(directory, "main.cf")
    if not os.path.exists(main_cf):
        raise Fatal(f"open {main_cf}: No such file or directory")
    try:
        settings = load(directory, discover().registry()).settings
        root = settings.get_str("queue_directory")
        names = _setting(settings, "hash_queue_names", "deferred, defer")
        depth = _setting(settings, "hash_queue_depth", "1")
        names = [n for n in names.replace(",", " ").split() if n]
        return QueueStore(root, hash_queue_names=names, hash_queue_depth=int(depth))
    except (ConfigError, ValueError) as e:
        raise Fatal(str(e)) from None


def _setting(settings, name, default):
    # hash_queue_* may not be registered parameters yet: then main.cf's text or Postfix's default.
    return settings.get_str(name) or default
