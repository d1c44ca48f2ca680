"""pfx postmap / postalias / newaliases: flags, exit statuses, messages, atomic rebuilds."""

import io
import os
import stat

import pytest

from pfx.cli import postalias, postmap
from pfx.tables.indexed import IndexedTable


def run(program_cls, argv, stdin=""):
    out, err = io.StringIO(), io.StringIO()
    status = program_cls(stdin=io.StringIO(stdin), stdout=out, stderr=err).run(argv)
    return status, out.getvalue(), err.getvalue()


def pm(argv, stdin=""):
    return run(postmap.Program, argv, stdin)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "access"
    path.write_text("Example.COM OK\nuser@example.com REJECT\ndup one\ndup two\n")
    return path


def test_build_and_query(source):
    status, out, err = pm([f"hash:{source}"])
    assert (status, out) == (0, "")
    assert 'duplicate entry: "dup"' in err and err.startswith("postmap: warning: ")
    assert pm(["-q", "EXAMPLE.com", f"hash:{source}"])[:2] == (0, "OK\n")
    assert pm(["-q", "dup", f"hash:{source}"])[:2] == (0, "one\n")
    assert pm(["-q", "nothing", f"hash:{source}"])[:2] == (1, "")


def test_default_type_comes_from_main_cf(source, tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "main.cf").write_text("default_database_type = btree\n")
    assert pm(["-c", str(conf), str(source)])[0] == 0
    assert IndexedTable(f"{source}.db", "btree").lookup("example.com") == "OK"
    assert postmap.config_value(str(conf), "default_database_type", "hash") == "btree"
    assert postmap.config_value(str(tmp_path / "none"), "default_database_type", "hash") == "hash"


def test_query_from_stdin_and_several_maps(source, tmp_path):
    pm([f"hash:{source}"])
    status, out, _ = pm(["-q", "-", f"hash:{source}", "inline:{extra=yes}"],
                        stdin="nothing\nexample.com\nextra\n")
    assert (status, out) == (0, "example.com\tOK\nextra\tyes\n")
    assert pm(["-q", "-", f"hash:{source}"], stdin="none\n")[0] == 1


def test_header_and_body_query_modes(tmp_path):
    rules = tmp_path / "checks"
    rules.write_text("/^subject: (.*)/ S=$1\n/^x-long: a\\nb/ LONG\n/^body/ B\n")
    message = "Subject: hi\nX-Long: a\n b\n\nbody line\n"
    status, out, _ = pm(["-h", "-q", "-", f"regexp:{rules}"], stdin=message)
    assert (status, out) == (0, "Subject: hi\tS=hi\n")
    assert pm(["-b", "-q", "-", f"regexp:{rules}"], stdin=message)[1] == "body line\tB\n"
    status, out, _ = pm(["-hb", "-q", "-", f"pcre:{rules}"], stdin=message)
    assert out.splitlines()[-1] == "body line\tB"


def test_show_delete_and_incremental(source):
    pm([f"hash:{source}"])
    assert pm(["-s", f"hash:{source}"])[1] == \
        "dup\tone\nexample.com\tOK\nuser@example.com\tREJECT\n"
    assert pm(["-d", "DUP", f"hash:{source}"])[0] == 0
    assert pm(["-d", "dup", f"hash:{source}"])[0] == 1
    assert pm(["-d", "-", f"hash:{source}"], stdin="nope\nexample.com\n")[0] == 0
    status, _, err = pm(["-i", f"hash:{source}"], stdin="new value\nuser@example.com OTHER\n")
    assert status == 0 and 'duplicate entry: "user@example.com"' in err
    assert pm(["-s", f"hash:{source}"])[1] == "new\tvalue\nuser@example.com\tREJECT\n"
    assert pm(["-i", "-r", f"hash:{source}"], stdin="new changed\n")[0] == 0
    assert pm(["-q", "new", f"hash:{source}"])[1] == "changed\n"
    status, _, err = pm(["-i", "-w", f"hash:{source}"], stdin="new ignored\n")
    assert (status, err) == (0, "")
    assert pm(["-q", "new", f"hash:{source}"])[1] == "changed\n"


def test_replace_and_no_fold(source):
    status, _, err = pm(["-r", f"hash:{source}"])
    assert (status, err) == (0, "")
    assert pm(["-q", "dup", f"hash:{source}"])[1] == "two\n"
    pm(["-f", f"hash:{source}"])
    assert pm(["-f", "-q", "Example.COM", f"hash:{source}"])[1] == "OK\n"
    assert pm(["-f", "-q", "example.com", f"hash:{source}"])[0] == 1


def test_permissions_follow_the_source_unless_p(source):
    os.chmod(source, 0o600)
    pm([f"hash:{source}"])
    assert stat.S_IMODE(os.stat(f"{source}.db").st_mode) == 0o600
    pm(["-p", f"hash:{source}"])
    assert stat.S_IMODE(os.stat(f"{source}.db").st_mode) == 0o644


def test_syntax_error_names_file_and_line_and_keeps_old_db(source):
    pm([f"hash:{source}"])
    before = open(f"{source}.db", "rb").read()
    source.write_text("good value\nbroken\n")
    status, _, err = pm([f"hash:{source}"])
    assert status == 1
    assert err == f"postmap: fatal: {source}, line 2: expected format: key whitespace value\n"
    assert open(f"{source}.db", "rb").read() == before


@pytest.mark.parametrize("argv,message", [
    (["-q", "k", "nosuch:/x"], "unsupported dictionary type: nosuch"),
    (["-q", "k", "hash:/nonexistent/x"], "open database /nonexistent/x.db: No such file"),
    (["-q", "k", "fail:x"], "table fail:x: query error: Application error"),
    (["/nonexistent/src"], "open /nonexistent/src: No such file"),
    (["regexp:/x"], "unsupported map type for this operation: regexp"),
    (["-s", "regexp:{ {/a/ b} }"], "sequence operation is not supported"),
    (["-F", "hash:/x"], "-F"),
    (["-Z", "hash:/x"], "usage"),
    ([], "usage"),
    (["-q", "a", "-s", "hash:/x"], "only one of"),
])
def test_errors_exit_2_with_a_fatal_message(argv, message):
    status, _, err = pm(argv)
    assert status == 2
    assert err.startswith("postmap: fatal: ") and message in err


def test_refuses_a_berkeley_db_file(source):
    open(f"{source}.db", "wb").write(b"\0" * 4096)
    status, _, err = pm(["-q", "x", f"hash:{source}"])
    assert status == 2 and "not a pfx table" in err


def test_open_table_follows_a_rebuild(source):
    pm([f"hash:{source}"])
    table = IndexedTable(f"{source}.db", "hash")
    assert table.lookup("example.com") == "OK"
    source.write_text("example.com CHANGED\n")
    pm([f"hash:{source}"])
    assert table.lookup("example.com") == "CHANGED"
    assert not [p for p in os.listdir(source.parent) if p.endswith(".tmp")]


def test_postalias(tmp_path):
    aliases = tmp_path / "aliases"
    aliases.write_text('Root: Admin@Example.COM,  bob\n"a user": x\nlist: a,\n  b\n')
    status, _, err = run(postalias.PostaliasProgram, [f"hash:{aliases}"])
    assert (status, err) == (0, "")
    status, out, _ = run(postalias.PostaliasProgram, ["-s", f"hash:{aliases}"])
    assert out == "a user:\tx\nlist:\ta, b\nroot:\tAdmin@Example.COM, bob\n"
    assert run(postalias.PostaliasProgram, ["-q", "ROOT", f"hash:{aliases}"])[1] == \
        "Admin@Example.COM, bob\n"
    aliases.write_text("good: x\nbad line\n")
    status, _, err = run(postalias.PostaliasProgram, [f"hash:{aliases}"])
    assert status == 1 and err == f"postalias: fatal: {aliases}, line 2: need name:value pair\n"


def test_newaliases_builds_every_alias_database(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_text("a: b\n")
    two.write_text("c: d\n")
    (tmp_path / "main.cf").write_text(f"alias_database = hash:{one}, btree:{two}\n")
    assert postalias.newaliases_main(["-c", str(tmp_path)]) == 0
    assert IndexedTable(f"{one}.db", "hash").lookup("a") == "b"
    assert IndexedTable(f"{two}.db", "btree").lookup("c") == "d"


def test_main_functions(source, capsys):
    assert postmap.main([f"hash:{source}"]) == 0
    assert postmap.main(["-q", "example.com", f"hash:{source}"]) == 0
    assert capsys.readouterr().out == "OK\n"
    assert postalias.main(["-q", "x", "inline:{x=y}"]) == 0
