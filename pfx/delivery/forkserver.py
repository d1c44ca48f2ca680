"""The privileged helper's fork server (see pfx.delivery.helper for the model).

Started by pfx as root, as ``python -I -S`` with only the pfx source directory on
sys.path (stdlib and stdlib-only pfx modules, as helper_child), with one end of a unix
SOCK_SEQPACKET socketpair as its control channel: the only input it trusts. Each control
packet is b"J" carrying one descriptor (SCM_RIGHTS): a socket private to that job. The
server forks, answers the child's pid (or -errno) and closes its copy; the child reads
the job and the message from that socket, does what a helper child does
(helper_child.main: spool open as root, drop ids, deliver) and writes its JSON answer
back on it. The server never reads message data nor delivers, so nothing of one job
stays in the memory the next job's child is forked from. EOF on the control channel (pfx
stopped or died) ends the server once its children have exited.
"""

import gc
import os
import signal
import socket
import struct
import sys

from pfx.delivery import helper_child

PID = struct.Struct("!i")  # the answer to a job packet: the child's pid, or -errno


def _reap(*_):
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def _child(ctl, fd):
    status = 70
    try:
        # first: a child later running as the user must hold no way to the control channel
        ctl.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # SIGINT stays ignored, as the server's
        helper_child.main(os.fdopen(fd, "rb", closefd=False), fd)
        status = 0
    finally:
        os._exit(status)  # never back into the server's loop


def serve_forever(ctl):
    """Fork one child per job packet read from ``ctl`` until it reaches EOF."""
    while True:
        msg, fds, _flags, _addr = socket.recv_fds(ctl, 16, 2)
        if not msg and not fds:
            break
        if msg != b"J" or len(fds) != 1:
            for fd in fds:
                os.close(fd)
            ctl.send(PID.pack(-22))  # EINVAL
            continue
        try:
            pid = os.fork()
        except OSError as e:
            pid = -(e.errno or 11)
        if pid == 0:
            _child(ctl, fds[0])
        os.close(fds[0])
        ctl.send(PID.pack(pid))


def main():
    # a ^C to pfx's process group: pfx decides, and no delivery is cut half-way
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, _reap)
    ctl = socket.socket(fileno=int(sys.argv[2]))
    gc.freeze()  # out of the collector's reach: a child's collection copies no page of them
    try:
        serve_forever(ctl)
    except OSError:
        pass  # the control channel broke: pfx starts another server
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    while True:  # let running deliveries finish: no orphans once pfx has gone
        try:
            os.wait()
        except ChildProcessError:
            return
