"""The header rewriting's short cuts give the full path's answers."""

import pytest

from pfx.address.rewrite import CanonSettings
from pfx.cleanup import header_rewrite as H
from pfx.cleanup.mapping import HEADER_SENDER, Mappings

CANON = CanonSettings(myorigin="origin.test", mydomain="dom.test", append_dot_mydomain=True)
VALUES = ["a@b.test", " <A.B+c@x-y.z.test>", "a!b%c@x.test", "user", "user@host",
          "a@b.test.", "@r.test:u@x.test", "Joe <joe>", "a@b.test, c", "a@[1.2.3.4]",
          "(c) a@b.test", "\"q r\"@x.test", "a@b.test\n\tc@d.test", "site!user", "u%v"]


@pytest.mark.parametrize("value", VALUES)
def test_the_short_cut_answers_as_the_full_path(value):
    fast = H.header_rewriter(CANON, Mappings(), 10240, "QID", None)
    assert fast.func is H._canonical_only  # no map applies: the short cut is taken
    assert fast(HEADER_SENDER, value) == H._canonical_value(value, CANON, 10240)
    assert fast(HEADER_SENDER, value) == fast(HEADER_SENDER, value)  # and from the cache


def test_local_context_still_qualifies_header_addresses():
    fast = H.header_rewriter(CANON, Mappings(), 10240, "QID", None)
    assert fast(HEADER_SENDER, "Joe <joe>") == "Joe <joe@origin.test>"
    assert fast(HEADER_SENDER, "joe@host") == "joe@host.dom.test"
    assert fast(HEADER_SENDER, "joe@host.test.") == "joe@host.test"
    assert H.header_rewriter(CanonSettings(enabled=False), Mappings(), 10240, "Q", None) is None


def test_the_token_limit_still_applies_to_plain_values():
    fast = H.header_rewriter(CANON, Mappings(), 3, "QID", None)
    assert fast(HEADER_SENDER, "a@b.test") == H._canonical_value("a@b.test", CANON, 3)


def test_maps_or_masquerading_for_headers_take_the_full_path():
    assert H.maps_are_identity(Mappings())
    assert not H.maps_are_identity(Mappings(masquerade_domains=("x.test",)))
    assert H.maps_are_identity(Mappings(masquerade_domains=("x.test",),
                                        masquerade_classes=frozenset({"envelope_sender"})))
    assert not H.maps_are_identity(Mappings(canonical_maps=object()))
    assert H.maps_are_identity(Mappings(sender_canonical_maps=object(),
                                        sender_canonical_classes=frozenset({"envelope_sender"})))
    rewrite = H.header_rewriter(CANON, Mappings(masquerade_domains=("b.test",)), 10240, "Q", None)
    assert not hasattr(rewrite, "func")
    assert rewrite(HEADER_SENDER, "u@a.b.test") == "u@b.test"
