"""``pfx saslpasswd``: add, change or delete a user of the built-in SASL backend.

    pfx saslpasswd [-c config_dir] [-f type:file] [-d] user

The table is ``-f`` or main.cf's smtpd_sasl_path (with smtpd_sasl_type = pfx); it must
be a file table: texthash:, hash: or btree:. The source file gets one line per user,
``user $scrypt$...`` (see pfx.smtpd.sasl_pfx), written atomically with mode 0600 (an
existing file keeps its mode); hash: and btree: tables are then rebuilt as postmap does.
The password is prompted for twice on a terminal, or read as one line from stdin.
Exit status 0 on success, 1 for an unknown user with -d, 2 for other errors.
"""

import getopt
import getpass
import os
import sys
import tempfile

FILE_TYPES = ("texthash", "hash", "btree")
USAGE = "usage: pfx saslpasswd [-c config_dir] [-f type:file] [-d] user"


class Fatal(Exception):
    def __init__(self, message, status=2):
        super().__init__(message)
        self.status = status


def table_from_config(directory):
    from pfx.config.load import load
    from pfx.discover import discover, quiet_logging
    from pfx.errors import ConfigError
    quiet_logging()
    if not os.path.exists(os.path.join(directory, "main.cf")):
        raise Fatal(f"open {os.path.join(directory, 'main.cf')}: No such file or directory")
    try:
        settings = load(directory, discover().registry()).settings
        kind, path = settings.get_str("smtpd_sasl_type").strip(), settings.get_str("smtpd_sasl_path").strip()
    except (ConfigError, ValueError, KeyError) as e:
        raise Fatal(str(e)) from None
    if kind != "pfx":
        raise Fatal(f"smtpd_sasl_type is {kind}, not pfx: use -f type:file, or manage users in {kind}")
    return path


def update(source: str, user: str, line: str | None) -> tuple[str, bool]:
    """The source text with ``user``'s line replaced (or removed when ``line`` is None)."""
    out, found = [], False
    for text in source.splitlines():
        words = text.split(None, 1)
        if words and not text[0].isspace() and not text.startswith("#") and words[0].lower() == user.lower():
            found = True
            if line is not None:
                out.append(line)
            continue
        out.append(text)
    if line is not None and not found:
        out.append(line)
    return "".join(t + "\n" for t in out), found


def write_atomically(path, text):
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".saslpasswd.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_password(stdin=None):
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Again: "):
            raise Fatal("the passwords differ")
    else:
        first = stdin.readline().rstrip("\r\n")
    if not first:
        raise Fatal("empty password")
    return first


def run(argv, stdin=None):
    try:
        opts, args = getopt.getopt(argv, "c:df:")
    except getopt.GetoptError as e:
        raise Fatal(f"{e}\n{USAGE}") from None
    opts = dict(opts)
    if len(args) != 1 or not args[0] or any(c.isspace() for c in args[0]):
        raise Fatal(USAGE)
    user = args[0]
    directory = opts.get("-c") or os.environ.get("MAIL_CONFIG") or "/etc/pfx"
    spec = opts.get("-f") or table_from_config(directory)
    kind, sep, path = spec.partition(":")
    if not sep or kind not in FILE_TYPES:
        raise Fatal(f"{spec}: not a file table ({', '.join(t + ':' for t in FILE_TYPES)})")
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    except FileNotFoundError:
        source = ""
    except OSError as e:
        raise Fatal(f"open {path}: {e.strerror}") from None
    if "-d" in opts:
        text, found = update(source, user, None)
        if not found:
            raise Fatal(f"{user}: no such user in {path}", 1)
    else:
        from pfx.smtpd.sasl_pfx import make_hash
        text, _ = update(source, user, f"{user} {make_hash(read_password(stdin))}")
    try:
        write_atomically(path, text)
    except OSError as e:
        raise Fatal(f"write {path}: {e.strerror}") from None
    if kind in ("hash", "btree"):
        from pfx.cli import postmap
        status = postmap.main(["-c", directory, spec])
        if status:
            raise Fatal(f"postmap {spec} failed", status)
    return 0


def main(argv):
    try:
        return run(list(argv))
    except Fatal as e:
        sys.stderr.write(f"saslpasswd: fatal: {e}\n")
        return e.status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
