"""SMTP dialogues for the side-by-side tests: the same lines to pfx and to Postfix."""

import socket

from tests.conftest import free_port, wait_for_port


def converse_items(port, dialogue):
    """The greeting and one reply (a list of lines) per item of ``dialogue`` (str items get
    CRLF, bytes go as they are); "(closed)" once the server has hung up."""
    replies = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")

        def reply():
            lines = []
            while True:
                try:
                    line = reader.readline().decode()
                except OSError:  # reset after the server hung up
                    line = ""
                if not line:
                    return lines or ["(closed)"]
                lines.append(line.rstrip("\r\n"))
                if len(lines[-1]) < 4 or lines[-1][3] != "-":
                    return lines
        replies.append(reply())
        for item in dialogue:
            try:
                sock.sendall(item if isinstance(item, bytes) else item.encode() + b"\r\n")
            except OSError:
                replies.append(["(closed)"])
                continue
            replies.append(reply())
    return replies


def start_smtpd(config_dir, run_twistd, settings):
    """pfx with ``settings`` in main.cf and one smtpd row (cleanup in-process) -> its port."""
    port = free_port()
    config_dir.write(main_extra="".join(f"{k} = {v}\n" for k, v in settings.items()),
                     master="cleanup unix n - n - 0 cleanup\n"
                            f"127.0.0.1:{port} inet n - n - - smtpd\n")
    proc = run_twistd(config_dir.path)
    wait_for_port(port, proc=proc)
    return port
