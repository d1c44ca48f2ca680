"""$service_name and $process_name in a master.cf row's overrides, as Postfix expands them."""

from pfx.config.load import load
from pfx.discover import discover


def test_process_name_is_the_program_and_service_name_the_row(tmp_path):
    (tmp_path / "main.cf").write_text(f"queue_directory = {tmp_path}\n")
    (tmp_path / "master.cf").write_text(
        "submission inet n - n - - smtpd\n"
        "  -o syslog_name=pfx/$service_name -o smtpd_banner=$process_name/$service_name\n")
    config = load(str(tmp_path), discover().registry())
    [entry] = config.entries
    settings = config.service_settings(entry)
    assert settings.get_str("service_name") == "submission"
    assert settings.get_str("process_name") == "smtpd"
    assert settings.get_str("syslog_name") == "pfx/submission"
    assert settings.get_str("smtpd_banner") == "smtpd/submission"
