"""Real peers for pfx tests and benches: Dovecot, a test DNS server, a private Postfix,
smtp-sink/smtp-source and swaks, each started as a throwaway process on loopback.

Every peer binds 127.0.0.1 only, on ports from :func:`common.free_port`, lives in its own
process group and is killed at teardown. Modules:

- :mod:`.dovecot`   LMTP/IMAP/SASL server with failure-mode users (fixture ``dovecot``)
- :mod:`.dns`       twisted.names authoritative server as a subprocess (fixture ``dns_server``)
- :mod:`.postfix`   private Postfix instance; ``smtp_sink`` / ``smtp_source``
- :mod:`.swaks`     ``swaks(...) -> (rc, transcript)``
- :mod:`.fixtures`  the pytest fixtures, to import into a test module or conftest

See COMPONENTS.md in the shared notes for the recipes these follow.
"""
