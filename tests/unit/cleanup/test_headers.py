"""cleanup's header pass: missing headers, dropped headers, hops, bounds, chunking."""

import re

from hypothesis import given, settings, strategies as st

from pfx.cleanup.headers import TOO_MANY_HOPS, HeaderPass, HeaderPolicy, mail_date

NOW = 1795599353.0  # 2026-11-25 09:35:53 UTC


def run(content, chunks=None, **kw):
    policy = HeaderPolicy(**{"myhostname": "mx.example.test", "add_missing": False, **kw})
    hp = HeaderPass(policy, "4dYQ2kz1xWbq", NOW)
    pieces = [content] if chunks is None else chunks
    out = b"".join(hp.feed(p) for p in pieces) + hp.finish()
    return out, hp


def test_remote_message_passes_with_crlf_normalized_and_drop_headers_removed():
    out, hp = run(b"Subject: hi\r\nBcc: secret@example.test\r\nReturn-Path: <x@y>\r\n"
                  b"Content-Length: 12\r\n\r\nbody line\r\n.dot\r\n")
    assert out == b"Subject: hi\n\nbody line\n.dot\n"
    assert hp.seen == {"subject"}


def test_local_submission_gets_date_message_id_and_from():
    out, hp = run(b"Subject: hi\n\nbody\n", add_missing=True, from_address="bob@mx.example.test",
                  full_name="Bob B. Smith")
    head = out.split(b"\n\n")[0].decode()
    assert head.splitlines() == [
        "Subject: hi", f"Date: {mail_date(NOW)}", "Message-Id: <4dYQ2kz1xWbq@mx.example.test>",
        'From: "Bob B. Smith" <bob@mx.example.test>']
    assert hp.message_id == "<4dYQ2kz1xWbq@mx.example.test>"
    assert out.endswith(b"\n\nbody\n")


def test_existing_headers_are_not_duplicated_and_resent_forms_are_used():
    out, _ = run(b"From: a@b\nDate: x\nMessage-ID: <m@b>\nResent-From: c@d\n\nb\n",
                 add_missing=True, from_address="bob@h")
    head = out.split(b"\n\n")[0].decode().splitlines()
    assert head[:4] == ["From: a@b", "Date: x", "Message-ID: <m@b>", "Resent-From: c@d"]
    assert [h.split(":")[0] for h in head[4:]] == ["Resent-Date", "Resent-Message-Id"]


def test_short_queue_ids_get_a_timestamped_message_id():
    out, _ = run(b"\nbody\n", add_missing=True, long_queue_ids=False)
    assert re.search(rb"Message-Id: <\d{14}\.4dYQ2kz1xWbq@mx\.example\.test>", out)


def test_date_format():
    assert re.match(r"^[A-Z][a-z]{2}, [ 1-3]\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4} \(\w+\)$",
                    mail_date(NOW))


def test_too_many_hops():
    out, hp = run(b"Received: x\n" * 51 + b"\nbody\n")
    assert hp.verdict == TOO_MANY_HOPS and hp.hops == 51
    assert str(TOO_MANY_HOPS) == "554 5.4.0 Error: too many hops"
    _, hp = run(b"Received: x\n" * 50 + b"\nbody\n")
    assert hp.verdict is None


def test_a_huge_header_is_cut_at_header_size_limit():
    folded = b"X-Big: " + b"a" * 500 + b"\n" + b"\tb" * 10_000 + b"\n"
    out, _ = run(folded + b"Subject: s\n\nbody\n", header_size_limit=1000)
    big, rest = out.split(b"\nSubject: s\n")
    assert len(big) <= 1000 and big.startswith(b"X-Big: aaa")
    assert rest == b"\nbody\n"


def test_headers_end_at_a_non_header_line():
    out, hp = run(b"Subject: s\nthis is body\nFrom: not a header\n")
    assert out == b"Subject: s\nthis is body\nFrom: not a header\n"
    assert hp.in_body and "from" not in hp.seen


def test_message_without_body_or_final_newline():
    out, _ = run(b"Subject: s", add_missing=True, from_address="a@b")
    assert out.startswith(b"Subject: s\nDate: ") and out.endswith(b"From: a@b\n")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"Subject: a", b"\tcont", b"Received: r", b"", b"body",
                                 b"Bcc: x", b"From: f", b" lead", b"x\r", b"\r"]),
                max_size=30),
       st.lists(st.integers(min_value=0, max_value=400), max_size=8),
       st.sampled_from([b"\n", b"\r\n"]))
def test_chunking_does_not_change_the_output(lines, cuts, eol):
    content = eol.join(lines) + eol
    whole, _ = run(content, add_missing=True, from_address="a@b")
    points = sorted({c % (len(content) + 1) for c in cuts})
    chunks = [content[i:j] for i, j in zip([0] + points, points + [len(content)])]
    pieced, _ = run(content, chunks=chunks, add_missing=True, from_address="a@b")
    assert pieced == whole
