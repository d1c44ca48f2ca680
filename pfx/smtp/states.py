"""The SMTP server's legal (phase, command) pairs: one table, Postfix's reply for each refusal.

A phase is where the session stands in RFC 5321 terms: START (no HELO/EHLO yet), HELO,
MAIL (sender accepted, no recipient yet), RCPT (a recipient accepted), BDAT (a BDAT
chunk accepted, the transaction continues until BDAT LAST). A pair missing from
REFUSALS is allowed: the command's own syntax is checked next and then it becomes an
event for the session. Any rule about order lives here and nowhere else.
"""

from pfx.smtp import replies as R

PHASES = ("START", "HELO", "MAIL", "RCPT", "BDAT")
VERBS = ("HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "NOOP", "VRFY", "ETRN",
         "QUIT", "STARTTLS", "AUTH")

_IN_TRANSACTION = ("MAIL", "RCPT", "BDAT")

REFUSALS = {
    ("START", "RCPT"): R.NEED_MAIL,
    ("HELO", "RCPT"): R.NEED_MAIL,
    ("BDAT", "RCPT"): R.RCPT_AFTER_BDAT,
    ("MAIL", "MAIL"): R.NESTED_MAIL,
    ("RCPT", "MAIL"): R.NESTED_MAIL,
    ("BDAT", "MAIL"): R.MAIL_AFTER_BDAT,
    # Postfix asks for RCPT, not MAIL, when DATA comes outside a transaction.
    ("START", "DATA"): R.NEED_RCPT,
    ("HELO", "DATA"): R.NEED_RCPT,
    ("MAIL", "DATA"): R.NO_VALID_RCPT,
    ("BDAT", "DATA"): R.DATA_AFTER_BDAT,
    # BDAT refusals are given after the chunk's bytes are read and dropped.
    ("START", "BDAT"): R.NEED_RCPT,
    ("HELO", "BDAT"): R.NEED_RCPT,
    ("MAIL", "BDAT"): R.NO_VALID_RCPT,
    # pfx: AUTH only after HELO/EHLO (RFC 4954 section 4).
    ("START", "AUTH"): R.SEND_HELO,
    **{(p, "AUTH"): R.MAIL_IN_PROGRESS for p in _IN_TRANSACTION},
    **{(p, "ETRN"): R.MAIL_IN_PROGRESS for p in _IN_TRANSACTION},
}

# smtpd_helo_required = yes adds these.
HELO_REQUIRED = {
    ("START", "MAIL"): R.SEND_HELO,
    ("START", "ETRN"): R.SEND_HELO,
}


# Allowed before STARTTLS when TLS is required (smtpd_tls_security_level = encrypt).
PRE_TLS = frozenset({"HELO", "EHLO", "STARTTLS", "NOOP", "QUIT"})

# RFC 2920 section 3.1: these end a pipelined group; the client must wait for the reply.
# (BDAT is followed by its chunk, which is not pipelining.)
LAST_IN_GROUP = frozenset({"HELO", "EHLO", "DATA", "NOOP", "VRFY", "STARTTLS", "AUTH"})


def refusal(phase: str, verb: str, helo_required: bool = False):
    """The Reply refusing ``verb`` in ``phase``, or None when it is allowed."""
    if helo_required and (phase, verb) in HELO_REQUIRED:
        return HELO_REQUIRED[(phase, verb)]
    return REFUSALS.get((phase, verb))
