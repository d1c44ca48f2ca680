"""The smtp and lmtp delivery agents (Postfix's smtp(8)/lmtp(8)): one agent class, two plugin names.

Modules: params.py (declarations, AgentConfig), destinations.py (MX/A/AAAA), connect.py
(endpoints, TLS contexts), protocol.py (the Twisted Protocol), session.py (one SMTP or
LMTP dialogue), tls_policy.py, sasl.py, mime.py (8BITMIME downgrade), cache.py
(connection reuse), agent.py (failover across servers, one status per recipient),
plugin.py (the factories).

Where pfx differs from Postfix, on purpose:
  - smtp_connection_cache_on_demand keeps every cleanly finished connection for
    smtp_connection_cache_time_limit (Postfix waits for qmgr to report a backlog).
  - dane falls back to may (no DNSSEC-validating resolver); dane-only defers.
  - A ``may`` session whose TLS handshake fails is retried once in plaintext on a new
    connection (Postfix does the same); never on the connection that failed.
  - smtp_bind_address, XFORWARD, BDAT and header/body checks on
    output are not implemented. Statuses carry conn_use (qmgr logs ``conn_use=N`` for a
    reused connection); delays= is qmgr's, whose c (connection set-up) part is always 0.
"""
