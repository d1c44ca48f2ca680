"""Sans-IO SMTP: the server and client protocol machines (no Twisted, no sockets)."""
