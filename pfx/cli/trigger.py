"""Wake a running pfx service (pickup, qmgr) through its public/ trigger socket."""

import os
import socket


def send_trigger(queue_directory: str, service: str, data: bytes, timeout: float = 5.0) -> bool:
    """Write ``data`` to public/``service``; False when no pfx is listening there."""
    path = os.path.join(queue_directory, "public", service)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall(data)
        return True
    except (FileNotFoundError, ConnectionRefusedError):
        return False
    finally:
        s.close()
