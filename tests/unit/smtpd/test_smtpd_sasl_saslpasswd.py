"""``pfx saslpasswd``: writes the built-in backend's table source (and its .db)."""

import io
import os

import pytest

from pfx.cli import saslpasswd
from pfx.smtpd.sasl_pfx import verify


def test_add_change_delete(tmp_path):
    path = tmp_path / "users"
    path.write_text("# users\nalice $scrypt$old\n")
    assert saslpasswd.run(["-f", f"texthash:{path}", "bob"], stdin=io.StringIO("bobpw\n")) == 0
    assert saslpasswd.run(["-f", f"texthash:{path}", "alice"], stdin=io.StringIO("alicepw\n")) == 0
    lines = path.read_text().splitlines()
    assert lines[0] == "# users" and [w.split()[0] for w in lines[1:]] == ["alice", "bob"]
    assert verify("alicepw", lines[1].split()[1]) and verify("bobpw", lines[2].split()[1])
    assert saslpasswd.run(["-d", "-f", f"texthash:{path}", "alice"]) == 0
    assert [w.split()[0] for w in path.read_text().splitlines()[1:]] == ["bob"]
    with pytest.raises(saslpasswd.Fatal) as e:
        saslpasswd.run(["-d", "-f", f"texthash:{path}", "alice"])
    assert e.value.status == 1


def test_new_file_is_private_and_hash_is_built(tmp_path):
    path = tmp_path / "users"
    assert saslpasswd.run(["-c", str(tmp_path), "-f", f"hash:{path}", "bob"], stdin=io.StringIO("pw\n")) == 0
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert (tmp_path / "users.db").exists()


def test_refuses_non_file_tables_and_empty_passwords(tmp_path):
    with pytest.raises(saslpasswd.Fatal):
        saslpasswd.run(["-f", "inline:{a=b}", "bob"], stdin=io.StringIO("pw\n"))
    with pytest.raises(saslpasswd.Fatal):
        saslpasswd.run(["-f", f"texthash:{tmp_path}/u", "bob"], stdin=io.StringIO("\n"))


def test_reads_smtpd_sasl_path_from_main_cf(tmp_path):
    (tmp_path / "master.cf").write_text("")
    (tmp_path / "main.cf").write_text("smtpd_sasl_type = pfx\nsmtpd_sasl_path = texthash:$config_directory/u\n")
    assert saslpasswd.run(["-c", str(tmp_path), "bob"], stdin=io.StringIO("pw\n")) == 0
    assert (tmp_path / "u").read_text().startswith("bob $scrypt$")
