"""The open-relay trick matrix: what resolve tells smtpd about routed recipients.

Rows are (RCPT address in internal form, flags, recipient, permitted when
allow_untrusted_routing = no, permitted when yes). Flags and recipients were recorded
from Postfix 3.7's trivial-rewrite; "permitted" is smtpd's permit_auth_destination
(reject_unauth_destination's test) applied to those flags: a final or relay_domains
destination, unless ROUTED and untrusted routing is off, never when ERROR or FAIL.
With the default knobs the percent hack, bang paths and quoted local parts are opened
up inside local domains, so a trick either turns into a plain remote (default class)
recipient or stays ROUTED; either way the client needs permission to relay.
"""

import pytest
from address_helpers import flag_names, make_settings

from pfx.address.resolve import resolve

DEFAULT_KNOBS = [
    ('user%foreign.test@example.com', 'DEFAULT', 'user@foreign.test', False, False),
    ('foreign.test!user@example.com', 'DEFAULT', 'user@foreign.test', False, False),
    ('@example.com:user@foreign.test', 'ROUTED|DEFAULT', '@example.com:user@foreign.test', False, False),
    ('user@foreign.test@example.com', 'DEFAULT', 'user@foreign.test', False, False),
    ('user@[127.0.0.1]', 'LOCAL', 'user@[127.0.0.1]', True, True),
    ('user@[192.0.2.9]', 'DEFAULT', 'user@[192.0.2.9]', False, False),
    ('user%foreign.test@[127.0.0.1]', 'DEFAULT', 'user@foreign.test', False, False),
    ('user%foreign.test@localhost', 'DEFAULT', 'user@foreign.test', False, False),
    ('user%foreign.test%example.com@example.com', 'DEFAULT', 'user@foreign.test', False, False),
    ('foreign.test!user%example.com@example.com', 'ROUTED|DEFAULT', 'user%example.com@foreign.test', False, False),
    ('example.com!foreign.test!user@example.com', 'DEFAULT', 'user@foreign.test', False, False),
    ('user@foreign.test@localhost@example.com', 'DEFAULT', 'user@foreign.test', False, False),
    ('@localhost,@example.com:user@foreign.test', 'ROUTED|DEFAULT', '@localhost, @example.com:user@foreign.test', False, False),
    ('user%foreign.test@relay.test', 'ROUTED|RELAY', 'user%foreign.test@relay.test', False, True),
    ('foreign.test!user@relay.test', 'ROUTED|RELAY', 'foreign.test!user@relay.test', False, True),
    ('user@foreign.test@relay.test', 'ROUTED|RELAY', 'user@foreign.test@relay.test', False, True),
    ('@relay.test:user@foreign.test', 'ROUTED|DEFAULT', '@relay.test:user@foreign.test', False, False),
    ('@foreign.test:user@relay.test', 'ROUTED|RELAY', '@foreign.test:user@relay.test', False, True),
    ('user%relay.test@example.com', 'RELAY', 'user@relay.test', True, True),
    ('user%vmbox.test@example.com', 'VIRTUAL', 'user@vmbox.test', True, True),
    ('user@vmbox.test@example.com', 'VIRTUAL', 'user@vmbox.test', True, True),
    ('user%foreign.test@vmbox.test', 'ROUTED|VIRTUAL', 'user%foreign.test@vmbox.test', False, True),
    ('user%localhost@example.com', 'LOCAL', 'user@localhost', True, True),
    ('user@example.com', 'LOCAL', 'user@example.com', True, True),
    ('user@foreign.test', 'DEFAULT', 'user@foreign.test', False, False),
    ('user@relay.test', 'RELAY', 'user@relay.test', True, True),
    ('user@127.0.0.1', 'ERROR|DEFAULT', 'user@127.0.0.1', False, False),
    ('user%[192.0.2.9]@example.com', 'DEFAULT', 'user@[192.0.2.9]', False, False),
    ('user%foreign.test.@example.com', 'DEFAULT', 'user@foreign.test', False, False),
    ('user%foreign.test@example.com.', 'DEFAULT', 'user@foreign.test', False, False),
    ('foreign.test!user', 'DEFAULT', 'user@foreign.test', False, False),
    ('user%foreign.test', 'DEFAULT', 'user@foreign.test', False, False),
    ('user@foreign.test%example.com', 'ERROR|DEFAULT', 'user@foreign.test%example.com', False, False),
]

# resolve_dequoted_address = no, swap_bangpath = no, allow_percent_hack = no: the
# tricks stay in a local domain but are flagged ROUTED, so smtpd still refuses them.
KNOBS_OFF = [
    ('user%foreign.test@example.com', 'ROUTED|LOCAL', 'user%foreign.test@example.com', False, True),
    ('foreign.test!user@example.com', 'ROUTED|LOCAL', 'foreign.test!user@example.com', False, True),
    ('@example.com:user@foreign.test', 'ROUTED|DEFAULT', '@example.com:user@foreign.test', False, False),
    ('user@foreign.test@example.com', 'ROUTED|LOCAL', 'user@foreign.test@example.com', False, True),
    ('user@[127.0.0.1]', 'LOCAL', 'user@[127.0.0.1]', True, True),
    ('user@[192.0.2.9]', 'DEFAULT', 'user@[192.0.2.9]', False, False),
    ('user%foreign.test@[127.0.0.1]', 'ROUTED|LOCAL', 'user%foreign.test@[127.0.0.1]', False, True),
    ('user%foreign.test@localhost', 'ROUTED|LOCAL', 'user%foreign.test@localhost', False, True),
    ('user%foreign.test%example.com@example.com', 'ROUTED|LOCAL', 'user%foreign.test%example.com@example.com', False, True),
    ('foreign.test!user%example.com@example.com', 'ROUTED|LOCAL', 'foreign.test!user%example.com@example.com', False, True),
    ('example.com!foreign.test!user@example.com', 'ROUTED|LOCAL', 'example.com!foreign.test!user@example.com', False, True),
    ('user@foreign.test@localhost@example.com', 'ROUTED|LOCAL', 'user@foreign.test@localhost@example.com', False, True),
    ('@localhost,@example.com:user@foreign.test', 'ROUTED|DEFAULT', '@localhost, @example.com:user@foreign.test', False, False),
    ('user%foreign.test@relay.test', 'ROUTED|RELAY', 'user%foreign.test@relay.test', False, True),
    ('foreign.test!user@relay.test', 'ROUTED|RELAY', 'foreign.test!user@relay.test', False, True),
    ('user@foreign.test@relay.test', 'ROUTED|RELAY', 'user@foreign.test@relay.test', False, True),
    ('@relay.test:user@foreign.test', 'ROUTED|DEFAULT', '@relay.test:user@foreign.test', False, False),
    ('@foreign.test:user@relay.test', 'ROUTED|RELAY', '@foreign.test:user@relay.test', False, True),
    ('user%relay.test@example.com', 'ROUTED|LOCAL', 'user%relay.test@example.com', False, True),
    ('user%vmbox.test@example.com', 'ROUTED|LOCAL', 'user%vmbox.test@example.com', False, True),
    ('user@vmbox.test@example.com', 'ROUTED|LOCAL', 'user@vmbox.test@example.com', False, True),
    ('user%foreign.test@vmbox.test', 'ROUTED|VIRTUAL', 'user%foreign.test@vmbox.test', False, True),
    ('user%localhost@example.com', 'ROUTED|LOCAL', 'user%localhost@example.com', False, True),
    ('user@example.com', 'LOCAL', 'user@example.com', True, True),
    ('user@foreign.test', 'DEFAULT', 'user@foreign.test', False, False),
    ('user@relay.test', 'RELAY', 'user@relay.test', True, True),
    ('user@127.0.0.1', 'LOCAL', 'user@[127.0.0.1]', True, True),
    ('user%[192.0.2.9]@example.com', 'ROUTED|LOCAL', 'user%[192.0.2.9]@example.com', False, True),
    ('user%foreign.test.@example.com', 'ROUTED|LOCAL', 'user%foreign.test.@example.com', False, True),
    ('user%foreign.test@example.com.', 'ROUTED|LOCAL', 'user%foreign.test@example.com', False, True),
    ('foreign.test!user', 'ROUTED|LOCAL', 'foreign.test!user@mail.example.com', False, True),
    ('user%foreign.test', 'ROUTED|LOCAL', 'user%foreign.test@mail.example.com', False, True),
    ('user@foreign.test%example.com', 'ERROR|DEFAULT', 'user@foreign.test%example.com', False, False),
]

BASE = make_settings()
OFF = make_settings(resolve_dequoted_address=False, swap_bangpath=False, allow_percent_hack=False,
                    resolve_null_domain=True, resolve_numeric_domain=True, allow_min_user=True)


@pytest.mark.parametrize("address, flags, recipient, strict, lenient", DEFAULT_KNOBS)
def test_relay_tricks_default_knobs(address, flags, recipient, strict, lenient):
    result = resolve(address, BASE)
    assert (flag_names(result.flags), result.recipient) == (flags, recipient)
    assert result.auth_destination() is strict
    assert result.auth_destination(allow_untrusted_routing=True) is lenient


@pytest.mark.parametrize("address, flags, recipient, strict, lenient", KNOBS_OFF)
def test_relay_tricks_knobs_off(address, flags, recipient, strict, lenient):
    result = resolve(address, OFF)
    assert (flag_names(result.flags), result.recipient) == (flags, recipient)
    assert result.auth_destination() is strict
    assert result.auth_destination(allow_untrusted_routing=True) is lenient


@pytest.mark.parametrize("address", [row[0] for row in DEFAULT_KNOBS + KNOBS_OFF])
def test_no_trick_reaches_a_foreign_domain_as_a_permitted_destination(address):
    for settings in (BASE, OFF):
        result = resolve(address, settings)
        domain = result.recipient.rpartition("@")[2]
        if "foreign" in domain or domain == "[192.0.2.9]":
            assert not result.auth_destination()
