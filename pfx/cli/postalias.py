"""``pfx postalias`` and ``pfx newaliases``: aliases(5) files into hash tables (postalias(1)).

postalias takes the same flags and exit statuses as postmap (pfx/cli/postmap.py); the
source is parsed as aliases(5) (pfx/tables/aliases.py) and ``-s`` prints
``name: value``. Unlike Postfix, a line that is not ``name: value`` is fatal (file and
line named, exit 1, the old ``.db`` kept), and the Sendmail/NIS entries ``@``,
``YP_LAST_MODIFIED`` and ``YP_MASTER_NAME`` are not added.
"""

import getopt
import sys

from pfx.cli.postmap import Program, config_value
from pfx.tables.aliases import parse_aliases


class PostaliasProgram(Program):
    name = "postalias"
    kv_separator = ":\t"

    def parse(self, text, path, fold):
        return parse_aliases(text, path, fold)


def main(argv):
    """Entry point: ``argv`` without the program name; returns the exit status."""
    return PostaliasProgram().run(list(argv))


def newaliases_main(argv):
    """``newaliases [-c DIR]``: run postalias on every table in alias_database."""
    program = PostaliasProgram()
    try:
        pairs, _ = getopt.getopt(list(argv), "c:v")
    except getopt.GetoptError as e:
        program.stderr.write(f"newaliases: fatal: {e}\n")
        return 2
    config_dir = dict(pairs).get("-c")
    databases = config_value(config_dir, "alias_database", "hash:/etc/aliases")
    default_type = config_value(config_dir, "default_database_type", "hash")
    status = 0
    from pfx.tables.chain import split_table_list

    for spec in split_table_list(databases):
        kind, name = program.split(spec, default_type)
        extra = ["-c", config_dir] if config_dir else []
        status = max(status, program.run(extra + [f"{kind}:{name}"]))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
