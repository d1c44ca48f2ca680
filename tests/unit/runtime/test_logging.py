"""Mail log lines in Postfix's shape, to maillog_file, surviving rotation."""

import os
import re

from twisted.logger import LogLevel, LogPublisher
from twisted.python.failure import Failure

from pfx.runtime import logging as L

LINE = re.compile(r"^[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d host pfx/(smtpd|master)\[\d+\]: ")


def test_maillog_lines_have_postfix_shape_and_reopen_after_rotation(tmp_path, monkeypatch):
    path = tmp_path / "maillog"
    now = [100.0]
    observer = L.MaillogObserver(str(path), "pfx/master", hostname="host", clock=lambda: now[0])
    publisher = LogPublisher(observer)
    monkeypatch.setattr(L, "_logger", L.Logger(namespace=L.NAMESPACE, observer=publisher))
    log = L.MailLog("pfx", "smtpd", pid=42)
    log.info("connect from localhost[127.0.0.1]")
    log.warning("hostname nowhere does not resolve")
    os.rename(path, tmp_path / "maillog.1")
    now[0] += L.MaillogObserver.ROTATION_CHECK_INTERVAL  # the path is looked at once a second
    log.child("master").error("boom")
    observer.close()
    first = (tmp_path / "maillog.1").read_text().splitlines()
    assert [LINE.match(x) is not None for x in first] == [True, True]
    assert first[0].endswith("pfx/smtpd[42]: connect from localhost[127.0.0.1]")
    assert first[1].endswith("pfx/smtpd[42]: warning: hostname nowhere does not resolve")
    assert path.read_text().rstrip().endswith("pfx/master[42]: error: boom")


def test_maillog_rotation_is_noticed_once_a_second_or_when_asked(tmp_path, monkeypatch):
    path = tmp_path / "maillog"
    now = [100.0]
    observer = L.MaillogObserver(str(path), "pfx/master", hostname="host", clock=lambda: now[0])
    monkeypatch.setattr(L, "_logger", L.Logger(namespace=L.NAMESPACE,
                                               observer=LogPublisher(observer)))
    log = L.MailLog("pfx", "smtpd", pid=42)
    log.info("one")
    os.rename(path, tmp_path / "maillog.1")
    now[0] += 0.5
    log.info("two")  # within the second: still the renamed file
    observer.check_rotation()  # on reload: looked at with the next line
    log.info("three")
    observer.close()
    assert [x.rsplit(": ", 1)[1] for x in (tmp_path / "maillog.1").read_text().splitlines()] \
        == ["one", "two"]
    assert [x.rsplit(": ", 1)[1] for x in path.read_text().splitlines()] == ["three"]


def test_twisted_errors_become_error_lines_and_chatter_is_dropped():
    try:
        1 / 0
    except ZeroDivisionError:
        failure = Failure()
    event = {"log_level": LogLevel.critical, "log_format": "Unhandled error in Deferred:",
             "log_failure": failure, "log_namespace": "twisted", "log_time": 0}
    tag, text = L.render(event, "pfx/master")
    assert tag.startswith("pfx/master[")
    assert text.startswith("error: Unhandled error in Deferred: ZeroDivisionError: division")
    assert L.render({"log_level": LogLevel.info, "log_format": "Starting factory"},
                    "pfx/master") is None


def test_maillog_path_must_match_a_prefix():
    assert L.check_maillog_path("/var/log/maillog", ["/var", "/dev/stdout"]) is None
    assert L.check_maillog_path("/srv/x/../var/log", ["/srv/var"]) is None
    assert "does not match" in L.check_maillog_path("/tmp/maillog", ["/var"])
    assert "does not match" in L.check_maillog_path("/variable/x", ["/var"])


def test_with_a_sink_mail_lines_bypass_twisteds_log(monkeypatch):
    seen_by_twisted, sink = [], []
    monkeypatch.setattr(L, "_logger", L.Logger(namespace=L.NAMESPACE,
                                               observer=seen_by_twisted.append))
    L.add_sink(sink.append)
    try:
        L.MailLog("pfx", "qmgr", pid=7).info("4QID: removed")
    finally:
        L.remove_sink(sink.append)
    assert seen_by_twisted == []
    assert [(e["pfx_tag"], e["pfx_text"]) for e in sink] == [("pfx/qmgr[7]", "4QID: removed")]
    assert L.render(sink[0], "pfx/master") == ("pfx/qmgr[7]", "4QID: removed")


def test_the_pid_is_the_current_process_s_after_a_fork():
    import os

    from pfx.runtime.logging import MailLog

    log = MailLog("pfx", "smtpd")
    assert log.pid == os.getpid()
    r, w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child)
        os.write(w, str(MailLog("pfx", "smtpd").pid).encode())
        os._exit(0)
    os.close(w)
    os.waitpid(child, 0)
    assert int(os.read(r, 100)) == child
    os.close(r)
