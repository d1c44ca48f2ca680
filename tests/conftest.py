"""Shared fixtures: free ports, throwaway config directories, pfx as a process."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUPPORT_PLUGINS = ROOT / "tests" / "support" / "plugins"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, timeout=15.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {timeout}s")


def pfx_env(extra_paths=()):
    """Environment for a pfx child process: the checkout and test plugins importable."""
    env = dict(os.environ)
    paths = [str(ROOT), str(SUPPORT_PLUGINS), *map(str, extra_paths)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.pop("MAIL_CONFIG", None)
    return env


class ConfigDir:
    """A throwaway configuration directory with queue and log under it."""

    def __init__(self, path: Path):
        self.path = path
        self.maillog = path / "var" / "log" / "maillog"

    def write(self, main_extra="", master=""):
        (self.path / "main.cf").write_text(
            "compatibility_level = 3.6\n"
            "myhostname = mx.example.test\nmydomain = example.test\n"
            "inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
            f"queue_directory = {self.path}/var/spool\n"
            f"data_directory = {self.path}/var/lib\n"
            f"maillog_file = {self.maillog}\n"
            f"maillog_file_prefixes = {self.path}\n" + main_extra)
        (self.path / "master.cf").write_text(master)

    def log_text(self):
        return self.maillog.read_text() if self.maillog.exists() else ""

    def wait_for_log(self, needle, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_text():
                return
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not in maillog:\n{self.log_text()}")


@pytest.fixture
def config_dir(tmp_path):
    return ConfigDir(tmp_path)


TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def pfx_command(*args):
    return [sys.executable, "-m", "pfx.cli.main", *args]


def run_pfx(config_dir, *args, stdin=b""):
    """``pfx ARGS`` run in config_dir's checkout-like tree, output captured."""
    return subprocess.run(pfx_command(*args), input=stdin, env=pfx_env(), capture_output=True,
                          timeout=30, cwd=config_dir.path)


def twistd_command(config_path):
    return [*TWISTD, "--pidfile=", "-n", "pfx", "-c", str(config_path)]


@pytest.fixture
def run_twistd():
    """Start ``twistd -n pfx -c DIR`` processes; every one is stopped at teardown."""
    procs = []

    def start(config_path, extra_paths=()):
        proc = subprocess.Popen(twistd_command(config_path), env=pfx_env(extra_paths),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


# Real peers (Dovecot, twisted.names DNS, a private Postfix, smtp-sink, swaks) for any
# test that names them as fixtures; each skips with its reason when the peer is missing.
from tests.support.peers.fixtures import *  # noqa: E402,F401,F403
