"""Fixtures for the table tests: a registry of the built-in types and the real postmap, if any."""

import os
import shutil
import subprocess

import pytest

from pfx.tables.registry import Registry
from pfx.tables.types import builtin_types

REAL_POSTMAP = "/usr/sbin/postmap"
REAL_POSTALIAS = "/usr/sbin/postalias"
REAL_POSTCONF = "/usr/sbin/postconf"


@pytest.fixture
def warnings():
    return []


@pytest.fixture
def registry(warnings):
    return Registry(builtin_types(), warn=warnings.append)


class RealPostfix:
    """Runs Debian's postmap/postalias against a throwaway config directory."""

    def __init__(self, config_dir):
        self.config_dir = str(config_dir)
        out = subprocess.run([REAL_POSTCONF, "-c", self.config_dir, "-m"],
                             capture_output=True, text=True, check=True).stdout
        self.types = set(out.split())

    def require(self, kind):
        if kind not in self.types:
            pytest.skip(f"the installed Postfix has no {kind!r} table type (postconf -m)")

    def run(self, program, *args, stdin=None):
        return subprocess.run([program, "-c", self.config_dir, *args], input=stdin,
                              capture_output=True, text=True)

    def query(self, spec, keys, program=REAL_POSTMAP):
        """{key: value} for the keys the real program finds (one ``-q -`` run)."""
        done = self.run(program, "-q", "-", spec, stdin="".join(k + "\n" for k in keys))
        found = {}
        for line in done.stdout.splitlines():
            key, _, value = line.partition("\t")
            if program == REAL_POSTALIAS:
                key = key.removesuffix(":")  # postalias prints "name:<TAB>value"
            found[key] = value
        return found


@pytest.fixture(scope="session")
def real_postfix(tmp_path_factory):
    if not (os.access(REAL_POSTMAP, os.X_OK) and os.access(REAL_POSTCONF, os.X_OK)):
        pytest.skip(f"{REAL_POSTMAP} is not installed: no comparison with the real Postfix")
    config_dir = tmp_path_factory.mktemp("postfix-conf")
    (config_dir / "main.cf").write_text("compatibility_level = 3.6\n")
    (config_dir / "master.cf").write_text("")
    return RealPostfix(config_dir)


def copy_source(src, directory):
    directory.mkdir(parents=True, exist_ok=True)
    dest = directory / src.name
    shutil.copy(src, dest)
    return dest
