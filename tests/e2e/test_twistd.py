"""pfx as a process: ``twistd -n pfx -c DIR`` starts, serves, reloads and stops."""

import signal
import socket
import subprocess

import pytest

from tests.conftest import free_port, pfx_env, twistd_command, wait_for_port

pytestmark = pytest.mark.e2e


class LineClient:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")

    def ask(self, text):
        self.sock.sendall(text.encode() + b"\n")
        return self.file.readline().decode().strip()

    def close(self):
        self.file.close()
        self.sock.close()


def echo_row(port):
    return f"127.0.0.1:{port} inet n - n - - echo\n"


def test_serves_reloads_by_diff_and_stops_cleanly(config_dir, run_twistd):
    a, b = free_port(), free_port()
    config_dir.write(master=echo_row(a) + f"127.0.0.1:{b} inet n - n - - echo\n"
                     "  -o echo_prefix=bee\n")
    proc = run_twistd(config_dir.path)
    wait_for_port(a, proc=proc)
    wait_for_port(b, proc=proc)
    old_a, old_b = LineClient(a), LineClient(b)
    assert old_a.ask("hi") == "echo hi"
    assert old_b.ask("hi") == "bee hi"

    # main.cf change seen by row a only (row b overrides echo_prefix); a third row added
    c = free_port()
    config_dir.write(main_extra="echo_prefix = changed\n",
                     master=echo_row(a) + f"127.0.0.1:{b} inet n - n - - echo\n"
                     "  -o echo_prefix=bee\n" + echo_row(c))
    proc.send_signal(signal.SIGHUP)
    config_dir.wait_for_log("reload -- version")
    wait_for_port(c, proc=proc)
    assert LineClient(a).ask("x") == "changed x"  # rebuilt with the new value
    assert LineClient(c).ask("x") == "changed x"  # added
    assert old_a.ask("still") == "echo still"  # open connection kept alive
    assert old_b.ask("still") == "bee still"  # unchanged row untouched

    # a broken master.cf is reported and the running configuration stays
    (config_dir.path / "master.cf").write_text(echo_row(a) + "oops inet\n")
    proc.send_signal(signal.SIGHUP)
    config_dir.wait_for_log("reload failed, keeping the running configuration")
    assert "master.cf, line 2" in config_dir.log_text()
    assert LineClient(c).ask("y") == "changed y"

    proc.send_signal(signal.SIGTERM)
    # Twisted re-raises SIGTERM after a clean shutdown so the exit status tells why
    assert proc.wait(timeout=20) in (0, -signal.SIGTERM)
    log = config_dir.log_text()
    assert "pfx/master[" in log and "daemon started -- version" in log
    assert log.rstrip().endswith("terminating")
    for client in (old_a, old_b):
        client.close()


def test_unknown_command_is_a_startup_error_naming_file_line_and_plugins(config_dir):
    config_dir.write(master="discard unix - - n - - discard\nfoo unix - - n - - nosuchagent\n")
    done = subprocess.run(twistd_command(config_dir.path), env=pfx_env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert f"{config_dir.path}/master.cf, line 2: unknown command \"nosuchagent\"" in done.stderr
    assert "discard" in done.stderr and "echo" in done.stderr


def test_broken_plugin_module_is_named(config_dir, tmp_path):
    plugins = tmp_path / "extra" / "twisted" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "pfx_broken_agent.py").write_text("import no_such_module_here\n")
    config_dir.write(master="x unix - - n - - broken\n")
    done = subprocess.run(twistd_command(config_dir.path), env=pfx_env([tmp_path / "extra"]),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "failed to load" in done.stderr and "no_such_module_here" in done.stderr


def test_bad_value_names_parameter_file_and_line(config_dir):
    config_dir.write(main_extra="service_throttle_time = 10x\n",
                     master="discard unix - - n - - discard\n")
    done = subprocess.run(twistd_command(config_dir.path), env=pfx_env(), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert f"{config_dir.path}/main.cf, line 10: parameter service_throttle_time: " \
           f'bad time value: "10x"' in done.stderr
    assert "Traceback" not in done.stderr
