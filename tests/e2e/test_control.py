"""``pfx start|status|reload|stop|check -c DIR``: Postfix's messages and exit codes."""

import subprocess
import time

import pytest

from tests.conftest import free_port, pfx_command, pfx_env, wait_for_port

pytestmark = pytest.mark.e2e


def pfx(*args):
    return subprocess.run(pfx_command(*args), env=pfx_env(), capture_output=True, text=True,
                          timeout=60)


def test_daemon_life_cycle(config_dir):
    port = free_port()
    config_dir.write(master=f"127.0.0.1:{port} inet n - n - - echo\n")
    d = str(config_dir.path)
    done = pfx("status", "-c", d)
    assert (done.returncode, done.stderr) == (
        1, "pfx/pfx-script: the pfx mail system is not running\n")
    done = pfx("start", "-c", d)
    try:
        assert done.returncode == 0, done.stderr
        assert done.stderr == "pfx/pfx-script: starting the pfx mail system\n"
        wait_for_port(port)
        pid = int((config_dir.path / "var/spool/pid/master.pid").read_text())
        done = pfx("status", "-c", d)
        assert (done.returncode, done.stderr) == (
            0, f"pfx/pfx-script: the pfx mail system is running: PID: {pid}\n")
        assert f"pfx/master[{pid}]: daemon started" in config_dir.log_text()
        done = pfx("start", "-c", d)
        assert (done.returncode, done.stderr) == (
            1, "pfx/pfx-script: fatal: the pfx mail system is already running\n")
        done = pfx("reload", "-c", d)
        assert done.returncode == 0
        config_dir.wait_for_log(f"pfx/master[{pid}]: reload -- version")
    finally:
        done = pfx("stop", "-c", d)
    assert (done.returncode, done.stderr) == (0, "pfx/pfx-script: stopping the pfx mail system\n")
    assert pfx("status", "-c", d).returncode == 1
    assert pfx("stop", "-c", d).returncode == 1


def test_check_reports_config_errors_without_traceback(config_dir):
    config_dir.write(main_extra="default_process_limit = 0\n", master="")
    done = pfx("check", "-c", str(config_dir.path))
    assert done.returncode == 1
    assert done.stderr == (f"pfx/pfx-script: fatal: {config_dir.path}/main.cf, line 10: "
                           "parameter default_process_limit: invalid value: 0 < 1\n")


def test_check_warns_about_unused_parameters_and_creates_directories(config_dir):
    config_dir.write(main_extra="frobnicate = yes\n", master="")
    done = pfx("check", "-c", str(config_dir.path))
    assert done.returncode == 0
    assert "warning: " + str(config_dir.path) + "/main.cf: unused parameter: frobnicate=yes" \
        in done.stderr
    assert (config_dir.path / "var" / "spool" / "pid").is_dir()


def test_tools_name_a_broken_plugin_in_one_line(config_dir, tmp_path):
    plugins = tmp_path / "extra" / "twisted" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "pfx_broken_agent.py").write_text("import no_such_module_here\n")
    config_dir.write(master="")
    env = pfx_env([tmp_path / "extra"])
    done = subprocess.run(pfx_command("postconf", "-c", str(config_dir.path), "-n"), env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "Traceback" not in done.stderr
    assert "postconf: warning: plugin module failed to load: ModuleNotFoundError: No module " \
           "named 'no_such_module_here'" in done.stderr
