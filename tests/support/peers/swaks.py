"""swaks as a real SMTP/LMTP client: ``rc, transcript = swaks(server=(host, port), to=...)``.

Exit codes worth knowing (COMPONENTS.md 5): 0 ok (also when only SOME recipients were
accepted: look for ``<** `` in the transcript), 2 connect error, 24 no recipient accepted,
25 DATA refused, 26 refused after DATA, 28 AUTH failed, 29 TLS failed. ``--helo`` is always
passed (swaks' default is the machine's hostname), and ``--suppress-data`` by default keeps
the transcript short.
"""

import os
import subprocess

SWAKS = "/usr/bin/swaks"


class SwaksMissing(Exception):
    pass


def swaks_argv(*args, server=None, socket=None, to=None, sender="sender@client.test",
               helo="client.test", lmtp=False, suppress_data=True, **options):
    """Build the argument list. ``server`` is (host, port) or "host:port"; ``socket`` a unix
    socket path; keyword ``options`` become ``--name value`` (``tls_verify=True`` becomes
    ``--tls-verify``; None/False are left out); positional ``args`` are passed verbatim."""
    argv = [SWAKS, "--helo", helo, "--from", sender]
    if server is not None:
        if not isinstance(server, str):
            server = f"{server[0]}:{server[1]}"
        argv += ["--server", server]
    if socket is not None:
        argv += ["--socket", socket]
    if to is not None:
        argv += ["--to", to if isinstance(to, str) else ",".join(to)]
    if lmtp:
        argv += ["--protocol", "LMTP"]
    if suppress_data:
        argv.append("--suppress-data")
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value not in (None, False):
            argv += [flag, str(value)]
    return [*argv, *args]


def swaks(*args, timeout=30, input=None, **kw):
    """Run swaks; return ``(returncode, transcript)`` (stdout and stderr together).
    A hung session is killed after ``timeout`` s and reported as rc -9."""
    if not os.access(SWAKS, os.X_OK):
        raise SwaksMissing(f"swaks is not installed ({SWAKS}); run tests/install-peers.sh")
    argv = swaks_argv(*args, **kw)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            start_new_session=True)
    try:
        out, _ = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, _ = proc.communicate()
        return -9, out.decode(errors="replace") + f"\n*** swaks killed after {timeout}s\n"
    return proc.returncode, out.decode(errors="replace")
