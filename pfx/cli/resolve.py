"""``pfx resolve [-c config_dir] [-s sender] address ...``: where qmgr would send mail.

Prints, one line per address, what the address resolver answers with the
configuration's main.cf and tables: the address class, transport, nexthop, the
resolved recipient and flags (``class=local transport=local nexthop=mx.example.test
recipient=user@mx.example.test``), then, when qmgr itself would settle the recipient
without an agent (error:, retry:, relocated_maps, double-bounce), what it would do.
This is the documented equivalent of Postfix's ``postmap -q - trivial-rewrite``
probes. Exit status: 0, or 1 for a fatal error, 64 for bad usage.
"""

import getopt
import os
import sys

from pfx.config.core import CONFIG_DIRECTORY

USAGE = "usage: pfx resolve [-c config_dir] [-s sender] address ..."


def _fatal(text) -> int:
    sys.stderr.write(f"resolve: fatal: {text}\n")
    return 1


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        opts, addresses = getopt.gnu_getopt(argv, "c:s:")
    except getopt.GetoptError as e:
        sys.stderr.write(f"resolve: {e}\n{USAGE}\n")
        return 64
    options = dict(opts)
    if not addresses:
        sys.stderr.write(USAGE + "\n")
        return 64
    config_dir = options.get("-c") or os.environ.get("MAIL_CONFIG") or CONFIG_DIRECTORY
    sender = options.get("-s", "")

    from pfx.address.resolve import resolve
    from pfx.config.load import load
    from pfx.discover import discover, quiet_logging
    from pfx.errors import ConfigError
    from pfx.config.resolving import make_resolve_settings
    from pfx.qmgr.routing import route
    from pfx.tables.registry import Registry

    quiet_logging()
    installed = discover()
    try:
        settings = load(config_dir, installed.registry()).settings
        tables = Registry(installed.tables,
                          warn=lambda text: sys.stderr.write(f"resolve: warning: {text}\n"))
        resolve_settings = make_resolve_settings(settings, tables)
        double_bounce = settings.get_str("double_bounce_sender")
    except (ConfigError, OSError) as e:
        return _fatal(str(e))
    for address in addresses:
        resolution = resolve(address, resolve_settings, sender)
        line = resolution.describe()
        decided = route(resolution, double_bounce)
        if decided.action is not None:
            line += f" qmgr={decided.action} dsn={decided.dsn} ({decided.text})"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
