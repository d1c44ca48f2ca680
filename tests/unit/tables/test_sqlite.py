"""sqlite: tables (sqlite_table(5)): config file, %-expansions, result_format, domain, errors."""

import sqlite3

import pytest

from pfx.errors import TableConfigError, TableRetry
from pfx.tables.sqlite import expand


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "users.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (address TEXT, dest TEXT, domain TEXT)")
    conn.executemany("INSERT INTO users VALUES (?, ?, ?)", [
        ("bob@example.com", "bob@mail.example.com", "example.com"),
        ("o'neil@example.com", "oneil@mail.example.com", "example.com"),
        ("multi@example.com", "one@x", "example.com"),
        ("multi@example.com", "two@y", "example.com"),
        ("nul@example.com", None, "example.com"),
    ])
    conn.commit()
    conn.close()
    return path


def cf(tmp_path, db, **settings):
    path = tmp_path / "table.cf"
    lines = [f"dbpath = {db}"] + [f"{k} = {v}" for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return f"sqlite:{path}"


def test_query_with_quoting_and_folding(tmp_path, db, registry):
    query = "SELECT dest FROM users WHERE address='%s'"
    table = registry.open_strict(cf(tmp_path, db, query=query))
    assert table.lookup("Bob@Example.com") == "bob@mail.example.com"
    assert table.lookup("o'neil@example.com") == "oneil@mail.example.com"
    assert table.lookup("multi@example.com") == "one@x,two@y"
    assert table.lookup("nul@example.com") is None
    assert table.lookup("nobody@example.com") is None


def test_user_and_domain_expansions(tmp_path, db, registry):
    table = registry.open_strict(cf(
        tmp_path, db, query="SELECT dest FROM users WHERE address='%u@%d' AND domain='%2.%1'",
        result_format="<%u> at %d for %S"))
    assert table.lookup("bob@example.com") == "<bob> at mail.example.com for bob@example.com"
    assert table.lookup("bob") is None  # no domain: %d suppresses the query


def test_domain_restriction(tmp_path, db, registry):
    table = registry.open_strict(cf(tmp_path, db, domain="example.com, example.net",
                                    query="SELECT dest FROM users WHERE address='%s'"))
    assert table.lookup("bob@example.com") == "bob@mail.example.com"
    assert table.lookup("bob@example.org") is None
    assert table.lookup("@example.com") is None
    assert table.lookup("example.com") is None


def test_legacy_settings(tmp_path, db, registry):
    table = registry.open_strict(cf(tmp_path, db, table="users", select_field="dest",
                                    where_field="address",
                                    additional_conditions="AND domain = 'example.com'"))
    assert table.lookup("bob@example.com") == "bob@mail.example.com"


def test_expansion_limit_and_query_errors_fail_soft(tmp_path, db, registry):
    limited = registry.open_strict(cf(tmp_path, db, expansion_limit="1",
                                      query="SELECT dest FROM users WHERE address='%s'"))
    with pytest.raises(TableRetry):
        limited.lookup("multi@example.com")
    broken = registry.open_strict(cf(tmp_path, db, query="SELECT nosuch FROM users"))
    with pytest.raises(TableRetry):
        broken.lookup("x")


def test_config_errors(tmp_path, db, registry):
    path = tmp_path / "bad.cf"
    path.write_text("query = SELECT 1\n")
    with pytest.raises(TableConfigError, match="missing dbpath"):
        registry.open_strict(f"sqlite:{path}")
    path.write_text(f"dbpath = {db}\nnot a setting\n")
    with pytest.raises(TableConfigError, match="line 2"):
        registry.open_strict(f"sqlite:{path}")
    with pytest.raises(TableRetry):
        registry.open(f"sqlite:{tmp_path / 'missing.cf'}").lookup("x")


def test_expand_percent_and_labels():
    assert expand("%% %s %3", "u@a.b.c", str) == "% u@a.b.c a"


def test_bad_expansion_is_refused_at_open(tmp_path, db, registry):
    with pytest.raises(TableConfigError, match="invalid expansion"):
        registry.open_strict(cf(tmp_path, db, query="SELECT dest FROM users WHERE a='%x'"))
