"""CleanupConfig.from_settings: the rewriting and checks parameters reach their tables."""

from pfx.cleanup.config import CleanupConfig
from pfx.cleanup.params import PARAMETERS
from pfx.config.core import CORE_PARAMS
from pfx.config.params import ParamRegistry
from pfx.config.settings import Setting, Settings
from pfx.tables.registry import Registry
from pfx.tables.types import builtin_types


def settings(**values):
    registry = ParamRegistry(CORE_PARAMS)
    registry.add_declarations(PARAMETERS)
    base = {"myhostname": "mx.example.test", "inet_protocols": "ipv4"}
    base.update(values)
    return Settings(registry, {k: Setting(v) for k, v in base.items()})


def test_defaults_are_postfix_s():
    cfg = CleanupConfig.from_settings(settings(), Registry(builtin_types()))
    m = cfg.mappings
    assert m.canonical_maps is None and m.virtual_alias_maps is None
    assert m.sender_canonical_classes == {"envelope_sender", "header_sender"}
    assert m.masquerade_classes == {"envelope_sender", "header_sender", "header_recipient"}
    assert m.propagate == {"canonical", "virtual"}
    assert (m.recursion_limit, m.expansion_limit, m.address_length_limit) == (1000,) * 3
    assert cfg.header_checks is None and cfg.body_checks_size_limit == 51200
    assert not cfg.remote_canon.enabled


def test_maps_and_checks_are_opened_and_mime_checks_default_to_header_checks():
    cfg = CleanupConfig.from_settings(settings(
        virtual_maps="inline:{a@v.test=b@x.test}", canonical_maps="inline:{x=y}",
        header_checks="inline:{x=REJECT}", masquerade_domains="!a.example.com example.com",
        remote_header_rewrite_domain="domain.invalid", always_bcc="archive@example.com",
        disable_mime_input_processing="no"), Registry(builtin_types()))
    m = cfg.mappings
    assert m.virtual_alias_maps.lookup("a@v.test") == "b@x.test"
    assert m.canonical_maps.lookup("x") == "y"
    assert cfg.mime_header_checks.lookup("x") == "REJECT"
    assert cfg.nested_header_checks.lookup("x") == "REJECT"
    assert m.masquerade_domains == ("!a.example.com", "example.com")
    assert cfg.remote_canon.myorigin == "domain.invalid"
    assert m.always_bcc == "archive@example.com"
    assert "mx.example.test" in m.local_domains
