"""bounce_template_file parsing and expansion (bounce(5)), and the line wrapping."""

import subprocess

import pytest

from pfx.bounce import compose, template

CUSTOM = """\
# our own wording
failure_template = <<EOF
Charset: us-ascii
From: MAILER-DAEMON (Mail Delivery System)
Subject: Your mail bounced
postmaster-subject: Bounce copy

Host $myhostname could not deliver it; costs $$5.
EOF

delay_template = <<END
Delayed by $delay_warning_time_minutes minutes, kept for $maximal_queue_lifetime_hours hours.
END
"""


def test_custom_templates_override_only_what_they_define():
    t = template.load(CUSTOM, "bounce.cf")
    fail = t["failure_template"]
    assert (fail.sender, fail.subject, fail.postmaster_subject) == \
        ("MAILER-DAEMON (Mail Delivery System)", "Your mail bounced", "Bounce copy")
    assert fail.expand_text({"myhostname": "mx.example"}.get) == \
        ["Host mx.example could not deliver it; costs $5."]
    delay = t["delay_template"]
    assert delay.subject == "Delayed Mail (still being retried)"  # default header kept
    lookup = template.time_lookup(lambda n: None, 4 * 3600, 5 * 86400)
    assert delay.expand_text(lookup) == ["Delayed by 240 minutes, kept for 120 hours."]
    assert t["success_template"] is template.DEFAULTS["success_template"]


def test_obsolete_from_form_is_qualified():
    assert compose.from_header("MAILER-DAEMON (Mail Delivery System)", "ex.org") == \
        "MAILER-DAEMON@ex.org (Mail Delivery System)"
    assert compose.from_header("Mail Delivery System <MAILER-DAEMON>", "ex.org") == \
        "Mail Delivery System <MAILER-DAEMON@ex.org>"


@pytest.mark.parametrize("text,line", [
    ("nonsense here\n", 1),
    ("\nbogus_template = <<EOF\nx\nEOF\n", 2),
    ("failure_template = <<EOF\nno end marker\n", 1),
    ("failure_template = <<EOF\nFrom: x\nX-Bad: y\n\ntext\nEOF\n", 3),
])
def test_syntax_errors_name_the_line(text, line):
    with pytest.raises(template.TemplateError) as e:
        template.parse(text, "bounce.cf")
    assert e.value.line == line


def test_non_ascii_text_needs_a_charset():
    with pytest.raises(template.TemplateError):
        template.parse("failure_template = <<EOF\nSubject: x\n\nUnzustellbar: äöü\nEOF\n")
    t = template.parse("failure_template = <<EOF\nCharset: utf-8\n\nUnzustellbar: äöü\nEOF\n")
    assert t["failure_template"].charset == "utf-8"


def test_defaults_are_postfix_37_word_for_word(tmp_path):
    (tmp_path / "main.cf").write_text("")
    try:
        out = subprocess.run(["postconf", "-c", str(tmp_path), "-t"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("no Postfix postconf here")
    if "failure_template" not in out:
        pytest.skip("this postconf prints no templates")
    theirs = template.parse(out, "postconf -t")
    for name in template.NAMES:
        mine = template.DEFAULTS[name]
        assert theirs[name].text == mine.text, name
        assert (theirs[name].subject, theirs[name].postmaster_subject, theirs[name].sender,
                theirs[name].charset) == (mine.subject, mine.postmaster_subject, mine.sender,
                                          mine.charset)


def test_wrap_matches_postfix_line_wrap():
    text = ("<user2@bounce.test>: host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: command "
            "failed (in reply to RCPT TO command)")
    assert compose.wrap(text) == [
        "<user2@bounce.test>: host 127.0.0.1[127.0.0.1] said: 500 5.3.0 Error: command",
        "    failed (in reply to RCPT TO command)"]
    long = "<a@b>: " + " ".join(["word"] * 60)
    lines = compose.wrap(long)
    assert all(len(line) <= 79 for line in lines)
    assert all(line.startswith("    word") for line in lines[1:])
    assert compose.wrap("x" * 120) == ["x" * 120]  # one long word is never split
