"""The privileged helper's protocol, run unprivileged-style as the current user."""

import base64
import io
import json
import os
import subprocess
import sys

import pytest

from pfx.delivery import helper, helper_child


def test_helper_writes_a_maildir_and_reads_a_file(tmp_path):
    me = (os.getuid(), os.getgid())
    answer = helper.run({"op": "maildir", "path": str(tmp_path / "Maildir"), "uid": me[0],
                         "gid": me[1], "size_limit": 0, "now": 1.5,
                         "prefix": base64.b64encode(b"X-A: 1\n").decode()},
                        io.BytesIO(b"Subject: s\n\nFrom x\n"))
    assert open(answer["path"], "rb").read() == b"X-A: 1\nSubject: s\n\nFrom x\n"
    (tmp_path / "f").write_bytes(b"a, b\n")
    answer = helper.run({"op": "read", "path": str(tmp_path / "f"), "uid": me[0],
                         "gid": me[1]})
    assert base64.b64decode(answer["data"]) == b"a, b\n" and answer["owner"] == me[0]


def test_helper_errors_come_back_as_oserror(tmp_path):
    me = (os.getuid(), os.getgid())
    with pytest.raises(FileNotFoundError):
        helper.run({"op": "read", "path": str(tmp_path / "nope"), "uid": me[0], "gid": me[1]})
    with pytest.raises(OSError) as e:
        helper.run({"op": "mbox", "path": str(tmp_path / "mbox"), "uid": me[0], "gid": me[1],
                    "size_limit": 10, "lock": [["fcntl"], 1, 0.01, 500],
                    "prefix": "", "quote_from": True, "blank": True},
                   io.BytesIO(b"x" * 100))
    assert e.value.errno == 27  # EFBIG: mailbox_size_limit
    assert os.path.getsize(tmp_path / "mbox") == 0


@pytest.mark.parametrize("module", ["helper_child", "forkserver"])
def test_helper_child_imports_only_the_stdlib_and_pfx(module):
    # the child starts as `python -I -S`: every import is paid on each delivery (once per
    # server for the fork server), and site-packages (attrs, twisted) is not on its path
    script = (f"import sys; sys.path.insert(0, sys.argv[1]); import pfx.delivery.{module}; "
              "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", script, helper._PKG_DIR],
                         capture_output=True, text=True, check=True).stdout.split()
    foreign = [m for m in out
               if m not in ("pfx", "__main__") and m not in sys.stdlib_module_names]
    assert "pfx" in out and foreign == []


@pytest.mark.parametrize("text", ["plain", 'q"b\\s\n\t\x7f', "é€", "\udcff", "\U0001f4e7"])
def test_helper_child_answers_are_json(text):
    answer = {"path": text, "errno": 5, "ok": True, "no": False}
    assert json.loads(helper_child._json(answer)) == answer
    assert helper_child._json(answer).isascii()


def test_helper_garbled_job_is_a_temporary_failure():
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", helper._BOOT, helper._PKG_DIR],
                          input=b"\x00\x00\x00\x05xx", capture_output=True, check=True)
    assert json.loads(proc.stdout)["errno"] == 5
