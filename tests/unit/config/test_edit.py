"""pfx.config.edit: postconf -e/-X/-# and master.cf row edits keep every other byte."""

from hypothesis import given, settings as hsettings, strategies as st

from pfx.config import edit, maincf

TEXT = """\
# top comment
myorigin = q
  r # not a comment
# between
  s
relay_domains=a

foo = 1
"""


def test_set_replaces_logical_line_and_keeps_interleaved_comments():
    text, multiple = edit.set_params(TEXT, [("myorigin", "new  val"), ("relay_domains", "b")])
    assert text == ("# top comment\nmyorigin = new  val\n# between\nrelay_domains = b\n"
                    "\nfoo = 1\n")
    assert multiple == []


def test_set_appends_new_names_in_order_and_ends_the_last_line():
    text, _ = edit.set_params("a = 1", [("z", "1"), ("y", "")])
    assert text == "a = 1\nz = 1\ny = \n"
    assert edit.set_params("", [("a", "1")])[0] == "a = 1\n"


def test_set_every_occurrence_and_report_it():
    text, multiple = edit.set_params("a = 1\nb = 2\na = 3\n", [("a", "9")])
    assert text == "a = 9\nb = 2\na = 9\n"
    assert multiple == ["a"]


def test_crlf_line_endings_are_kept():
    assert edit.set_params("a = 1\r\nb = 2\r\n", [("a", "3")])[0] == "a = 3\r\nb = 2\r\n"


def test_remove_and_comment_out():
    assert edit.remove_params(TEXT, ["myorigin", "nosuch"]) == (
        "# top comment\n# between\nrelay_domains=a\n\nfoo = 1\n", [])
    assert edit.comment_out_params(TEXT, ["myorigin"])[0] == (
        "# top comment\n#myorigin = q\n#  r # not a comment\n# between\n#  s\n"
        "relay_domains=a\n\nfoo = 1\n")


def test_name_prefix_does_not_match():
    assert edit.remove_params("ab = 1\na = 2\n", ["a"])[0] == "ab = 1\n"


# -- Hypothesis: an edit touches only the edited name's lines -------------------------

NAMES = ("a", "b", "ab")
VALUE = st.text(alphabet="xy $={}#\t", max_size=6).map(str.strip)
LINE = st.one_of(
    st.builds(lambda n, v, sep: f"{n}{sep}{v}", st.sampled_from(NAMES), VALUE,
              st.sampled_from([" = ", "=", "\t= "])),
    st.builds(lambda v: "  cont" + v, VALUE),
    st.sampled_from(["# comment", "", "   ", "\t# indented comment", "#a = 1"]),
)
FILE = st.builds(lambda lines, end: "\n".join(["# head"] + lines) + end,
                 st.lists(LINE, max_size=12), st.sampled_from(["\n", ""]))


def members_of(text, name):
    """The physical lines of ``name``'s logical lines, and the first line of each."""
    lines = text.splitlines(keepends=True)
    found, firsts = set(), set()
    for start, members in edit.blocks(lines):
        if edit.main_name(lines[start]) == name:
            found.update(members)
            firsts.add(start)
    return lines, found, firsts


@hsettings(max_examples=300, deadline=None)
@given(FILE, st.sampled_from(NAMES), VALUE)
def test_set_and_remove_keep_every_other_line_byte_identical(text, name, value):
    lines, members, firsts = members_of(text, name)
    removed, _ = edit.remove_params(text, [name])
    assert removed == "".join(line for i, line in enumerate(lines) if i not in members)
    expected = []
    for i, line in enumerate(lines):
        if i in firsts:
            expected.append(f"{name} = {value}" + (line[len(line.rstrip("\n")):] or "\n"))
        elif i not in members:
            expected.append(line)
    if not members:
        if expected and not expected[-1].endswith("\n"):
            expected[-1] += "\n"
        expected.append(f"{name} = {value}\n")
    new, _ = edit.set_params(text, [(name, value)])
    assert new == "".join(expected)
    before, after = maincf.parse(text).entries, maincf.parse(new).entries
    assert after[name].value == value
    assert {k: e.value for k, e in after.items() if k != name} == \
        {k: e.value for k, e in before.items() if k != name}


@hsettings(max_examples=200, deadline=None)
@given(FILE, st.sampled_from(NAMES))
def test_comment_out_only_prefixes_the_named_lines(text, name):
    lines, members, _ = members_of(text, name)
    new, _ = edit.comment_out_params(text, [name])
    assert new.splitlines(keepends=True) == [
        "#" + line if i in members else line for i, line in enumerate(lines)]
    assert name not in maincf.parse(new).entries


# -- master.cf -----------------------------------------------------------------------

MASTER = """\
# head
submission inet n - y - - smtpd
  -o syslog_name=postfix/submission
# mid comment
  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }
x unix - n n - - pipe argv=/bin/echo { a b } c
"""


def test_format_row_matches_postconf_m():
    words = ["scalemail-backend", "unix", "-", "n", "n", "-", "2", "pipe", "flags=R"]
    assert edit.format_row(words) == \
        "scalemail-backend unix - n       n       -       2       pipe flags=R"
    words = ["postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"]
    assert edit.format_row(words) == \
        "postlog    unix-dgram n  -       n       -       1       postlogd"


def test_format_row_quotes_and_folds_like_postconf():
    rows = {key: words for key, words, _ in edit.master_rows(MASTER)}
    assert edit.format_row(rows["submission/inet"]) == (
        "submission inet  n       -       y       -       -       smtpd -o "
        "syslog_name=postfix/submission -o {smtpd_client_restrictions="
        "permit_sasl_authenticated, reject}")
    assert edit.format_row(rows["submission/inet"], fold=True) == (
        "submission inet  n       -       y       -       -       smtpd\n"
        "    -o syslog_name=postfix/submission\n"
        "    -o {smtpd_client_restrictions=permit_sasl_authenticated, reject}")
    assert edit.format_row(rows["x/unix"], fold=True) == (
        "x          unix  -       n       n       -       -       pipe argv=/bin/echo\n"
        "    {a b} c")


def test_master_row_replace_append_remove():
    new = edit.set_master_row(MASTER, "submission/inet", "submission inet n - n - - smtpd")
    assert new == ("# head\nsubmission inet n - n - - smtpd\n# mid comment\n"
                   "x unix - n n - - pipe argv=/bin/echo { a b } c\n")
    first = edit.set_master_row(MASTER, "submission/inet", "S", comments_first=True)
    assert first.splitlines()[1:3] == ["# mid comment", "S"]
    assert edit.set_master_row("a unix - - n - - local", "b/unix", "B").endswith("local\nB\n")
    assert edit.remove_master_row(MASTER, "x/unix") == MASTER.rsplit("x unix", 1)[0]
    assert edit.remove_master_row(MASTER, "x/inet") == MASTER


def test_set_override_and_field():
    words = ["a", "unix", "-", "-", "n", "-", "-", "local", "-o", "x=1", "-o", "y=2", "arg"]
    assert edit.set_override(words, "x", "9")[8:] == ["-o", "x=9", "-o", "y=2", "arg"]
    assert edit.set_override(words, "z", "3")[8:] == ["-o", "x=1", "-o", "y=2", "-o", "z=3",
                                                     "arg"]
    assert edit.set_override(words, "y", None)[8:] == ["-o", "x=1", "arg"]
    assert edit.set_override(words[:8], "z", "3")[8:] == ["-o", "z=3"]
    assert edit.set_field(words, "chroot", "y")[4] == "y"
    assert edit.set_field(words, "command", "smtp -v")[7:] == ["smtp", "-v"]
