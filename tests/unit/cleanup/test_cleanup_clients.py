"""local_header_rewrite_clients: who counts as a local submitter."""

import ipaddress

from pfx.cleanup.clients import LocalClients
from pfx.cleanup.config import CleanupConfig
from pfx.cleanup.params import PARAMETERS
from pfx.config.core import CORE_PARAMS
from pfx.config.params import ParamRegistry
from pfx.config.settings import Setting, Settings
from pfx.envelope import Client, Envelope, Recipient
from pfx.queue.qid import QueueId
from tests.unit.cleanup.cleanup_fakes import make_submitter, result_of

OWN = [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]


def client(addr, **kw):
    return Client(name="c", addr=addr, protocol="ESMTP", **kw)


def test_each_rule():
    default = LocalClients.build(["permit_inet_interfaces"], OWN, ["10.0.0.0/8"])
    assert default.is_local(client("127.0.0.1")) and default.is_local(client("::1"))
    assert not default.is_local(client("10.1.2.3"))
    assert default.is_local(Client(protocol="local"))
    nets = LocalClients.build(["permit_mynetworks"], OWN, ["10.0.0.0/8", "[2001:db8::]/32",
                                                           "hash:/etc/x"])
    assert nets.is_local(client("10.1.2.3")) and nets.is_local(client("2001:db8::5"))
    assert not nets.is_local(client("127.0.0.1")) and not nets.is_local(client("unknown"))
    sasl = LocalClients.build(["permit_sasl_authenticated"], OWN, [])
    assert sasl.is_local(client("192.0.2.1", sasl_username="bob"))
    assert not sasl.is_local(client("192.0.2.1"))
    assert LocalClients.build(["static:all"], [], []).is_local(client("192.0.2.1"))
    assert not LocalClients.build([], OWN, []).is_local(client("127.0.0.1"))


def test_config_reads_inet_interfaces_and_mynetworks():
    registry = ParamRegistry(CORE_PARAMS)
    registry.add_declarations(PARAMETERS)
    settings = Settings(registry, {
        "inet_interfaces": Setting("127.0.0.1"), "inet_protocols": Setting("ipv4"),
        "mynetworks": Setting("192.0.2.0/24"), "myhostname": Setting("mx.example.test"),
        "local_header_rewrite_clients": Setting("permit_inet_interfaces, permit_mynetworks")})
    cfg = CleanupConfig.from_settings(settings)
    assert cfg.local_clients.is_local(client("127.0.0.1"))
    assert cfg.local_clients.is_local(client("192.0.2.9"))
    assert not cfg.local_clients.is_local(client("198.51.100.1"))
    assert cfg.canon.myorigin == "mx.example.test"


def test_smtp_from_a_local_address_gets_missing_headers(tmp_path):
    sub, _ = make_submitter(tmp_path, local_clients=LocalClients.build(
        ["permit_inet_interfaces"], OWN, []))
    w = sub.open_message(Envelope("a@example.test", (Recipient("b@example.test"),),
                                  client=client("127.0.0.1")))
    w.write(b"Subject: hi\r\n\r\nbody\r\n")
    qid = result_of(w.commit())
    with sub.store.open("incoming", QueueId(qid)) as r:
        content = b"".join(r.iter_content())
    assert b"\nMessage-Id: <" in content and b"\nFrom: a@example.test\n" in content
