"""The sender login restrictions: who may use which MAIL FROM address after AUTH
(reject_sender_login_mismatch and its variants, with smtpd_sender_login_maps).

smtpd_sender_login_maps maps an address (``user@domain``, then ``@domain``) to the
SASL login names that own it, separated by commas or spaces. A Postfix-compatible
reading of smtpd_check.c:
  authenticated client: the sender must be owned by the login (the _known_ variant
  only checks senders that the table lists);
  unauthenticated client: a sender the table lists is refused ("not logged in").
"""

import re

from twisted.internet import defer

from pfx.dsn import Dsn, Reply
from pfx.errors import TableRetry
from pfx.smtpd.access import find
from pfx.smtpd.checks import DUNNO, restriction
from pfx.tables import match


def _reply(state, text):
    return Reply(553, Dsn("5.7.1"), f"<{state.sender}>: Sender address rejected: {text}")


@defer.inlineCallbacks
def _owners(state):
    """-> the login names that own the sender, [] when unlisted, or a 451 Reply."""
    spec = state.config.sasl.login_maps
    keys = match.mapping_keys(state.sender, state.config.recipient_delimiter)
    try:
        value = yield find(state.tables.open_list(spec), keys)
    except TableRetry:
        return Reply(451, Dsn("4.3.0"), f"<{state.sender}>: Temporary lookup failure")  # reject_dict_retry()
    return [w for w in re.split(r"[\s,]+", value or "") if w]


@defer.inlineCallbacks
def _mismatch(state, authenticated=True, unauthenticated=True, known_only=False):
    config = getattr(state.config, "sasl", None)
    if not state.sender or config is None or not config.login_maps or state.tables is None:
        return DUNNO
    if state.sasl_authenticated and not authenticated:
        return DUNNO
    if not state.sasl_authenticated and not unauthenticated:
        return DUNNO
    owners = yield _owners(state)
    if isinstance(owners, Reply):
        return owners
    if state.sasl_authenticated:
        if known_only and not owners:
            return DUNNO
        login = state.sasl_username
        if any(o.lower() == login.lower() for o in owners):
            return DUNNO
        return _reply(state, f"not owned by user {login}")
    if owners:
        return _reply(state, "not logged in")
    return DUNNO


@restriction("reject_sender_login_mismatch")
def reject_sender_login_mismatch(state, arg):
    return _mismatch(state)


@restriction("reject_authenticated_sender_login_mismatch")
def reject_authenticated_sender_login_mismatch(state, arg):
    return _mismatch(state, unauthenticated=False)


@restriction("reject_known_sender_login_mismatch")
def reject_known_sender_login_mismatch(state, arg):
    return _mismatch(state, known_only=True)


@restriction("reject_unauthenticated_sender_login_mismatch")
def reject_unauthenticated_sender_login_mismatch(state, arg):
    return _mismatch(state, authenticated=False)


@restriction("reject_unauth_sender_login_mismatch")
def reject_unauth_sender_login_mismatch(state, arg):
    return _mismatch(state, authenticated=False)
