"""qmgr acting on cleanup's queue-file attributes (REDIRECT, FILTER), and relocated_maps
for mail already queued."""

from pfx.envelope import Envelope, Recipient
from pfx.qmgr.policy import SchedulerConfig, TransportPolicy
from pfx.qmgr.routing import filter_route

from qmgr_fakes import CONTENT, FakeAgent, World, resolve_settings


def _world(tmp_path, **kwargs):
    w = World(tmp_path, config=SchedulerConfig(transports={
        "smtp": TransportPolicy("smtp"), "scan": TransportPolicy("scan")}), **kwargs)
    w.agents["scan"] = FakeAgent(w.clock, relay="scan[127.0.0.1]:10025")
    return w


def _submit(w, rcpts, attributes=(), extracted_attributes=()):
    """A queue file like cleanup writes: envelope attributes, then the checks' results
    in the extracted segment."""
    recipients = tuple(r if isinstance(r, Recipient) else Recipient(r) for r in rcpts)
    env = Envelope("sender@example.org", recipients, arrival=w.clock.seconds())
    writer = w.store.new_file(env, attributes=attributes)
    writer.write(CONTENT)
    return writer.commit((), extracted_attributes)


def _sent(w, qid):
    return [x for x in w.log.with_id(qid) if "status=sent" in x]


# -- REDIRECT --------------------------------------------------------------------------


def test_redirect_sends_one_copy_to_the_redirect_address(tmp_path):
    w = _world(tmp_path)
    qid = _submit(w, ("a@example.com", "b@example.net", "c@example.com"),
                  extracted_attributes=(("redirect", "abuse@example.org"),))
    w.manager.start()
    requests = w.agents["smtp"].requests
    assert [[r.address for r in q.recipients] for q in requests] == [["abuse@example.org"]]
    assert requests[0].nexthop == "example.org"
    [rcpt] = requests[0].recipients
    assert rcpt.orig == "a@example.com"
    # Postfix: one delivery, logged with the first original recipient as orig_to
    assert _sent(w, qid) == [
        f"{qid}: to=<abuse@example.org>, orig_to=<a@example.com>, relay=fake[127.0.0.1], "
        f"delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered)"]
    assert w.log.lines[-1] == f"{qid}: removed"
    assert w.notifier.flushed == []


def test_redirect_keeps_an_existing_original_recipient(tmp_path):
    w = _world(tmp_path)
    qid = _submit(w, (Recipient("user@example.com", orig="alias@example.com"),),
                  extracted_attributes=(("redirect", "abuse@example.org"),))
    w.manager.start()
    assert "to=<abuse@example.org>, orig_to=<alias@example.com>," in _sent(w, qid)[0]


def test_redirected_message_deferred_is_redirected_again(tmp_path):
    w = _world(tmp_path)
    w.agents["smtp"].plan = lambda address: ("deferred", "4.4.1", "connect failed")
    qid = _submit(w, ("a@example.com", "b@example.com"),
                  extracted_attributes=(("redirect", "abuse@example.org"),))
    w.manager.start()
    assert w.where(qid) == "deferred"
    w.agents["smtp"].plan = lambda address: ("sent", "2.0.0", "delivered")
    w.clock.advance(1000)  # past the backoff and the dead-destination time
    w.manager.kick(b"D")
    addresses = [[r.address for r in q.recipients] for q in w.agents["smtp"].requests]
    assert addresses == [["abuse@example.org"], ["abuse@example.org"]]
    assert w.where(qid) is None


def test_redirect_overrides_a_content_filter(tmp_path):
    w = _world(tmp_path)
    qid = _submit(w, ("a@example.com",), extracted_attributes=(
        ("content_filter", "scan:[127.0.0.1]:10025"), ("redirect", "abuse@example.org")))
    w.manager.start()
    assert w.agents["scan"].requests == []
    assert [r.address for r in w.agents["smtp"].requests[0].recipients] == [
        "abuse@example.org"]
    assert w.where(qid) is None


def test_redirect_to_a_relocated_address_bounces(tmp_path):
    settings = resolve_settings(relocated={"old@example.com": "new@example.net"}.get)
    w = _world(tmp_path, settings=settings)
    qid = _submit(w, ("a@example.com",), extracted_attributes=(
        ("redirect", "old@example.com"),))
    w.manager.start()
    assert (f"{qid}: to=<old@example.com>, orig_to=<a@example.com>, relay=none, delay=0, "
            f"delays=0/0/0/0, dsn=5.1.6, status=bounced (User has moved to "
            f"new@example.net)") in w.log.lines
    assert w.notifier.flushed == [("bounce", str(qid), ("old@example.com",))]


# -- FILTER / content_filter -----------------------------------------------------------


def test_filter_sends_every_recipient_to_the_filter_transport(tmp_path):
    transports = {"example.net": "smtp:[relay.example.net]"}
    w = _world(tmp_path, settings=resolve_settings(transport_maps=transports.get))
    qid = _submit(w, ("a@example.com", "b@example.net", "postmaster@mx.example.test"),
                  extracted_attributes=(("content_filter", "scan:[127.0.0.1]:10025"),))
    w.manager.start()
    assert w.agents["smtp"].requests == []
    [request] = w.agents["scan"].requests
    assert request.transport == "scan" and request.nexthop == "[127.0.0.1]:10025"
    assert [r.address for r in request.recipients] == [
        "a@example.com", "b@example.net", "postmaster@mx.example.test"]
    assert len(_sent(w, qid)) == 3
    assert all("relay=scan[127.0.0.1]:10025," in x for x in _sent(w, qid))
    assert w.log.lines[-1] == f"{qid}: removed"


def test_filter_without_a_destination_uses_the_recipient_domain(tmp_path):
    w = _world(tmp_path)
    _submit(w, ("a@example.com", "b@example.net", "c@example.com"),
            extracted_attributes=(("content_filter", "scan:"),))
    w.manager.start()
    got = sorted((q.nexthop, tuple(r.address for r in q.recipients))
                 for q in w.agents["scan"].requests)
    assert got == [("example.com", ("a@example.com", "c@example.com")),
                   ("example.net", ("b@example.net",))]


def test_filter_overrides_relocated_and_the_double_bounce_discard(tmp_path):
    # Postfix: content filtering overrides the address resolver altogether
    settings = resolve_settings(relocated={"old@example.com": "new@example.net"}.get)
    w = _world(tmp_path, settings=settings)
    _submit(w, ("old@example.com", "double-bounce@mx.example.test"),
            extracted_attributes=(("content_filter", "scan:[127.0.0.1]:10025"),))
    w.manager.start()
    [request] = w.agents["scan"].requests
    assert [r.address for r in request.recipients] == [
        "old@example.com", "double-bounce@mx.example.test"]


def test_the_checks_filter_overrides_the_envelope_content_filter(tmp_path):
    # main.cf content_filter is an envelope attribute; a FILTER action comes later
    w = _world(tmp_path)
    _submit(w, ("a@example.com",), attributes=(("content_filter", "smtp:[10.0.0.1]"),),
            extracted_attributes=(("content_filter", "scan:[127.0.0.1]:10025"),))
    w.manager.start()
    assert w.agents["smtp"].requests == []
    assert w.agents["scan"].requests[0].nexthop == "[127.0.0.1]:10025"


def test_envelope_content_filter_alone_is_used(tmp_path):
    w = _world(tmp_path)
    _submit(w, ("a@example.com",), attributes=(("content_filter", "scan:[127.0.0.1]:10025"),))
    w.manager.start()
    assert w.agents["scan"].requests[0].nexthop == "[127.0.0.1]:10025"


def test_filter_to_a_transport_without_agent_defers(tmp_path):
    w = _world(tmp_path)
    del w.agents["scan"]
    qid = _submit(w, ("a@example.com",),
                  extracted_attributes=(("content_filter", "scan:[127.0.0.1]:10025"),))
    w.manager.start()
    assert w.agents["smtp"].requests == []
    assert any("status=deferred" in x for x in w.log.with_id(qid))
    assert w.where(qid) == "deferred"


def test_bad_filter_is_ignored_with_one_warning(tmp_path):
    w = _world(tmp_path)
    qid = _submit(w, ("a@example.com", "b@example.com"),
                  extracted_attributes=(("content_filter", ":[127.0.0.1]"),))
    w.manager.start()
    warnings = [x for x in w.log.lines if x.startswith("warning:")]
    assert warnings == [f'warning: {qid}: bad content_filter ":[127.0.0.1]": '
                        f"need transport:destination; ignored"]
    assert len(w.agents["smtp"].requests) == 1
    assert w.where(qid) is None


def test_filter_route_pieces():
    assert filter_route("scan:[127.0.0.1]:10025", "a@example.com").nexthop == \
        "[127.0.0.1]:10025"
    assert filter_route("scan:", "a@example.com").nexthop == "example.com"
    assert filter_route("scan:", "a@example.com", "filter.example").nexthop == \
        "filter.example"
    assert filter_route("scan:", "user", myhostname="mx.example.test").nexthop == \
        "mx.example.test"
    assert filter_route("scan", "a@example.com") is None
    assert filter_route(":x", "a@example.com") is None
    held = filter_route("retry:4.3.5 filter is down", "a@example.com")
    assert (held.action, str(held.dsn), held.text) == ("deferred", "4.3.5", "filter is down")
    gone = filter_route("error:5.7.1 no", "a@example.com")
    assert (gone.action, str(gone.dsn), gone.text) == ("bounced", "5.7.1", "no")


# -- relocated_maps for queued mail ----------------------------------------------------


def test_relocated_recipient_after_alias_expansion_bounces_with_5_1_6(tmp_path):
    # cleanup expanded alias@ to old@; qmgr's resolver finds old@ in relocated_maps
    settings = resolve_settings(relocated={"old@example.com": "new@example.net"}.get)
    w = _world(tmp_path, settings=settings)
    qid = _submit(w, (Recipient("old@example.com", orig="alias@example.com"),
                      Recipient("user@example.com", orig="alias@example.com")))
    w.manager.start()
    assert (f"{qid}: to=<old@example.com>, orig_to=<alias@example.com>, relay=none, "
            f"delay=0, delays=0/0/0/0, dsn=5.1.6, status=bounced (User has moved to "
            f"new@example.net)") in w.log.lines
    assert [r.address for r in w.agents["smtp"].requests[0].recipients] == [
        "user@example.com"]
    assert w.notifier.flushed == [("bounce", str(qid), ("old@example.com",))]
    assert w.log.lines[-1] == f"{qid}: removed"
