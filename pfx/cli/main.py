"""The ``pfx`` command: ``pfx start|stop|reload|status|check -c DIR`` and the Postfix
tools as subcommands (``pfx postconf ...``), plus the ``pfx-sendmail`` entry point.

Messages and exit codes follow postfix(1) and postfix-script: "starting the pfx mail
system", "the pfx mail system is not running" (exit 1), "fatal: ..." (exit 1).
"""

import importlib
import os
import signal
import subprocess
import sys
import time

from pfx.config.core import CONFIG_DIRECTORY

#: subcommand -> module under pfx.cli providing main(argv) -> int (or "module:function")
TOOLS = {
    "postconf": "postconf", "postmap": "postmap", "postalias": "postalias",
    "newaliases": "postalias:newaliases_main", "postqueue": "postqueue", "mailq": "mailq",
    "postsuper": "postsuper", "postcat": "postcat", "sendmail": "sendmail",
    "postdrop": "postdrop", "resolve": "resolve", "saslpasswd": "saslpasswd",
}
CONTROL = ("start", "stop", "reload", "status", "check", "start-fg")
PROG = "pfx/pfx-script"

USAGE = """usage: pfx [-c config_dir] start|stop|reload|status|check|start-fg
       pfx TOOL [args]   where TOOL is one of: """ + ", ".join(sorted(TOOLS))


def _say(text, stream=sys.stderr):
    stream.write(f"{PROG}: {text}\n")
    stream.flush()


def _fatal(text) -> int:
    _say(f"fatal: {text}")
    return 1


def _load(config_dir):
    from pfx.app import load_checked  # heavy: only for the control commands
    return load_checked(config_dir)


def _pidfile(config):
    s = config.settings
    return os.path.join(s.get_str("queue_directory"), s.get_str("process_id_directory"),
                        "master.pid")


def _running_pid(pidfile):
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return pid


def _twistd_argv(config, daemon):
    argv = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
    if daemon:
        data = config.settings.get_str("data_directory")
        argv += [f"--pidfile={_pidfile(config)}", f"--logfile={os.path.join(data, 'twistd.log')}"]
    else:
        argv += ["--nodaemon", "--pidfile="]
    return argv + ["pfx", "-c", config.config_dir]


def control(command, config_dir) -> int:
    from pfx.errors import ConfigError
    try:
        config, installed = _load(config_dir)
    except ConfigError as e:
        return _fatal(str(e))
    if command == "check":
        return check(config)
    pidfile = _pidfile(config)
    pid = _running_pid(pidfile)
    if command == "status":
        if pid is None:
            _say("the pfx mail system is not running")
            return 1
        _say(f"the pfx mail system is running: PID: {pid}")
        return 0
    if command == "stop":
        if pid is None:
            return _fatal("the pfx mail system is not running")
        _say("stopping the pfx mail system")
        os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            if _running_pid(pidfile) is None:
                return 0
            time.sleep(0.1)
        return _fatal(f"the pfx mail system (PID {pid}) did not stop within 30s")
    if command == "reload":
        if pid is None:
            return _fatal("the pfx mail system is not running")
        _say("refreshing the pfx mail system")
        os.kill(pid, signal.SIGHUP)
        return 0
    # start / start-fg
    if pid is not None:
        return _fatal("the pfx mail system is already running")
    rc = check(config, quiet=True)
    if rc:
        return rc
    _say("starting the pfx mail system")
    if command == "start-fg":
        os.execv(sys.executable, _twistd_argv(config, daemon=False))
    done = subprocess.run(_twistd_argv(config, daemon=True))
    if done.returncode != 0:
        return _fatal(f"twistd exited with status {done.returncode}")
    return 0


def check(config, quiet=False) -> int:
    """postfix check: warnings for the configuration, and the directories pfx needs."""
    for text in config.warnings():
        _say(f"warning: {text}")
    s = config.settings
    queue = s.get_str("queue_directory")
    for path in (queue, s.get_str("data_directory")):
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
        except OSError as e:
            return _fatal(f"create directory {path}: {e.strerror}")
    from pfx.queue.store import QueueStore
    for text in QueueStore(queue).check(repair=True):
        if not text.endswith(": created"):  # a new queue is not worth a warning
            _say(f"warning: {text}")
    return 0


def main(argv=None) -> int:
    from pfx.discover import quiet_logging
    quiet_logging()
    argv = list(sys.argv[1:] if argv is None else argv)
    config_dir = os.environ.get("MAIL_CONFIG", CONFIG_DIRECTORY)
    global_dir = None
    if len(argv) >= 2 and argv[0] == "-c":
        config_dir = global_dir = argv[1]
        argv = argv[2:]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 64
    command, rest = argv[0], argv[1:]
    if command in TOOLS:
        module_name, _, function = TOOLS[command].partition(":")
        try:
            module = importlib.import_module(f"pfx.cli.{module_name}")
        except ModuleNotFoundError as e:
            if e.name != f"pfx.cli.{module_name}":
                raise
            sys.stderr.write(f"pfx: {command}: not available in this version of pfx\n")
            return 69  # EX_UNAVAILABLE
        if global_dir is not None:  # `pfx -c DIR TOOL ...`: the tool's own option
            rest = (["-C", global_dir] if command == "sendmail" else ["-c", global_dir]) + rest
        return getattr(module, function or "main")(rest)
    if command in CONTROL:
        if len(rest) >= 2 and rest[0] == "-c":
            config_dir, rest = rest[1], rest[2:]
        if rest:
            sys.stderr.write(USAGE + "\n")
            return 64
        return control(command, config_dir)
    sys.stderr.write(f"pfx: unknown command: {command}\n{USAGE}\n")
    return 64


#: Postfix's sendmail picks its mode from the name it runs under before it reads the
#: options (Debian links /usr/bin/mailq and /usr/bin/newaliases to it); a later -b wins.
SENDMAIL_NAMES = {"mailq": ["-bp"], "newaliases": ["-bi"]}


def sendmail_main() -> int:
    """``pfx-sendmail``: what an admin links as /usr/sbin/sendmail, mailq and newaliases."""
    mode = SENDMAIL_NAMES.get(os.path.basename(sys.argv[0]), [])
    return main(["sendmail", *mode, *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
