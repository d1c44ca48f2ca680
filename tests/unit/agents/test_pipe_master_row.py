"""A pipe row in master.cf reaches the agent: ``{ }`` groups, -o overrides and args."""

from pfx.agents.pipe import PipeAgentFactory
from pfx.config.load import load
from pfx.discover import discover

from ondisk_fakes import request, result_of, runtime


def test_master_cf_row_builds_a_working_pipe_agent(tmp_path):
    out = tmp_path / "out"
    (tmp_path / "main.cf").write_text(f"queue_directory = {tmp_path}\n"
                                      "filter_time_limit = 7s\n")
    (tmp_path / "master.cf").write_text(
        "filter unix - n n - - pipe\n"
        "  -o syslog_name=pfx/filter flags=Rq user=nobody\n"
        f"  argv=/bin/sh -c {{ cat > {out}; echo \"$$0\" >> {out} }} ${{recipient}}\n")
    installed = discover()
    config = load(str(tmp_path), installed.registry().for_services(["filter"]))
    [entry] = config.entries
    settings = config.service_settings(entry)
    assert settings.master_args == ("flags=Rq", "user=nobody", "argv=/bin/sh", "-c",
                                    f'cat > {out}; echo "$$0" >> {out}', "${recipient}")
    agent = PipeAgentFactory().make_agent(settings, runtime())
    assert agent.time_limit == 7 and agent.service == "filter"
    agent.ids = None  # run as ourselves even under root: the row is what is tested
    [st] = result_of(agent.deliver(request("a b@x.test", content=b"Subject: s\n\nhi\n"))).statuses
    assert st.text == "delivered via filter service"
    assert out.read_bytes() == b'Return-Path: <a@example.test>\nSubject: s\n\nhi\n"a b"@x.test\n'
