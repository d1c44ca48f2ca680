"""cleanup's address mappings: virtual(5), canonical(5), masquerading, bcc maps (pure)."""

import pytest

from pfx.address.rewrite import CanonSettings
from pfx.cleanup.addresses import rewrite_envelope
from pfx.cleanup.mapping import (
    EXPANSION_ERROR, LOOKUP_PROBLEM, Mappings, MappingError, canonical, expand_virtual,
    masquerade, rewrite_recipient, rewrite_sender,
)
from pfx.envelope import Envelope, Recipient
from pfx.tables.registry import Registry
from pfx.tables.types import builtin_types

CANON = CanonSettings(myorigin="example.com", mydomain="example.com")
REG = Registry(builtin_types(), warn=lambda m: None)


def tables(text):
    return REG.open_list(text)


def maps(**kw):
    kw.setdefault("local_domains", frozenset({"example.com"}))
    for name, value in list(kw.items()):
        if name.endswith("_maps") and isinstance(value, str):
            kw[name] = tables(value)
    return Mappings(**kw)


# -- virtual(5) ---------------------------------------------------------------------

def test_virtual_one_to_many_recursive_and_catch_all():
    m = maps(virtual_alias_maps="inline:{ postmaster@virt.test=root@example.com, "
             "{list@virt.test=a@virt.test, b@other.test}, a@virt.test=alice@example.com, "
             "@catch.test=catchall@example.com }")
    assert expand_virtual("postmaster@virt.test", m, "Q") == ["root@example.com"]
    assert expand_virtual("list@virt.test", m, "Q") == ["alice@example.com", "b@other.test"]
    assert expand_virtual("anyone@catch.test", m, "Q") == ["catchall@example.com"]
    assert expand_virtual("nobody@virt.test", m, "Q") == ["nobody@virt.test"]


def test_virtual_domain_rename_keeps_the_user():
    # virtual(5): "@example.net @example.com" maps user@example.net to user@example.com
    m = maps(virtual_alias_maps="inline:{@example.net=@example.com}")
    assert expand_virtual("joe@example.net", m, "Q") == ["joe@example.com"]


def test_virtual_extension_is_propagated_unless_told_not_to():
    text = "inline:{joe@virt.test=joe@example.com}"
    m = maps(virtual_alias_maps=text, recipient_delimiter="+")
    assert expand_virtual("joe+x@virt.test", m, "Q") == ["joe+x@example.com"]
    m = maps(virtual_alias_maps=text, recipient_delimiter="+", propagate=frozenset())
    assert expand_virtual("joe+x@virt.test", m, "Q") == ["joe@example.com"]


def test_an_address_may_expand_to_itself_once():
    m = maps(virtual_alias_maps="inline:{{a@v.test=a@v.test, b@v.test}}")
    assert expand_virtual("a@v.test", m, "Q") == ["a@v.test", "b@v.test"]


def test_a_loop_hits_the_recursion_limit():
    m = maps(virtual_alias_maps="inline:{a@v.test=b@v.test, b@v.test=a@v.test}",
             recursion_limit=20)
    with pytest.raises(MappingError) as info:
        expand_virtual("a@v.test", m, "QID")
    assert info.value.reply == EXPANSION_ERROR
    assert info.value.warning.startswith("QID: unreasonable virtual_alias_maps map nesting")


def test_expansion_and_length_limits():
    many = ", ".join(f"u{i}@x.test" for i in range(5))
    m = maps(virtual_alias_maps="inline:{{big@v.test=" + many + "}}", expansion_limit=3)
    with pytest.raises(MappingError, match="map expansion size"):
        expand_virtual("big@v.test", m, "Q")
    m = maps(virtual_alias_maps="inline:{a@v.test=" + "x" * 50 + "@x.test}",
             address_length_limit=20)
    with pytest.raises(MappingError, match="unreasonable virtual_alias_maps result"):
        expand_virtual("a@v.test", m, "Q")


def test_a_soft_lookup_failure_refuses_with_451():
    m = maps(virtual_alias_maps="fail:down")
    with pytest.raises(MappingError) as info:
        expand_virtual("a@v.test", m, "Q")
    assert info.value.reply == LOOKUP_PROBLEM and str(info.value.reply).startswith("451 4.3.0")
    assert "virtual_alias_maps map lookup problem for a@v.test" in info.value.warning


def test_quoted_local_parts_are_unquoted_internally():
    m = maps(virtual_alias_maps='inline:{{"john doe"@v.test="john.doe"@example.com, '
             '"x y"@example.com}}')
    assert expand_virtual("john doe@v.test", m, "Q") == ["john.doe@example.com",
                                                         "x y@example.com"]


def test_envelope_expansion_keeps_orig_and_deduplicates():
    m = maps(virtual_alias_maps="inline:{{list@v.test=a@example.com, b@example.com}, "
             "{b2@v.test=b@example.com}}")
    env = Envelope("s@example.com", (Recipient("list@v.test"), Recipient("b2@v.test"),
                                     Recipient("a@example.com")))
    out = rewrite_envelope(env, CANON, mappings=m)
    assert [(r.address, r.orig) for r in out.recipients] == [
        ("a@example.com", "list@v.test"), ("b@example.com", "list@v.test"),
        ("b@example.com", "b2@v.test"), ("a@example.com", None)]
    # the de-duplication key includes ORCPT: without distinct ORCPTs they fold
    plain = Envelope("s@example.com", (Recipient("list@v.test"), Recipient("list@v.test")))
    assert len(rewrite_envelope(plain, CANON, mappings=m).recipients) == 2


# -- canonical(5) --------------------------------------------------------------------

def test_canonical_lookup_order_and_at_domain():
    m = maps(canonical_maps="inline:{ wietse@example.com=Wietse.Venema@example.com, "
             "joe=Joe.User@example.com, @old.test=@new.test }")
    assert canonical("wietse@example.com", m.canonical_maps, m, "canonical_maps", "Q") \
        == "Wietse.Venema@example.com"
    # a bare user key matches only in a local domain
    assert canonical("joe@example.com", m.canonical_maps, m, "canonical_maps", "Q") \
        == "Joe.User@example.com"
    assert canonical("joe@remote.test", m.canonical_maps, m, "canonical_maps", "Q") \
        == "joe@remote.test"
    assert canonical("ann@old.test", m.canonical_maps, m, "canonical_maps", "Q") \
        == "ann@new.test"


def test_canonical_nesting_is_bounded():
    m = maps(canonical_maps="inline:{a@x.test=b@x.test, b@x.test=a@x.test}")
    with pytest.raises(MappingError, match="unreasonable canonical_maps map nesting"):
        canonical("a@x.test", m.canonical_maps, m, "canonical_maps", "Q")


def test_sender_and_recipient_maps_first_then_canonical_by_class():
    m = maps(sender_canonical_maps="inline:{s@x.test=s1@x.test}",
             recipient_canonical_maps="inline:{r@x.test=r1@x.test}",
             canonical_maps="inline:{s1@x.test=S@final.test, r1@x.test=R@final.test}")
    assert rewrite_sender("s@x.test", m, "Q") == "S@final.test"
    assert rewrite_recipient("r@x.test", m, "Q") == "R@final.test"
    # sender maps do not apply to recipients
    assert rewrite_recipient("s@x.test", m, "Q") == "s@x.test"
    only_env = maps(canonical_maps="inline:{a@x.test=b@x.test}",
                    canonical_classes=frozenset({"envelope_sender"}))
    assert rewrite_sender("a@x.test", only_env, "Q") == "b@x.test"
    assert rewrite_sender("a@x.test", only_env, "Q", klass="header_sender") == "a@x.test"
    assert rewrite_recipient("a@x.test", only_env, "Q") == "a@x.test"


# -- masquerading ---------------------------------------------------------------------

def test_masquerade_domains_with_exceptions():
    m = maps(masquerade_domains=("!chairman.cs.nctu.edu.tw", "cs.nctu.edu.tw"),
             masquerade_exceptions=("root",))
    assert masquerade("joe@host.cs.nctu.edu.tw", m) == "joe@cs.nctu.edu.tw"
    assert masquerade("x@chairman.cs.nctu.edu.tw", m) == "x@chairman.cs.nctu.edu.tw"
    assert masquerade("root@host.cs.nctu.edu.tw", m) == "root@host.cs.nctu.edu.tw"
    assert masquerade("joe@cs.nctu.edu.tw", m) == "joe@cs.nctu.edu.tw"


def test_masquerade_classes_leave_the_envelope_recipient_alone_by_default():
    m = maps(masquerade_domains=("example.com",))
    env = Envelope("joe@host.example.com", (Recipient("ann@host.example.com"),))
    out = rewrite_envelope(env, CANON, mappings=m)
    assert out.sender == "joe@example.com"
    assert out.recipients[0].address == "ann@host.example.com"
    assert rewrite_recipient("ann@host.example.com", m, "Q", klass="header_recipient") \
        == "ann@example.com"


# -- bcc --------------------------------------------------------------------------------

def test_always_bcc_and_bcc_maps_add_notify_never_recipients():
    m = maps(always_bcc="archive", sender_bcc_maps="inline:{s@example.com=sbcc@example.com}",
             recipient_bcc_maps="inline:{@v.test=rbcc@example.com}",
             virtual_alias_maps="inline:{archive@example.com=arch1@example.com}")
    env = Envelope("s@example.com", (Recipient("u@v.test"),))
    out = rewrite_envelope(env, CANON, mappings=m)
    assert [(r.address, r.notify) for r in out.recipients] == [
        ("u@v.test", frozenset()),
        ("rbcc@example.com", frozenset({"NEVER"})),
        ("sbcc@example.com", frozenset({"NEVER"})),
        ("arch1@example.com", frozenset({"NEVER"}))]
