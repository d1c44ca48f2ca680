"""The smtp and lmtp delivery agents (Postfix's smtp(8)/lmtp(8)): one agent class, two plugin names.

Modules: params.py (declarations, AgentConfig), destinations.py (MX/A/AAAA), connect.py
(endpoints, TLS contexts), protocol.py (the Twisted Protocol), session.py (one SMTP or
LMTP dialogue), tls_policy.py, sasl.py, mime.py (8BITMIME downgrade), agent.py
(failover across servers, one status per recipient), plugin.py (the factories).
"""
