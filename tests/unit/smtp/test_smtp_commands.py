"""Command-line parsing, xtext, the EHLO reply and dot-stuffing helpers."""

import pytest

from pfx.dsn import Reply
from pfx.smtp import replies as R
from pfx.smtp.commands import (CommandError, looks_like_header, parse_bdat, parse_mail, parse_notify, parse_rcpt,
                               split_verb, xtext_decode, xtext_encode)
from pfx.smtp.dotstuff import DotDecoder, DotEncoder, dot_encode
from pfx.smtp.ehlo import discard_set, ehlo_reply


@pytest.mark.parametrize("line, expected", [
    ("mail FROM:<a@b>", ("MAIL", "FROM:<a@b>")),
    ("  NOOP  ", ("NOOP", "")),
    ("\tHELO\tx y ", ("HELO", "x y")),
    ("", ("", "")),
])
def test_split_verb(line, expected):
    assert split_verb(line) == expected


@pytest.mark.parametrize("line, header", [
    ("Subject: x", True), ("X-Foo:bar", True), ("Received : x", True),
    ("MAIL FROM:<a>", False), ("no colon", False), (":x", False),
])
def test_looks_like_header(line, header):
    assert looks_like_header(line) is header


@pytest.mark.parametrize("arg, address", [
    ("FROM:<a@b>", "a@b"), ("FROM: <a@b>", "a@b"), ("from:a@b", "a@b"), ("FROM:<>", ""),
    ('FROM:<"x y>"@b>', '"x y>"@b'), ("FROM:<@r1,@r2:u@d>", "@r1,@r2:u@d"), ("FROM:<<a@b>>", "<a@b>"),
])
def test_mail_addresses_are_kept_raw(arg, address):
    assert parse_mail(arg)[0] == address


@pytest.mark.parametrize("arg, reply", [
    ("FROM:", R.SYNTAX_MAIL), ("FROM", R.SYNTAX_MAIL), ("TO:<a@b>", R.SYNTAX_MAIL), ("FROM :<a@b>", R.SYNTAX_MAIL),
    ("FROM:<a@b", R.BAD_SENDER), ("FROM:<a@b>x", R.BAD_SENDER), ('FROM:<"a@b>', R.BAD_SENDER),
])
def test_mail_syntax_errors(arg, reply):
    with pytest.raises(CommandError) as info:
        parse_mail(arg)
    assert info.value.reply == reply


def test_mail_param_switches():
    with pytest.raises(CommandError) as info:
        parse_mail("FROM:<a@b> SMTPUTF8", smtputf8=False)
    assert info.value.reply == R.unsupported_option("SMTPUTF8")
    with pytest.raises(CommandError) as info:
        parse_mail("FROM:<a@b> ENVID=x", dsn=False)
    assert info.value.reply == R.DSN_DISABLED
    assert parse_mail("FROM:<a@b> SIZE=10", size_limit=0)[1].size == 10
    assert parse_mail("FROM:<a@b> AUTH=<>", auth=True)[1].auth == "<>"
    # Postfix keeps AUTH= as sent: no xtext decoding, no syntax check (checked against 3.7)
    assert parse_mail("FROM:<a@b> AUTH=u+2Bv@d", auth=True)[1].auth == "u+2Bv@d"
    assert parse_mail("FROM:<a@b> AUTH=bob+4", auth=True)[1].auth == "bob+4"


def test_rcpt_params():
    address, params = parse_rcpt("TO:<a@b> NOTIFY=NEVER ORCPT=utf-8;caf\u00e9@b")
    assert params.notify == frozenset({"NEVER"}) and params.orcpt == "caf\u00e9@b"
    with pytest.raises(CommandError):
        parse_rcpt("TO:<a@b> NOTIFY=NEVER NOTIFY=NEVER")
    with pytest.raises(CommandError) as info:
        parse_rcpt("TO:<a@b> NOTIFY=NEVER", dsn=False)
    assert info.value.reply == R.DSN_DISABLED


@pytest.mark.parametrize("value, result", [
    ("NEVER", {"NEVER"}), ("never", {"NEVER"}), ("SUCCESS,FAILURE,DELAY", {"SUCCESS", "FAILURE", "DELAY"}),
    ("NEVER,DELAY", None), ("", None), ("SUCCESS,", None), ("SOMETIMES", None),
])
def test_notify(value, result):
    assert parse_notify(value) == (None if result is None else frozenset(result))


def test_xtext():
    assert xtext_decode("a+2Bb+3D") == "a+b="
    assert xtext_decode("a+2") is None and xtext_decode("a+zz") is None and xtext_decode("a\x01") is None
    assert xtext_encode("a+b= c") == "a+2Bb+3D+20c"
    assert xtext_decode(xtext_encode("caf\u00e9 +=")) is not None


@pytest.mark.parametrize("arg, result", [
    ("100", (100, False, True)), ("100 LAST", (100, True, True)), ("0 last", (0, True, True)),
    ("100 FIRST", (100, False, False)), ("1 LAST x", (1, False, False)), ("", (None, False, False)),
    ("-1", (None, False, False)), ("1" * 30, (None, False, False)),
])
def test_parse_bdat(arg, result):
    assert parse_bdat(arg) == result


def test_ehlo_order_and_discards():
    full = ehlo_reply("h", starttls=True, auth_mechanisms=("PLAIN", "LOGIN"), broken_auth_clients=True)
    assert full.lines() == ["250-h", "250-PIPELINING", "250-SIZE 10240000", "250-VRFY", "250-ETRN", "250-STARTTLS",
                            "250-AUTH PLAIN LOGIN", "250-AUTH=PLAIN LOGIN", "250-ENHANCEDSTATUSCODES",
                            "250-8BITMIME", "250-DSN", "250-SMTPUTF8", "250 CHUNKING"]
    small = ehlo_reply("h", message_size_limit=0, vrfy=False, discard="silent-discard, DSN chunking Auth")
    assert small.lines() == ["250-h", "250-PIPELINING", "250-SIZE", "250-ETRN", "250-ENHANCEDSTATUSCODES",
                             "250-8BITMIME", "250 SMTPUTF8"]
    assert discard_set(["DSN", "x"]) == {"dsn", "x"}


def test_reply_constants_are_replies_and_echo_is_printable():
    for name in dir(R):
        if name.isupper():
            assert isinstance(getattr(R, name), Reply)
    assert R.printable("a\r\nb\x00c\u2028d") == "a??b?c?d"
    assert R.bare_lf("h", 521).lines() == ["521 5.5.2 h Error: bare <LF> received"]
    assert R.queued("Q", 5).lines() == ["250 2.0.0 Ok: 5 bytes queued as Q"]


def test_dot_encoder_stuffs_dots_and_ends_cleanly():
    assert dot_encode(b".a\r\n..b\nc\r\n.") == b"..a\r\n...b\r\nc\r\n..\r\n.\r\n"
    assert dot_encode(b"") == b".\r\n"
    enc = DotEncoder()
    assert enc.feed(b"x\r") + enc.feed(b"\n.y") + enc.end() == b"x\r\n..y\r\n.\r\n"


def test_decoder_refuses_bad_settings():
    with pytest.raises(ValueError):
        DotDecoder("sometimes")
    with pytest.raises(ValueError):
        DotDecoder(piece_limit=2)
