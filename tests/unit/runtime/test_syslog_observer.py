"""With maillog_file empty, mail lines go to syslog(3): ident NAME/PROGRAM, facility, level."""

import syslog

from twisted.logger import LogLevel, LogPublisher

from pfx.runtime import logging as L


def test_syslog_gets_ident_facility_and_priority_per_line(monkeypatch):
    calls = []
    monkeypatch.setattr(L.syslog, "openlog", lambda *a: calls.append(("openlog", *a)))
    monkeypatch.setattr(L.syslog, "syslog", lambda *a: calls.append(("syslog", *a)))
    observer = L.SyslogObserver("mail", "pfx/master")
    monkeypatch.setattr(L, "_logger", L.Logger(namespace=L.NAMESPACE,
                                               observer=LogPublisher(observer)))
    L.MailLog("pfx/submission", "smtpd", pid=42).info("connect from a[192.0.2.1]")
    L.MailLog("pfx", "qmgr", pid=42).warning("queue file is corrupt")
    observer({"log_level": LogLevel.debug, "log_namespace": "twisted", "log_time": 0,
              "log_format": "chatter"})
    assert calls == [
        ("openlog", "pfx/submission/smtpd", syslog.LOG_PID, syslog.LOG_MAIL),
        ("syslog", syslog.LOG_INFO, "connect from a[192.0.2.1]"),
        ("openlog", "pfx/qmgr", syslog.LOG_PID, syslog.LOG_MAIL),
        ("syslog", syslog.LOG_WARNING, "warning: queue file is corrupt"),
    ]


def test_syslog_facility_follows_the_parameter(monkeypatch):
    calls = []
    monkeypatch.setattr(L.syslog, "openlog", lambda *a: calls.append(a))
    monkeypatch.setattr(L.syslog, "syslog", lambda *a: None)
    observer = L.SyslogObserver("local3", "pfx/master")
    observer({"log_namespace": L.NAMESPACE, "pfx_tag": "pfx/local[7]", "pfx_text": "x",
              "pfx_severity": "info", "log_level": LogLevel.info, "log_time": 0})
    assert calls == [("pfx/local", syslog.LOG_PID, syslog.LOG_LOCAL3)]
