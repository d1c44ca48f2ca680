"""smtpd: the SMTP server program (Postfix's src/smtpd) over the sans-IO machine in pfx.smtp.

Modules: plugin.py (the IServiceFactory, light), params.py (the parameters it reads),
config.py (Settings -> SmtpdConfig), checks.py and restrictions.py (smtpd_*_restrictions),
session.py (events -> replies, the envelope, the body), protocol.py (Twisted glue),
service.py (listeners, connection limits, TLS).
"""
