"""smtpd: the SMTP server program (Postfix's src/smtpd) over the sans-IO machine in pfx.smtp.

Modules: plugin.py (the IServiceFactory, light) and params.py (the parameters it reads);
config.py (Settings -> SmtpdConfig) with netmatch.py (mynetworks-style lists),
resolving.py (pfx.address settings) and addr.py (address helpers); checks.py (the
smtpd_*_restrictions engine) with the restriction families restrictions.py (no tables),
access.py (pfx.tables), dnschecks.py (twisted.names) and policy.py (policy delegation);
session.py (events -> replies, the envelope, the body) with received.py (the Received
header), footer.py (smtpd_reject_footer) and logtext.py (log line shapes);
protocol.py (Twisted glue); service.py (listeners, connection limits, TLS, policy client).
"""
