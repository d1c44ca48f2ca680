"""pfx-sendmail as Postfix's sendmail: -bs with bare-LF input, and the name it runs under."""

import io
import sys

import pytest

from pfx.cli import main as pfx_main
from pfx.cli.sendmail import load_settings
from pfx.cli.sendmail_bs import smtp_session
from tests.unit.pickup.test_sendmail_cli import cfg  # noqa: F401  (the fixture)


def contents(store):
    out = []
    for qid in store.scan("maildrop"):
        with store.open("maildrop", qid) as reader:
            out.append(b"".join(reader.iter_content()))
    return out


@pytest.mark.parametrize("setting", [
    "",
    "smtpd_forbid_bare_newline = normalize\nsmtpd_forbid_bare_newline_exclusions =\n",
    "smtpd_forbid_bare_newline = reject\nsmtpd_forbid_bare_newline_exclusions =\n",
])
def test_bs_takes_lf_only_input_whatever_smtpd_forbid_bare_newline_says(cfg, setting):
    # Postfix 3.7.11's `sendmail -bs` (smtpd stand-alone) queued this dialogue with each
    # of these settings: bare-LF enforcement is for network clients only.
    cfg.write(main_extra=setting)
    dialogue = (b"HELO me\nMAIL FROM:<bob@example.test>\nRCPT TO:<carol@example.test>\n"
                b"DATA\nSubject: lf\n\nhi\n.\nQUIT\n")
    out = io.BytesIO()
    assert smtp_session(load_settings(str(cfg.path)), io.BufferedReader(io.BytesIO(dialogue)),
                        out) == 0
    lines = out.getvalue().decode().split("\r\n")
    assert lines[4].startswith("354 ") and lines[5].startswith("250 2.0.0 Ok: queued as ")
    assert lines[6] == "221 2.0.0 Bye"
    assert contents(cfg.store) == [b"Subject: lf\n\nhi\n"]


def run_as(monkeypatch, program, *args):
    monkeypatch.setattr(sys, "argv", [program, *args])
    return pfx_main.sendmail_main()


def test_linked_as_mailq_it_lists_the_queue(cfg, monkeypatch, capsys):
    assert run_as(monkeypatch, "/usr/bin/mailq", "-C", str(cfg.path)) == 0
    assert capsys.readouterr().out == "Mail queue is empty\n"


def test_linked_as_newaliases_it_builds_the_alias_databases(cfg, monkeypatch, capsys):
    aliases = cfg.path / "aliases"
    aliases.write_text("postmaster: root\n")
    cfg.write(main_extra=f"alias_database = hash:{aliases}\nalias_maps = hash:{aliases}\n")
    assert run_as(monkeypatch, "/usr/bin/newaliases", "-C", str(cfg.path)) == 0
    assert (cfg.path / "aliases.db").exists()


def test_any_other_name_is_plain_sendmail(cfg, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": io.BytesIO(b"x\n")})())
    assert run_as(monkeypatch, "/usr/sbin/sendmail", "-C", str(cfg.path), "carol") == 0
    assert contents(cfg.store) == [b"x\n"]
    # A later -b option wins over the name, as in Postfix.
    assert run_as(monkeypatch, "mailq", "-C", str(cfg.path), "-bp") == 0
    assert "1 Request." in capsys.readouterr().out


def envelopes(store):
    out = []
    for qid in store.scan("maildrop"):
        with store.open("maildrop", qid) as reader:
            out.append((reader.info.sender, [r.address for r in reader.info.recipients]))
    return out


@pytest.mark.parametrize("given, sender, warning", [
    ("Full Name <d@example.test>", "d@example.test", ""),
    ("<c@example.test>", "c@example.test", ""),
    ("<>", "", ""),
    ('"q u"@example.test', "q u@example.test", ""),
    ("a@example.test, b@example.test", "a@example.test",
     "sendmail: warning: -f option specified malformed sender: a@example.test, b@example.test\n"),
])
def test_dash_f_takes_the_first_address_in_internal_form(cfg, monkeypatch, capsys, given, sender,
                                                         warning):
    # What Postfix 3.7's sendmail queued for each -f argument (postcat -e of its maildrop).
    monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": io.BytesIO(b"x\n")})())
    assert run_as(monkeypatch, "sendmail", "-C", str(cfg.path), "-f", given, "r@example.test") == 0
    assert envelopes(cfg.store) == [(sender, ["r@example.test"])]
    assert capsys.readouterr().err == warning


def test_recipients_are_parsed_as_address_lists_in_internal_form(cfg, monkeypatch):
    monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": io.BytesIO(b"x\n")})())
    assert run_as(monkeypatch, "sendmail", "-C", str(cfg.path), "-f", "s@example.test",
                  "Full <d@example.test>", '"q u"@example.test', "a@x.test, c@x.test",
                  "p (comment) <pp@x.test>", "u") == 0
    assert envelopes(cfg.store) == [("s@example.test", [
        "d@example.test", "q u@example.test", "a@x.test", "c@x.test", "pp@x.test", "u"])]


def test_bs_queues_internal_forms_without_source_routes(cfg):
    # Postfix 3.7's sendmail -bs queued: sender "s x@localhost", recipients
    # "q u@localhost" and "r@localhost" for this dialogue.
    dialogue = (b'HELO x\r\nMAIL FROM:<"s x"@example.test>\r\nRCPT TO:<"q u"@example.test>\r\n'
                b"RCPT TO:<@route.test:r@example.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n")
    out = io.BytesIO()
    assert smtp_session(load_settings(str(cfg.path)), io.BufferedReader(io.BytesIO(dialogue)),
                        out) == 0
    assert envelopes(cfg.store) == [("s x@example.test", ["q u@example.test", "r@example.test"])]
