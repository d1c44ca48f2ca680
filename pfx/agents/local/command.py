"""Delivery to a |command from an alias, :include:, .forward or mailbox_command.

Security: the command text comes from an alias, :include: or .forward file or from
mailbox_command, never from the address; it is executed directly (split on white
space) unless it contains shell magic characters, when /bin/sh gets it with -c; a
set local_command_shell (``/bin/bash -c``, ``/usr/sbin/smrsh -c``) gets every command. Address data reaches the command only through the environment,
filtered through command_expansion_filter. Runs as the pfx process's own user, or
under root as the recipient (mailbox_command, .forward) or default_privs (aliases),
set in the child between fork and exec; PATH is reset and only export_environment kept.
"""

import os
import shutil

from pfx.delivery import command as runner
from pfx.delivery.copy import copy_body, from_line

from pfx.agents.local.mailbox import headers
from pfx.agents.local.params import apply_filter

SHELL_MAGIC = set("|&;<>()$`\\\"'\n*?[#~=%")
DEFAULT_PATH = "/usr/bin:/bin"


def build_argv(command, shell=""):
    """local_command_shell for every command when set: its words, then the command as
    one argument (pipe_command.c adds no ``-c``; the setting carries it, as in
    ``/bin/bash -c``); else direct execution unless the command has shell magic or names
    no program (a built-in such as ``exit``), when /bin/sh gets it with -c."""
    if shell:
        return [*shell.split(), command]
    words = command.split()
    if words and not any(c in SHELL_MAGIC for c in command) and \
            ("/" in words[0] or shutil.which(words[0], path=DEFAULT_PATH)):
        return words
    return ["/bin/sh", "-c", command]


def environment(ctx, export=()):
    """The command environment local(8) documents; values filtered."""
    keep = ctx.cfg.command_filter
    env = {"PATH": DEFAULT_PATH}
    for name in export:
        if name in os.environ:
            env[name] = os.environ[name]
    client = ctx.request.client
    values = {
        "SHELL": ctx.shell, "HOME": ctx.home, "USER": ctx.user, "LOGNAME": ctx.user,
        "EXTENSION": ctx.extension,
        "DOMAIN": ctx.domain, "LOCAL": ctx.local, "RECIPIENT": ctx.recipient,
        "ORIGINAL_RECIPIENT": ctx.orig_rcpt or ctx.recipient, "SENDER": ctx.sender,
        "CLIENT_ADDRESS": client.addr, "CLIENT_HELO": client.helo,
        "CLIENT_HOSTNAME": client.name, "CLIENT_PROTOCOL": client.protocol,
        "SASL_METHOD": client.sasl_method, "SASL_USERNAME": client.sasl_username,
    }
    for name, value in values.items():
        if value:
            env[name] = apply_filter(value, keep)
    return env


def deliver_command(ctx, command, open_content):
    """Blocking: run ``command`` with the message on stdin -> Outcome."""
    prefix = from_line(ctx.sender, ctx.now) + headers(ctx, "command")

    def write_input(out):
        out.write(prefix)
        with open_content() as src:
            copy_body(src, out)

    cwd = ctx.cfg.queue_directory if os.path.isdir(ctx.cfg.queue_directory or "") else None
    try:
        result = runner.run(build_argv(command, ctx.cfg.command_shell), write_input,
                            environment(ctx, ctx.cfg.export_environment), cwd,
                            ctx.cfg.command_time_limit,
                            user=ctx.ids[0] if ctx.ids else None,
                            group=ctx.ids[1] if ctx.ids else None)
    except OSError as e:
        return runner.Outcome("deferred", runner.Dsn("4.3.0"),
                              f'cannot execute command "{command}": {e.strerror}')
    return runner.outcome(result, command, f"delivered to command: {command}")
