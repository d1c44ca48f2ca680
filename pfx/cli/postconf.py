"""pfx postconf: show and edit main.cf and master.cf, as Postfix's postconf(1).

Reads DIR/main.cf and DIR/master.cf (DIR from -c, $MAIL_CONFIG or /etc/pfx); writes
them only for -e, -X, -#, -Me, -MX, -Pe, -PX and -Fe, always through a temporary file,
fsync and rename, so a crash leaves the old file or the new one, never a mix.
Messages, warnings and exit codes are Postfix 3.7's.
"""

import getopt
import os
import sys
import tempfile

from pfx.config import edit, maincf, mastercf
from pfx.config.core import CONFIG_DIRECTORY
from pfx.config.settings import Setting, Settings
from pfx.errors import ConfigError
from pfx.util.expand import reference_list

USAGE = ("usage: postconf [-c config_dir] [-d (parameter defaults)] [-e (edit "
         "configuration)] [-f (fold lines)] [-F (master.cf fields)] [-h (no names)] "
         "[-m (map types)] [-M (master.cf)] [-n (non-default parameters)] "
         "[-P (master.cf parameters)] [-x (expand parameter values)] [-X (exclude)] "
         "[-# (comment-out)] [name...]")
_CONFLICTS = ("den", "eX#", "MPFm")


class Fatal(Exception):
    """A message for ``postconf: fatal:``; exit status 1."""


def _warn(text):
    print(f"postconf: warning: {text}", file=sys.stderr)


def _read(path, how=""):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError as e:
        raise Fatal(f"open {path}{how}: {e.strerror}") from None


def atomic_write(path, text):
    """Replace ``path`` with ``text``: temp file in the same directory, fsync, keep the
    old file's mode (and owner when we may), rename, fsync the directory."""
    directory = os.path.dirname(path) or "."
    old = os.stat(path) if os.path.exists(path) else None
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
            f.flush()
            if old is not None:
                os.fchmod(f.fileno(), old.st_mode & 0o7777)
                try:
                    os.fchown(f.fileno(), old.st_uid, old.st_gid)
                except OSError:
                    pass  # not root: the file becomes ours, as with any editor
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise Fatal(f"write {path}: {e.strerror}") from None
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class Config:
    """main.cf and master.cf of one directory, parsed for the show modes."""

    def __init__(self, config_dir, dir_given, master_required):
        from pfx.discover import discover  # Twisted's plugin scan: only when needed

        self.dir = config_dir
        self.main_path = os.path.join(config_dir, "main.cf")
        self.master_path = os.path.join(config_dir, "master.cf")
        self.main = maincf.parse(_read(self.main_path), self.main_path)
        for text in self.main.warnings:
            _warn(text)
        if os.path.exists(self.master_path) or master_required:
            self.master_text = _read(self.master_path)
            self.master = mastercf.parse(self.master_text, self.master_path)
        else:
            _warn(f"open {self.master_path}: No such file or directory")
            self.master_text, self.master = "", []
        self.installed = discover()
        for failure in self.installed.failures:
            _warn(f"plugin module failed to load: {failure}")
        self.registry = self.installed.registry().for_services(
            [e.service for e in self.master])
        explicit = {e.name: Setting(e.value, self.main_path, e.line)
                    for e in self.main.entries.values()}
        if dir_given:  # Postfix records -c / $MAIL_CONFIG as if set in main.cf
            explicit["config_directory"] = Setting(config_dir)
        self.settings = Settings(self.registry, explicit, config_dir)
        texts = [s.value for e in self.master for _, s in e.overrides]
        self.unused = self.settings.unused(texts)
        unused = {name for name, _ in self.unused}
        self.known = set(self.registry.names()) | (set(explicit) - unused)

    def unused_warnings(self, main=True):
        for name, setting in self.unused if main else ():
            _warn(f"{setting.file}: unused parameter: {name}={setting.value}")
        for entry in self.main.entries.values() if main else ():
            for name in reference_list(entry.value):
                if name not in self.known and not self.settings.is_set(name):
                    _warn(f"{self.main_path}: undefined parameter: {name}")
        for entry in self.master:
            for name, setting in entry.overrides:
                if name not in self.known:
                    _warn(f"{self.master_path}: unused parameter: {name}={setting.value}")


def _line(name, value, flags, squeeze=True):
    if squeeze:  # postconf prints values word by word, one space apart
        value = " ".join(value.split())
    if "h" in flags:
        return value
    return f"{name} = {value}" if value else f"{name} ="


def show_main(cfg, flags, names):
    defaults = Settings(cfg.registry) if "d" in flags else None
    known = set(cfg.registry.names()) if defaults else cfg.known
    if names:
        wanted = []
        for name in names:
            if name in known:
                wanted.append(name)
            else:
                _warn(f"{name}: unknown parameter")
    else:
        wanted = sorted(known)
    if "n" in flags:
        wanted = [n for n in wanted if cfg.settings.is_set(n)]
    view = defaults or cfg.settings
    for name in wanted:
        if defaults is not None and "x" not in flags:
            value = defaults.default_text(name)
        else:
            value = view.get_str(name) if "x" in flags else view.raw(name)
        print(_line(name, value, flags))


def _rows(cfg):
    return edit.master_rows(cfg.master_text)


def _wanted(requests, parts, used) -> bool:
    """Whether a row (or its -o / field) with path ``parts`` is asked for: no requests,
    or a request naming a prefix of ``parts``; record the requests that matched."""
    hits = [r for r in requests if r.split("/") == parts[:len(r.split("/"))]]
    used.update(hits)
    return not requests or bool(hits)


def _unmatched(requests, used):
    for req in requests:
        if req not in used:
            _warn(f'unmatched request: "{req}"')


def _expand_overrides(cfg, key, words):
    """Row words with each -o value $-expanded as that service sees it (-Mx)."""
    entry = next(e for e in cfg.master if e.key == key)
    service = cfg.settings.for_service(entry.service, entry.overrides)
    out = list(words)
    for i in range(8, len(out) - 1):
        if out[i] == "-o" and "=" in out[i + 1]:
            name = out[i + 1].partition("=")[0].strip()
            out[i + 1] = f"{name}={service.get_str(name)}"
    return out


def show_master(cfg, flags, requests):
    used = set()
    for key, words, _ in _rows(cfg):
        if _wanted(requests, words[:2], used):
            if "x" in flags:
                words = _expand_overrides(cfg, key, words)
            print(edit.format_row(words, fold="f" in flags))
    _unmatched(requests, used)
    cfg.unused_warnings(main=False)


def show_params(cfg, flags, requests):
    used = set()
    for entry in cfg.master:
        service = cfg.settings.for_service(entry.service, entry.overrides)
        for name, setting in sorted(entry.overrides, key=lambda o: o[0]):
            if not _wanted(requests, [entry.service, entry.type, name], used):
                continue
            value = service.get_str(name) if "x" in flags else setting.value
            print(_line(f"{entry.key}/{name}", value, flags))
    _unmatched(requests, used)
    cfg.unused_warnings(main=False)


def show_fields(cfg, flags, requests):
    used = set()
    for req in requests:
        parts = req.split("/")
        if len(parts) > 2 and parts[2] not in edit.FIELDS:
            raise Fatal(f'invalid service attribute name: "{parts[2]}"')
    for key, words, _ in _rows(cfg):
        for field, value in zip(edit.FIELDS, words[:7] + [edit.command_text(words)]):
            if not _wanted(requests, [words[0], words[1], field], used):
                continue
            print(_line(f"{key}/{field}", value, flags, squeeze=False))
    _unmatched(requests, used)
    cfg.unused_warnings(main=False)


def _no_newlines(args):
    if any("\n" in a for a in args):
        raise Fatal("-e, -X, or -# accepts no multi-line input")


def edit_main(config_dir, flags, args):
    path = os.path.join(config_dir, "main.cf")
    _no_newlines(args)
    if "e" in flags:
        pairs = [maincf.parse_assignment(a.strip(), None, None) for a in args]
    elif any("=" in a for a in args):
        raise Fatal("-X or -# requires parameter names without value")
    text = _read(path, " for reading")
    if "e" in flags:
        new, multiple = edit.set_params(text, pairs)
    else:
        change = edit.remove_params if "X" in flags else edit.comment_out_params
        new, multiple = change(text, args)
    for name in multiple:
        _warn(f'{path}: multiple entries for "{name}"')
    if new != text:
        atomic_write(path, new)


def _key(arg, depth):
    parts = arg.split("/")
    if len(parts) != depth or not all(parts):
        if depth == 2:
            raise Fatal("-Me, -MX or -M# requires service_name/type")
        raise Fatal(f"-{'P' if depth == 3 else 'F'}e or -{'P' if depth == 3 else 'F'}X "
                    f"requires service_name/type/{'parameter' if depth == 3 else 'field'}")
    return parts


def edit_master(config_dir, flags, args):
    path = os.path.join(config_dir, "master.cf")
    _no_newlines(args)
    text = _read(path, " for reading")
    rows = {key: words for key, words, _ in edit.master_rows(text)}
    for arg in args:
        lhs, eq, value = arg.partition("=")
        if "e" in flags and not eq:
            raise Fatal(f"missing '=' after attribute name: \"{arg}\"")
        lhs, value = lhs.strip(), value.strip()
        if "M" in flags:
            key = "/".join(_key(lhs, 2))
            if "X" in flags:
                text = edit.remove_master_row(text, key)
                continue
            words = mastercf.split_args(value, path, None)
            if len(words) < 8:
                raise Fatal(f'bad field count: "{value}"')
            mastercf.parse_row(value, path, None)
            text = edit.set_master_row(text, key, edit.format_row(words, fold=True))
            continue
        service, type_, name = _key(lhs, 3)
        key = f"{service}/{type_}"
        if key not in rows:
            _warn(f'unmatched service_name/type: "{arg}"')
            continue
        if "F" in flags:
            if name not in edit.FIELDS:
                raise Fatal(f'invalid service attribute name: "{name}"')
            words = edit.set_field(rows[key], name, value)
        else:
            if any(c.isspace() for c in value):
                raise Fatal("-Pe does not accept whitespace in parameter value")
            words = edit.set_override(rows[key], name, None if "X" in flags else value)
        rows["/".join(words[:2])] = words
        text = edit.set_master_row(text, key, edit.format_row(words, fold=True),
                                   comments_first=True)
    mastercf.parse(text, path)  # never write a master.cf that pfx cannot read
    atomic_write(path, text)


def _flags(argv):
    try:
        opts, args = getopt.getopt(argv, "c:defFhmMnPxX#")
    except getopt.GetoptError as e:
        if "requires argument" in e.msg:
            print(f"postconf: option requires an argument -- '{e.opt}'", file=sys.stderr)
        else:
            print(f"postconf: invalid option -- '{e.opt}'", file=sys.stderr)
        raise Fatal(USAGE) from None
    flags, config_dir = set(), None
    for opt, value in opts:
        if opt == "-c":
            config_dir = value
        else:
            flags.add(opt[1])
    if args and "=" in args[0]:  # Postfix 2.8+: "postconf name=value" implies -e
        flags.add("e")
    for group in _CONFLICTS:
        chosen = [c for c in group if c in flags]
        if len(chosen) > 1:
            raise Fatal("specify one of " + " ".join("-" + c for c in chosen))
    if "m" in flags:
        for c in "denxX#hf":
            if c in flags:
                raise Fatal(f"with option -m, do not specify -{c}")
    return flags, config_dir, args


def run(argv) -> int:
    flags, config_dir, args = _flags(argv)
    dir_given = config_dir is not None or "MAIL_CONFIG" in os.environ
    if config_dir is None:
        config_dir = os.environ.get("MAIL_CONFIG") or CONFIG_DIRECTORY
    editing = flags & set("eX#")
    if editing and not args:
        raise Fatal("-e requires name=value argument" if "e" in flags
                    else "missing service argument")
    if "m" in flags:
        from pfx.discover import discover
        for name in sorted(discover().tables):
            print(name)
        return 0
    if editing and flags & set("MPF"):
        edit_master(config_dir, flags, args)
        return 0
    if editing:
        edit_main(config_dir, flags, args)
        return 0
    cfg = Config(config_dir, dir_given, master_required=bool(flags & set("MPF")))
    if "M" in flags:
        show_master(cfg, flags, args)
    elif "P" in flags:
        show_params(cfg, flags, args)
    elif "F" in flags:
        show_fields(cfg, flags, args)
    else:
        show_main(cfg, flags, args)
        if "d" not in flags:
            cfg.unused_warnings()
    return 0


def main(argv: list[str]) -> int:
    """Run postconf with ``argv`` (without the program name); return the exit status."""
    try:
        return run(argv)
    except (Fatal, ConfigError) as e:
        sys.stdout.flush()
        print(f"postconf: fatal: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    from pfx.discover import quiet_logging
    quiet_logging()
    sys.exit(main(sys.argv[1:]))
