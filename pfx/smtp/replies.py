"""The exact reply texts of Postfix's smtpd (3.7/3.9) that the protocol machines produce, named.

Texts come from Postfix's smtpd.c and cleanup_strerror.c; the few that are pfx's own
choice (Postfix has no equivalent) say so. Functions build the replies that carry a
variable part; anything echoed from the client goes through printable() first.
"""

from pfx.dsn import Dsn, Reply


def _r(code, dsn, text):
    return Reply(code, Dsn(dsn) if dsn else None, text)


# Positive replies the session usually gives (kept here so that everyone spells them alike).
OK = _r(250, "2.0.0", "Ok")
MAIL_OK = _r(250, "2.1.0", "Ok")
RCPT_OK = _r(250, "2.1.5", "Ok")
START_DATA = _r(354, None, "End data with <CR><LF>.<CR><LF>")
BYE = _r(221, "2.0.0", "Bye")
READY_TLS = _r(220, "2.0.0", "Ready to start TLS")
AUTH_OK = _r(235, "2.7.0", "Authentication successful")

# Order and syntax errors (smtpd.c).
BAD_SYNTAX = _r(500, "5.5.2", "Error: bad syntax")
BAD_UTF8 = _r(500, "5.5.2", "Error: bad UTF-8 syntax")
# pfx's choice: Postfix truncates an over-long command at line_length_limit and runs
# the truncated text; pfx refuses it instead of acting on half an address.
LINE_TOO_LONG = _r(500, "5.5.0", "Error: line too long")
NOT_RECOGNIZED = _r(500, "5.5.2", "Error: command not recognized")  # Postfix 3.7 sends 500
NOT_IMPLEMENTED = _r(502, "5.5.1", "Error: command not implemented")
NEED_MAIL = _r(503, "5.5.1", "Error: need MAIL command")
NEED_RCPT = _r(503, "5.5.1", "Error: need RCPT command")
NESTED_MAIL = _r(503, "5.5.1", "Error: nested MAIL command")
SEND_HELO = _r(503, "5.5.1", "Error: send HELO/EHLO first")
MAIL_IN_PROGRESS = _r(503, "5.5.1", "Error: MAIL transaction in progress")
NO_VALID_RCPT = _r(554, "5.5.1", "Error: no valid recipients")
SYNTAX_HELO = _r(501, None, "Syntax: HELO hostname")
SYNTAX_EHLO = _r(501, None, "Syntax: EHLO hostname")
SYNTAX_MAIL = _r(501, "5.5.4", "Syntax: MAIL FROM:<address>")
SYNTAX_RCPT = _r(501, "5.5.4", "Syntax: RCPT TO:<address>")
SYNTAX_DATA = _r(501, "5.5.4", "Syntax: DATA")
SYNTAX_RSET = _r(501, "5.5.4", "Syntax: RSET")
SYNTAX_VRFY = _r(501, "5.5.4", "Syntax: VRFY address")
SYNTAX_ETRN = _r(501, "5.5.4", "Syntax: ETRN domain")  # pfx: Postfix says "500 Syntax: ETRN domain"
SYNTAX_STARTTLS = _r(501, "5.5.4", "Syntax: STARTTLS")
SYNTAX_AUTH = _r(501, "5.5.4", "Syntax: AUTH mechanism")
SYNTAX_BDAT = _r(501, "5.5.4", "Syntax: BDAT count [LAST]")
SYNTAX_BDAT_FATAL = _r(521, "5.5.4", "Syntax: BDAT count [LAST]")
BAD_SENDER = _r(501, "5.1.7", "Bad sender address syntax")
BAD_RECIPIENT = _r(501, "5.1.3", "Bad recipient address syntax")
VRFY_DISABLED = _r(502, "5.5.1", "VRFY command is disabled")
MUST_STARTTLS = _r(530, "5.7.0", "Must issue a STARTTLS command first")
PIPELINING_SYNC = _r(554, "5.5.0", "Error: SMTP protocol synchronization")
FORBIDDEN_COMMAND = _r(221, "2.7.0", "Error: I can break rules, too. Goodbye.")

# ESMTP parameters (RFC 1870, 1652, 3461, 6531, 4954).
BAD_SIZE = _r(501, "5.5.4", "Bad message size syntax")
SIZE_EXCEEDS_LIMIT = _r(552, "5.3.4", "Message size exceeds fixed limit")
SIZE_EXCEEDS_FS = _r(552, "5.3.4", "Message size exceeds file system imposed limit")
BAD_RET = _r(501, "5.5.4", "Bad RET parameter syntax")
BAD_ENVID = _r(501, "5.5.4", "Bad ENVID parameter syntax")
BAD_NOTIFY = _r(501, "5.5.4", "Error: Bad NOTIFY parameter syntax")
BAD_ORCPT = _r(501, "5.5.4", "Error: Bad ORCPT parameter syntax")
DSN_DISABLED = _r(501, "5.7.1", "DSN support is disabled")
MULTIPLE_AUTH = _r(503, "5.5.4", "Error: multiple AUTH= options")

# Limits.
TOO_MANY_RECIPIENTS = _r(452, "4.5.3", "Error: too many recipients")
MESSAGE_TOO_BIG = _r(552, "5.3.4", "Error: message file too big")
CHUNK_TOO_BIG = _r(552, "5.3.4", "Chunk exceeds message size limit")
NULL_BDAT = _r(551, "5.7.1", "Null BDAT request")
DATA_AFTER_BDAT = _r(503, "5.5.1", "Error: DATA after BDAT")
MAIL_AFTER_BDAT = _r(503, "5.5.1", "Error: MAIL after BDAT")
RCPT_AFTER_BDAT = _r(503, "5.5.1", "Error: RCPT after BDAT")
SASL_RESPONSE_TOO_LONG = _r(500, "5.5.6", "SASL response limit exceeded")

# TLS and AUTH.
TLS_ACTIVE = _r(554, "5.5.1", "Error: TLS already active")
TLS_UNAVAILABLE = _r(454, "4.7.0", "TLS not available due to local problem")
AUTH_NOT_ENABLED = _r(503, "5.5.1", "Error: authentication not enabled")
ALREADY_AUTHENTICATED = _r(503, "5.5.1", "Error: already authenticated")
AUTH_ABORTED = _r(501, "5.7.0", "Authentication aborted")


def printable(text: str, limit: int = 100) -> str:
    """Client text made safe to echo: controls become '?', cut at ``limit`` (Postfix printable())."""
    out = "".join(c if (" " <= c < "\x7f" or c > "\x9f") and c.isprintable() else "?" for c in text[:limit])
    return out


def unsupported_option(arg: str) -> Reply:
    return _r(555, "5.5.4", f"Unsupported option: {printable(arg)}")


def too_many_errors(hostname: str) -> Reply:
    return _r(421, "4.7.0", f"{hostname} Error: too many errors")


def timeout(hostname: str) -> Reply:
    return _r(421, "4.4.2", f"{hostname} Error: timeout exceeded")


def bare_lf(hostname: str, code: int = 550) -> Reply:
    """smtpd_forbid_bare_newline = reject (Postfix 3.9); code is ..._reject_code."""
    return Reply(code, Dsn(f"{str(code)[0]}.5.2"), f"{hostname} Error: bare <LF> received")


def too_much_input(hostname: str) -> Reply:
    """pfx's own: the client sent more than max_input_buffer while we could not read."""
    return _r(421, "4.7.0", f"{hostname} Error: too much pipelined input")


def discarded(count: int) -> Reply:
    return _r(551, "5.0.0", f"Discarded {count} bytes after earlier error")


def chunk_ok(total: int) -> Reply:
    return _r(250, "2.0.0", f"Ok: {total} bytes")


def queued(queue_id: str, total: int | None = None) -> Reply:
    """``Ok: queued as QID`` after DATA, ``Ok: N bytes queued as QID`` after BDAT LAST."""
    if total is None:
        return _r(250, "2.0.0", f"Ok: queued as {queue_id}")
    return _r(250, "2.0.0", f"Ok: {total} bytes queued as {queue_id}")
