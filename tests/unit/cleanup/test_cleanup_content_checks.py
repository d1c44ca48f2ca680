"""header_checks, mime/nested header checks, body_checks and header address rewriting,
through the Submitter with an inline runtime (no reactor)."""

import os

import pytest

from pfx.address.rewrite import CanonSettings
from pfx.cleanup.checks import ContentChecks, reject_reply
from pfx.cleanup.mapping import Mappings
from pfx.envelope import Client, Envelope, Recipient
from pfx.errors import SubmitRejected
from pfx.queue.qid import QueueId
from pfx.tables.registry import Registry
from pfx.tables.types import builtin_types
from tests.unit.cleanup.cleanup_fakes import RecordingLog, make_submitter, result_of

SMTP = Client(name="client.example", addr="192.0.2.1", helo="helo.example",
              protocol="ESMTP")
LOCAL = Client(name="localhost", protocol="local")


@pytest.fixture
def regexp(tmp_path):
    registry = Registry(builtin_types(), warn=lambda m: None)

    def make(name, text):
        path = tmp_path / name
        path.write_text(text)
        return registry.open_list(f"regexp:{path}")
    return make


def submit(sub, content, *rcpts, sender="a@example.test", client=SMTP):
    env = Envelope(sender, tuple(Recipient(r) for r in rcpts or ("b@example.test",)),
                   client=client)
    w = sub.open_message(env)
    w.write(content)
    return w, w.commit()


def stored(sub, qid, queue="incoming"):
    with sub.store.open(queue, QueueId(qid)) as reader:
        return reader.info, b"".join(reader.iter_content())


def rejected(d):
    with pytest.raises(SubmitRejected) as info:
        result_of(d)
    return info.value.reply


def test_reject_reply_texts_as_header_checks_5_says():
    assert str(reject_reply("")) == "550 5.7.1 message content rejected"
    assert str(reject_reply("Spam")) == "550 5.7.1 Spam"
    assert str(reject_reply("4.7.1 later")) == "451 4.7.1 later"
    assert str(reject_reply("5.7.0 no")) == "550 5.7.0 no"
    # a 2.x.x status is no rejection: cleanup_act() makes it 4.x.x (a deferral)
    assert str(reject_reply("2.1.0 fine")) == "451 4.1.0 fine"


class _Table:
    def __init__(self, rules):
        self.rules = rules

    def lookup(self, key):
        return next((v for k, v in self.rules if key.startswith(k)), None)


def _checks(kind, rules):
    log = RecordingLog()
    tables = {"header": "header_checks", "mime": "mime_header_checks", "body": "body_checks"}
    return ContentChecks(**{tables[kind]: _Table(rules)}, log=log, queue_id="QID",
                         context=" from c[192.0.2.1];"), log


def test_actions_warn_and_log_as_cleanup_act_does():
    c, log = _checks("header", [("X-A", "REJECT 2.0.0 odd"), ("X-B", "PREPEND"),
                                ("X-C", "REPLACE"), ("X-D", "REDIRECT nobody"),
                                ("X-E", "BCC nobody"), ("X-F", "FILTER"), ("X-G", "FILTER nowhere"),
                                ("X-H", "FROB"), ("X-I", "PREPEND X-New: 1")])
    for name in "BCDEFGHI":
        c.check_header("header", f"X-{name}: v")
    assert c.check_header("mime", "X-B: v") is None  # no mime_header_checks table
    assert log.lines == [
        "warning: PREPEND action without text in header_checks map",
        "warning: REPLACE action without text in header_checks map",
        'warning: bad REDIRECT target "nobody" in header_checks map -- need user@domain',
        'warning: bad BCC address "nobody" in header_checks map -- need user@domain',
        "warning: missing FILTER command argument in header_checks map",
        "warning: bad FILTER command nowhere in header_checks -- need transport:destination",
        "warning: unknown command in header_checks map: FROB",
        "QID: prepend: header X-I: v from c[192.0.2.1];: X-New: 1",
    ]
    c.check_header("header", "X-A: v")
    assert str(c.reject) == "451 4.0.0 odd"
    assert log.lines[-2:] == ["warning: bad DSN action in 2.0.0 odd -- need 4.x.x or 5.x.x",
                              "QID: reject: header X-A: v from c[192.0.2.1];: 4.0.0 odd"]


def test_hold_is_logged_once_and_redirect_ends_inspection():
    c, log = _checks("body", [("hold", "HOLD"), ("go", "REDIRECT x@example.test"), ("bad", "REJECT")])
    for line in ("hold 1", "hold 2", "go", "bad"):
        c.check_body(line)
    assert c.hold and c.redirect == "x@example.test" and c.reject is None
    assert [line.split(":")[1] for line in log.lines] == [" hold", " redirect"]


def test_logged_line_is_cut_at_200_and_made_printable():
    c, log = _checks("header", [("Subject", "WARN w")])
    c.check_header("header", "Subject: a\tb\n " + "x" * 300)
    shown = log.lines[0].split(": warning: header ")[1].split(" from c[")[0]
    assert shown == ("Subject: a?b? " + "x" * 300)[:200]


def test_header_reject_reaches_the_submitter_and_is_logged_as_postfix(tmp_path, regexp):
    sub, log = make_submitter(
        tmp_path, header_checks=regexp("hc", "/^Subject: .*viagra/ REJECT\n"))
    w, d = submit(sub, b"From: a@example.test\r\nSubject: cheap viagra\r\n\r\nbody\r\n")
    assert str(rejected(d)) == "550 5.7.1 message content rejected"
    assert os.listdir(sub.store.queue_dir("incoming")) == []
    assert (f"{w.queue_id}: reject: header Subject: cheap viagra from client.example"
            "[192.0.2.1]; from=<a@example.test> to=<b@example.test> proto=ESMTP "
            "helo=<helo.example>: 5.7.1 message content rejected") in log.lines


def test_folded_headers_are_checked_as_one_logical_header(tmp_path, regexp):
    sub, log = make_submitter(tmp_path, header_checks=regexp("hc", "/^Subject:.*two/ REJECT Folded\n"))
    _, d = submit(sub, b"Subject: one\r\n two\r\n\r\nbody\r\n")
    assert str(rejected(d)) == "550 5.7.1 Folded"
    # Postfix logs the logical header as it is, its newline made printable as "?"
    assert any("header Subject: one? two from" in line for line in log.lines)


def test_warn_ignore_prepend_replace(tmp_path, regexp):
    rules = ("/^X-Spam: / WARN spammy\n"
             "/^X-Secret: / IGNORE\n"
             "/^Subject: (.*)/ REPLACE Subject: [ext] $1\n"
             "/^From: / PREPEND X-Seen: yes\n"
             "/^X-Bad: / REPLACE not a header\n")
    sub, log = make_submitter(tmp_path, header_checks=regexp("hc", rules))
    w, d = submit(sub, b"From: a@example.test\nX-Spam: 9\nX-Secret: s\nSubject: hi\n"
                  b"X-Bad: 1\n\nbody\n")
    qid = result_of(d)
    _, content = stored(sub, qid)
    assert content == (b"X-Seen: yes\nFrom: a@example.test\nX-Spam: 9\n"
                       b"Subject: [ext] hi\nX-Bad: 1\n\nbody\n")
    assert any(line.startswith(f"{qid}: warning: header X-Spam: 9 from client.example")
               and line.endswith(": spammy") for line in log.lines)
    assert any("bad REPLACE header text" in line for line in log.lines)


def test_hold_puts_the_file_in_hold_and_does_not_kick_qmgr(tmp_path, regexp):
    kicks = []
    sub, log = make_submitter(tmp_path, kick=lambda: kicks.append(1),
                              header_checks=regexp("hc", "/^Subject: hold/ HOLD check me\n"))
    sub.store.check(repair=True)
    _, d = submit(sub, b"Subject: hold me\n\nbody\n")
    qid = result_of(d)
    assert os.listdir(sub.store.queue_dir("incoming")) == []
    assert sub.store.find(QueueId(qid)) == "hold"
    assert kicks == []
    assert any(f"{qid}: hold: header Subject: hold me" in line for line in log.lines)


def test_discard_claims_success_and_keeps_nothing(tmp_path, regexp):
    sub, log = make_submitter(tmp_path, body_checks=regexp("bc", "/^drop me/ DISCARD\n"))
    _, d = submit(sub, b"Subject: x\n\nline\ndrop me now\n")
    qid = result_of(d)
    assert sub.store.find(QueueId(qid)) is None
    assert any(f"{qid}: discard: body drop me now" in line for line in log.lines)


def test_bcc_filter_redirect_are_recorded_in_the_extracted_segment(tmp_path, regexp):
    rules = ("/^X-Copy: / BCC copy@example.test\n"
             "/^X-Filter: / FILTER smtp:[127.0.0.1]:10024\n"
             "/^X-Redirect: / REDIRECT other@example.test\n")
    sub, _ = make_submitter(tmp_path, header_checks=regexp("hc", rules))
    _, d = submit(sub, b"X-Copy: 1\nX-Filter: 1\nX-Redirect: 1\n\nbody\n")
    info, _ = stored(sub, result_of(d))
    assert [r.address for r in info.recipients] == ["b@example.test", "copy@example.test"]
    assert [r.notify for r in info.recipients][1] == frozenset({"NEVER"})
    attrs = dict(getattr(info, "attributes", ()) or ())
    assert attrs.get("content_filter") == "smtp:[127.0.0.1]:10024"
    assert attrs.get("redirect") == "other@example.test"


def test_submitters_content_filter_is_an_envelope_attribute_a_filter_overrides(tmp_path,
                                                                              regexp):
    sub, _ = make_submitter(tmp_path, header_checks=regexp(
        "hc", "/^X-Filter: / FILTER scan:[127.0.0.1]:10025\n"))
    env = Envelope("a@example.test", (Recipient("b@example.test"),), client=SMTP)
    w = sub.open_message(env, content_filter="smtp:[127.0.0.1]:10024")
    w.write(b"Subject: plain\n\nbody\n")
    info, _ = stored(sub, result_of(w.commit()))
    assert [(n, v) for n, v in info.attributes if n == "content_filter"] == [
        ("content_filter", "smtp:[127.0.0.1]:10024")]
    w = sub.open_message(env, content_filter="smtp:[127.0.0.1]:10024")
    w.write(b"X-Filter: yes\n\nbody\n")
    info, _ = stored(sub, result_of(w.commit()))
    # both are kept; the extracted segment's comes last, and qmgr takes the last one
    assert [v for n, v in info.attributes if n == "content_filter"] == [
        "smtp:[127.0.0.1]:10024", "scan:[127.0.0.1]:10025"]
    _, d = submit(sub, b"Subject: plain\n\nbody\n")  # no content_filter: none recorded
    info, _ = stored(sub, result_of(d))
    assert not [n for n, _ in info.attributes if n == "content_filter"]


def test_body_checks_prepend_replace_ignore_and_size_limit(tmp_path, regexp):
    rules = "/^secret/ IGNORE\n/^old (.*)/ REPLACE new $1\n/^late/ REJECT too late\n"
    sub, _ = make_submitter(tmp_path, body_checks=regexp("bc", rules), body_checks_size_limit=40)
    _, d = submit(sub, b"Subject: x\n\nsecret\nold text\n" + b"x" * 40 + b"\nlate\n")
    _, content = stored(sub, result_of(d))
    assert content == b"Subject: x\n\nnew text\n" + b"x" * 40 + b"\nlate\n"


MIME = (b"From: a@example.test\nMIME-Version: 1.0\n"
        b"Content-Type: multipart/mixed; boundary=\"BOUND\"\n\n"
        b"preamble\n--BOUND\nContent-Type: text/plain\n\nhello\n"
        b"--BOUND\nContent-Type: message/rfc822\nContent-Disposition: attachment;\n"
        b" filename=\"x.eml\"\n\n"
        b"From: inner@example.test\nSubject: inner subject\n\ninner body\n"
        b"--BOUND--\nepilogue\n")


def test_mime_and_nested_header_checks_see_the_right_headers():
    seen = []
    checks = ContentChecks(header_checks=_Tag("header", seen),
                           mime_header_checks=_Tag("mime", seen),
                           nested_header_checks=_Tag("nested", seen),
                           body_checks=_Tag("body", seen))
    from pfx.cleanup.headers import HeaderPass, HeaderPolicy
    hp = HeaderPass(HeaderPolicy(myhostname="h", add_missing=False), "Q", 0.0, checks)
    out = hp.feed(MIME) + hp.finish()
    assert out == MIME
    assert ("header", "From: a@example.test") in seen
    assert ("mime", "Content-Type: multipart/mixed; boundary=\"BOUND\"") in seen
    assert ("mime", "Content-Disposition: attachment;\n filename=\"x.eml\"") in seen
    assert ("nested", "Subject: inner subject") in seen
    assert ("body", "--BOUND") in seen and ("body", "inner body") in seen
    assert ("body", "Content-Type: text/plain") not in seen
    assert ("header", "Subject: inner subject") not in seen


class _Tag:
    """A table that records (its class, the key) and matches nothing."""

    def __init__(self, tag, seen):
        self.tag, self.seen = tag, seen

    def lookup(self, key):
        self.seen.append((self.tag, key))
        return None


def test_mime_nesting_is_bounded():
    from pfx.cleanup.mime import MimeTracker
    t = MimeTracker(nesting_limit=2)
    for i in range(5):
        t.header("Content-Type", f'multipart/mixed; boundary="b{i}"')
        t.end_of_headers()
    assert len(t.boundaries) == 2 and t.nesting_exceeded


def test_time_budget_stops_inspection():
    ticks = iter(range(0, 1000, 5))

    class Always:
        def lookup(self, key):
            return "WARN x"
    checks = ContentChecks(body_checks=Always(), time_limit=8, timer=lambda: next(ticks))
    assert checks.check_body("a") is None and not checks._out_of_time
    checks.check_body("b")
    assert checks._out_of_time
    assert checks.check_body("c") is None


# -- header address rewriting ---------------------------------------------------------

def test_local_headers_are_rewritten_keeping_display_names_and_comments(tmp_path):
    registry = Registry(builtin_types(), warn=lambda m: None)
    m = Mappings(canonical_maps=registry.open_list(
        "inline:{joe@example.test=Joe.User@example.test}"),
        masquerade_domains=("example.test",), local_domains=frozenset({"example.test"}))
    sub, _ = make_submitter(tmp_path, mappings=m)
    _, d = submit(sub, b'From: "Joe, the user" <joe> (home)\n'
                       b"To: friends: ann@host.example.test, bob;, \"x y\"@example.test\n"
                       b"Reply-To: <@relay.test,@other.test:joe>\n"
                       b"Subject: =?UTF-8?B?w6k=?= \xc3\xa9\n\nbody\n", client=LOCAL)
    _, content = stored(sub, result_of(d))
    head = content.split(b"\n\n")[0]
    assert b'From: "Joe, the user" <Joe.User@example.test> (home)\n' in head + b"\n"
    assert b'To: friends: ann@example.test, bob@example.test;, "x y"@example.test' in head
    assert b"Subject: =?UTF-8?B?w6k=?= \xc3\xa9" in head
    # a source route is stripped and the address rewritten, as trivial-rewrite does
    assert b"Reply-To: <Joe.User@example.test>\n" in head + b"\n"


def test_remote_headers_are_left_alone_without_remote_header_rewrite_domain(tmp_path):
    sub, _ = make_submitter(tmp_path)
    _, d = submit(sub, b"From: joe\nTo: ann\n\nbody\n")
    _, content = stored(sub, result_of(d))
    assert content == b"From: joe\nTo: ann\n\nbody\n"
    sub, _ = make_submitter(tmp_path / "2",
                            remote_canon=CanonSettings.remote("remote.test"))
    _, d = submit(sub, b"From: joe\nTo: ann@x.test\n\nbody\n")
    _, content = stored(sub, result_of(d))
    assert content == b"From: joe@remote.test\nTo: ann@x.test\n\nbody\n"


# -- the examples of header_checks(5) ---------------------------------------------------

ATTACHMENT_RULE = r'''/^Content-(Disposition|Type).*name\s*=\s*"?([^;]*(\.|=2E)(
  ade|adp|asp|bas|bat|chm|cmd|com|cpl|crt|dll|exe|
  hlp|ht[at]|
  inf|ins|isp|jse?|lnk|md[betw]|ms[cipt]|nws|
  \{[[:xdigit:]]{8}(?:-[[:xdigit:]]{4}){3}-[[:xdigit:]]{12}\}|
  ops|pcd|pif|prf|reg|sc[frt]|sh[bsm]|swf|
  vb[esx]?|vxd|ws[cfh]))(\?=)?"?\s*(;|$)/x
    REJECT Attachment name "$2" may not end with ".$4"
'''


def test_man_page_attachment_example_via_mime_header_checks(tmp_path):
    registry = Registry(builtin_types(), warn=lambda m: None)
    (tmp_path / "hc.pcre").write_text(ATTACHMENT_RULE)
    table = registry.open_list(f"pcre:{tmp_path}/hc.pcre")
    # mime_header_checks defaults to $header_checks: the part header is what matches
    sub, log = make_submitter(tmp_path / "q", header_checks=table, mime_header_checks=table)
    msg = (b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
           b"Content-Type: application/octet-stream; name=\"run.exe\"\n\nTVqQ\n--b--\n")
    _, d = submit(sub, msg)
    assert str(rejected(d)) == '550 5.7.1 Attachment name "run.exe" may not end with ".exe"'
    assert any(": reject: header Content-Type: application/octet-stream;" in line
               for line in log.lines)


def test_man_page_iframe_body_example(tmp_path, regexp):
    rule = ("/^<iframe src=(3D)?cid:.* height=(3D)?0 width=(3D)?0>$/\n"
            "    REJECT IFRAME vulnerability exploit\n")
    sub, log = make_submitter(tmp_path, body_checks=regexp("bc", rule))
    _, d = submit(sub, b"Subject: x\r\n\r\nhi\r\n<iframe src=3Dcid:AA height=3D0 width=3D0>\r\n")
    assert str(rejected(d)) == "550 5.7.1 IFRAME vulnerability exploit"
    assert any(": reject: body <iframe src=3Dcid:AA height=3D0 width=3D0> from "
               "client.example[192.0.2.1]; from=<a@example.test>" in line for line in log.lines)


def test_encoded_words_are_matched_as_written_not_decoded(tmp_path, regexp):
    rules = "/^Subject: =\\?UTF-8\\?B\\?/ WARN encoded\n/^X-Raw: caf\u00e9/ REJECT 8bit\n"
    sub, log = make_submitter(tmp_path, header_checks=regexp("hc", rules))
    _, d = submit(sub, b"Subject: =?UTF-8?B?Y2Fmw6k=?=\nX-Raw: caf\xc3\xa9\n\nbody\n")
    assert str(rejected(d)) == "550 5.7.1 8bit"
    assert any("warning: header Subject: =?UTF-8?B?Y2Fmw6k=?=" in line for line in log.lines)


def test_checked_output_does_not_depend_on_chunking():
    from pfx.cleanup.headers import HeaderPass, HeaderPolicy

    class Rules:
        def lookup(self, key):
            if key.startswith("Content-Disposition"):
                return "PREPEND X-Att: yes"
            return "REPLACE INNER" if key == "inner body" else None

    def run(sizes):
        checks = ContentChecks(header_checks=Rules(), mime_header_checks=Rules(),
                               nested_header_checks=Rules(), body_checks=Rules())
        hp = HeaderPass(HeaderPolicy(myhostname="h", add_missing=False), "Q", 0.0, checks)
        data, out, i = MIME.replace(b"\n", b"\r\n"), [], 0
        while i < len(data):
            out.append(hp.feed(data[i:i + sizes]))
            i += sizes
        return b"".join(out) + hp.finish()
    whole = run(10**6)
    assert b"X-Att: yes\nContent-Disposition" in whole and b"\nINNER\n" in whole
    for size in (1, 2, 3, 7, 64):
        assert run(size) == whole


def test_a_non_header_line_that_ends_the_headers_is_body_content(tmp_path, regexp):
    sub, _ = make_submitter(tmp_path, body_checks=regexp("bc", "/^not a header/ REJECT body\n"))
    _, d = submit(sub, b"Subject: x\nnot a header line\nmore\n")
    assert str(rejected(d)) == "550 5.7.1 body"


def submit_with_actions(sub, actions, content=b"Subject: x\n\nbody\n"):
    env = Envelope("a@example.test", (Recipient("b@example.test"),), client=SMTP, actions=actions)
    w = sub.open_message(env)
    w.write(content)
    return w.commit()


def test_envelope_hold_action_puts_the_file_in_hold(tmp_path):
    kicks = []
    sub, _ = make_submitter(tmp_path, kick=lambda: kicks.append(1))
    sub.store.check(repair=True)
    qid = result_of(submit_with_actions(sub, [("hold", "")]))
    assert sub.store.find(QueueId(qid)) == "hold"
    assert kicks == []


def test_envelope_discard_action_keeps_nothing(tmp_path):
    sub, _ = make_submitter(tmp_path)
    qid = result_of(submit_with_actions(sub, [("discard", "bye")]))
    assert sub.store.find(QueueId(qid)) is None


def test_envelope_bcc_filter_redirect_actions_reach_the_extracted_segment(tmp_path):
    sub, _ = make_submitter(tmp_path)
    d = submit_with_actions(sub, [("bcc", "copy@example.test"), ("filter", "smtp:[127.0.0.1]:10024"),
                                  ("redirect", "other@example.test")])
    info, _ = stored(sub, result_of(d))
    assert [r.address for r in info.recipients] == ["b@example.test", "copy@example.test"]
    attrs = dict(getattr(info, "attributes", ()) or ())
    assert attrs.get("content_filter") == "smtp:[127.0.0.1]:10024"
    assert attrs.get("redirect") == "other@example.test"


def test_unknown_envelope_action_is_warned_about(tmp_path):
    sub, log = make_submitter(tmp_path)
    result_of(submit_with_actions(sub, [("explode", "x")]))
    assert any("unknown submitter action 'explode'" in line for line in log.lines)


def test_late_actions_given_with_commit_apply_like_the_envelope_s(tmp_path):
    sub, _ = make_submitter(tmp_path)
    sub.store.check(repair=True)

    def submit_late(actions):
        w = sub.open_message(Envelope("a@example.test", (Recipient("b@example.test"),), client=SMTP))
        w.write(b"Subject: x\n\nbody\n")
        return result_of(w.commit(actions))
    info, _ = stored(sub, submit_late((("bcc", "copy@example.test"),)))
    assert [r.address for r in info.recipients] == ["b@example.test", "copy@example.test"]
    assert sub.store.find(QueueId(submit_late((("hold", ""),)))) == "hold"


def test_pass_is_logged_and_ends_inspection():
    c, log = _checks("body", [("trusted", "PASS from a friend"), ("bad", "REJECT")])
    c.check_body("trusted line")
    c.check_body("bad")
    assert c.reject is None
    assert log.lines == ["QID: pass: body trusted line from c[192.0.2.1];: from a friend"]


def test_table_problem_names_the_map():
    from pfx.errors import TableRetry

    class Failing:
        def lookup(self, key):
            raise TableRetry("down")

    log = RecordingLog()
    c = ContentChecks(body_checks=Failing(), log=log, queue_id="QID")
    c.check_body("x")
    assert str(c.reject) == "451 4.3.0 Error: queue file write error"
    assert log.lines == ["warning: QID: body_checks map lookup problem -- message not accepted, try again later"]


def test_a_submitter_redirect_does_not_end_inspection():
    c, log = _checks("body", [("bad", "REJECT")])
    c.apply_submitter_actions([("redirect", "x@example.test")])
    c.check_body("bad")
    assert c.reject is not None


def test_body_checks_see_lines_that_start_within_the_limit_and_never_empty_lines():
    c, log = _checks("body", [("x", "WARN long"), ("", "WARN empty")])
    c.body_size_limit = 10
    c.check_body("")  # offset 0, never looked up
    c.check_body("x" * 20)  # starts at offset 1 < 10: checked although it ends past it
    c.check_body("x")  # starts at offset 22: not checked
    assert [line.rsplit(": ", 1)[1] for line in log.lines] == ["long"]
