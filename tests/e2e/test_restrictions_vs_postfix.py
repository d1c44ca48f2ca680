"""Restriction replies against a private Postfix 3.7 and against pfx: the same main.cf,
the same RCPT/MAIL/HELO commands, the same replies.

Each recipient picks one restriction (class) through an access table, so one session
covers the access(5) results, the built-in restrictions and the address-class checks;
the smtpd log lines of the session must match too (see as_pfx_logs for the one known
difference).
Skipped when Postfix cannot be started (not root, not installed).
"""

import pytest

from tests.support.dialogue import converse_items, start_smtpd
from tests.e2e.test_smtpd_vs_postfix import smtpd_lines
from tests.support.peers.fixtures import make_postfix  # noqa: F401

pytestmark = pytest.mark.e2e

_CLASSES = {
    "c_reject": "reject", "c_defer": "defer", "c_dip": "defer_if_permit, permit",
    "c_dir": "defer_if_reject, reject", "c_dip_rej": "defer_if_permit, reject",
    "c_unauth": "reject_unauth_destination", "c_defer_unauth": "defer_unauth_destination",
    "c_auth_dest": "permit_auth_destination, reject", "c_nofqdn_sender": "reject_non_fqdn_sender",
    "c_helo": "reject_non_fqdn_helo_hostname", "c_bad_helo": "reject_invalid_helo_hostname",
    "c_warn": "warn_if_reject reject, permit",
}
_ACCESS = {
    "rej@elsewhere.example": "REJECT", "rejtext@elsewhere.example": "REJECT go away",
    "rejdsn@elsewhere.example": "REJECT 5.7.9 dsn given", "rej4@elsewhere.example": "REJECT 4.1.1 hmm",
    "defer@elsewhere.example": "DEFER", "defertext@elsewhere.example": "DEFER later please",
    "n550@elsewhere.example": "550 5.2.1 full",
    "n450@elsewhere.example": "450 no dsn", "digits@elsewhere.example": "12345",
    "ok@elsewhere.example": "OK", "relay@elsewhere.example": "RELAY",
    "dunno@elsewhere.example": "DUNNO", "dip@elsewhere.example": "DEFER_IF_PERMIT",
    "diptext@elsewhere.example": "DEFER_IF_PERMIT 4.7.9 wait",
    "n421@elsewhere.example": "421 closing", "dir@elsewhere.example": "DEFER_IF_REJECT",
    "dirtext@elsewhere.example": "DEFER_IF_REJECT not now", "warn@elsewhere.example": "WARN looked at",
    **{f"class-{name[2:]}@elsewhere.example": name for name in _CLASSES},
}
_BRACED = ", ".join(f"{{ {k} = {v} }}" for k, v in _ACCESS.items())
SETTINGS = {
    "smtpd_banner": "$myhostname ESMTP",
    "mynetworks": "192.0.2.0/24",
    "mydestination": "mx.example.test",
    "relay_domains": "relay.example",
    "virtual_alias_domains": "virt.example",
    "virtual_alias_maps": "inline:{ known@virt.example=u@mx.example.test }",
    "local_recipient_maps": "inline:{ u=x }",
    "relocated_maps": "inline:{ { gone@mx.example.test = new@else.example } }",
    "smtpd_peername_lookup": "no",
    "smtpd_soft_error_limit": "1000",
    "smtpd_hard_error_limit": "1000",
    "smtpd_restriction_classes": " ".join(_CLASSES),
    **_CLASSES,
    "smtpd_relay_restrictions": f"check_recipient_access inline:{{ {_BRACED} }}, permit_mynetworks, "
                                "reject_unauth_destination",
    "smtpd_recipient_restrictions": "",
}
_RCPTS = [*(r for r in _ACCESS if not r.startswith("n421@")), "nobody@elsewhere.example", "u@mx.example.test", "x@mx.example.test",
          "gone@mx.example.test", "known@virt.example", "unknown@virt.example", "r@relay.example",
          "a@sub.mx.example.test"]
DIALOGUE = [
    "EHLO client.example.org",
    "MAIL FROM:<a@example.org>",
    *[f"RCPT TO:<{r}>" for r in _RCPTS],
    "RSET",
    "MAIL FROM:<a>",
    "RCPT TO:<class-nofqdn_sender@elsewhere.example>",
    "RSET",
    "HELO bad..name",
    "MAIL FROM:<a@example.org>",
    "RCPT TO:<class-bad_helo@elsewhere.example>",
    "RCPT TO:<class-helo@elsewhere.example>",
    "RCPT TO:<n421@elsewhere.example>",  # last: 421 closes the connection
]


def test_restriction_replies_match_postfix(make_postfix, config_dir, run_twistd):  # noqa: F811
    pf = make_postfix("discard", hostname="mx.example.test", main_extra=dict(SETTINGS))
    theirs = converse_items(pf.port, DIALOGUE)

    port = start_smtpd(config_dir, run_twistd, SETTINGS)
    ours = converse_items(port, DIALOGUE)
    assert len(ours) == len(theirs)
    differ = [(cmd, o, t) for cmd, o, t in zip(["(greeting)", *DIALOGUE], ours, theirs) if o != t]
    assert differ == [], "(command, pfx, Postfix)"

    config_dir.wait_for_log("disconnect from unknown[127.0.0.1] helo=1 ehlo=1")
    pf.wait_for_log("disconnect from unknown[127.0.0.1] helo=1 ehlo=1")
    assert smtpd_lines(config_dir.log_text(), "pfx") == as_pfx_logs(smtpd_lines(open(pf.maillog).read(), "postfix"))


def as_pfx_logs(lines):
    """Known difference: Postfix opens the queue file at the first accepted RCPT
    (smtpd_delay_open_until_valid_rcpt), logs "QID: client=..." then and names that queue
    id in the transaction's later lines; pfx opens it at DATA and says NOQUEUE until then."""
    return [line.replace("QID: ", "NOQUEUE: ", 1) for line in lines if not line.startswith("QID: client=")]
