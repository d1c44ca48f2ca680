"""Blocking pieces shared by the on-host delivery agents (Postfix's src/global mail_copy.c,
mbox_open.c, dot_lockfile.c, pipe_command.c, sys_exits.c): no reactor, stdlib only.

local, virtual and pipe are separate program packages that may not import each other;
what they share lives here, one layer below them, and is called through
runtime.run_blocking.
"""
