"""proxyd and chaind's answers over time (component tests: chaind is
simulated by fakechaind.FakeChaind): invalidation pushes cut live
sessions, valid_until ends a grant with no event, chaind down or slow or
unsure fails closed while the session's own cache still serves, answers
are awaited without blocking anything else, in order, and a session that
dies while waiting leaves nothing behind.
"""

import time

import pytest

import mqttraw
from conftest import wait_for
from fakechaind import ALLOW, PUBLISH, SUBSCRIBE, Rule
from test_10_acl import AclWorld, quiet

V5, V311 = mqttraw.V5, mqttraw.V311
NOT_AUTHORIZED = 0x87


@pytest.fixture
def acl(ft):
    worlds = []

    def make(**kw):
        w = AclWorld(ft, **kw)
        worlds.append(w)
        return w

    yield make
    for w in worlds:
        assert w.chaind.errors == [], w.chaind.errors


def publish_rc(conn, topic, packet_id, payload=b"x"):
    """QoS 1 PUBLISH; returns the PUBACK reason, with Mosquitto's 0x10 (no
    matching subscribers), a success, as 0."""
    conn.send(mqttraw.publish(topic, payload, 1, packet_id=packet_id))
    ack = conn.expect(mqttraw.PUBACK)
    assert ack.packet_id == packet_id
    return 0 if ack.reason == 0x10 else ack.reason


# ---- Invalidation -----------------------------------------------------------


def test_revocation_push_cuts_live_sessions(ft, acl, keys):
    w = acl()
    a, b = keys
    w.chaind.allow(PUBLISH, "r/#", a.address)
    w.chaind.allow(SUBSCRIBE, "r/#", b.address)
    sub, _ = w.connect(b, "rev-sub")
    sub.send(mqttraw.subscribe(1, [("r/#", 0)]))
    assert sub.expect(mqttraw.SUBACK).reasons == [0]
    pub, _ = w.connect(a, "rev-pub")
    assert publish_rc(pub, "r/1", 1, b"m1") == 0
    assert sub.expect(mqttraw.PUBLISH).payload == b"m1"

    # The contract changes; until chaind says so, the session's answers
    # stand (that is the cache at work: no question is asked).
    asked = w.chaind.request_count()
    w.chaind.set_rules([Rule(SUBSCRIBE, "r/marker", ALLOW, b.address)])
    assert publish_rc(pub, "r/1", 2, b"m2") == 0
    assert sub.expect(mqttraw.PUBLISH).payload == b"m2"
    assert w.chaind.request_count() == asked

    # An invalidation for someone else changes nothing.
    w.chaind.invalidate("0x" + "ab" * 20)
    w.sync(pub)
    asked = w.chaind.request_count()
    assert publish_rc(pub, "r/1", 3, b"m3") == 0
    assert sub.expect(mqttraw.PUBLISH).payload == b"m3"
    assert w.chaind.request_count() == asked

    # The publisher's grant is revoked: its next PUBLISH is refused.
    w.chaind.invalidate(a.address)
    w.sync(pub)
    assert publish_rc(pub, "r/1", 4, b"m4") == NOT_AUTHORIZED

    # Every address: the subscriber's deliveries stop too.
    w.chaind.invalidate("")
    w.sync(pub)
    w.direct_publish("outsider", [("r/1", b"after", 0, False),
                                  ("r/marker", b"marker", 0, False)])
    m = sub.expect(mqttraw.PUBLISH)
    assert (m.topic, m.payload) == ("r/marker", b"marker")
    quiet(sub)


def test_invalidation_address_is_case_insensitive(ft, acl, keys):
    w = acl()
    a = keys[0]
    w.chaind.allow(PUBLISH, "c/#", a.address)
    pub, _ = w.connect(a, "case")
    assert publish_rc(pub, "c/1", 1) == 0
    w.chaind.set_rules([])
    w.chaind.invalidate("0x" + a.address[2:].upper())
    w.sync(pub)
    assert publish_rc(pub, "c/1", 2) == NOT_AUTHORIZED


def test_invalidation_during_a_pending_check(ft, acl, keys):
    """An answer asked before an invalidation may be stale: it is asked
    again, and the fresh answer decides."""
    w = acl()
    a = keys[0]
    w.chaind.allow(PUBLISH, "p/#", a.address)
    pub, _ = w.connect(a, "stale")
    w.chaind.mode = "hang"
    pub.send(mqttraw.publish("p/1", b"x", 1, packet_id=1))
    w.chaind.wait_requests(1)
    w.chaind.set_rules([])  # revoked meanwhile
    w.chaind.invalidate(a.address)
    w.chaind.mode = "answer"
    # The answer to the first question, computed before the revocation,
    # arrives after the push: proxyd must not use it.
    w.chaind.answer_held((ALLOW, 0, False, ""))
    ack = pub.expect(mqttraw.PUBACK)
    assert ack.reason == NOT_AUTHORIZED
    assert len(w.chaind.requests_for("p/1")) == 2


def test_reconnect_to_chaind_drops_cached_answers(ft, acl, keys):
    w = acl()
    a = keys[0]
    w.chaind.allow(PUBLISH, "k/#", a.address)
    pub, _ = w.connect(a, "reconnect")
    assert publish_rc(pub, "k/cached", 1) == 0

    # chaind goes away: the session's cache still serves what it has,
    # and anything new is refused at once (no waiting for a timeout).
    w.chaind.stop()
    wait_for(lambda: "lost connection to chaind" in ft.proxyd.log(), 5,
             "proxyd to notice chaind is gone")
    assert publish_rc(pub, "k/cached", 2) == 0
    t0 = time.monotonic()
    assert publish_rc(pub, "k/new", 3) == NOT_AUTHORIZED
    assert time.monotonic() - t0 < 1.0
    # Not cached: once chaind is back, k/new is asked and allowed.
    asked = len(w.chaind.requests_for("k/cached"))
    w.chaind.start()
    w.chaind.wait_connections(2)
    assert publish_rc(pub, "k/new", 4) == 0
    # Pushes sent while disconnected are lost: everything was dropped,
    # so k/cached is asked again.
    w.chaind.set_rules([])
    assert publish_rc(pub, "k/cached", 5) == NOT_AUTHORIZED
    assert len(w.chaind.requests_for("k/cached")) == asked + 1


def test_proxyd_without_chaind_fails_closed(ft, acl, keys):
    w = acl(default=ALLOW)
    w.chaind.stop()
    wait_for(lambda: "lost connection to chaind" in ft.proxyd.log(), 5,
             "proxyd to notice chaind is gone")
    direct = w.direct("watch")
    pub, _ = w.connect(keys[0], "closed")
    assert publish_rc(pub, "f/1", 1) == NOT_AUTHORIZED
    pub.send(mqttraw.subscribe(2, [("f/#", 1)]))
    assert pub.expect(mqttraw.SUBACK).reasons == [NOT_AUTHORIZED]
    time.sleep(0.2)
    assert direct.get_nowait_all() == []


# ---- Time -------------------------------------------------------------------


def test_valid_until_ends_a_grant_without_any_event(ft, acl, keys):
    w = acl()
    a = keys[0]
    until = int(time.time()) + 2
    w.chaind.allow(PUBLISH, "v/#", a.address, valid_until=until)
    pub, _ = w.connect(a, "until")
    assert publish_rc(pub, "v/1", 1) == 0
    assert publish_rc(pub, "v/1", 2) == 0
    assert len(w.chaind.requests_for("v/1")) == 1  # cached
    # The month is over; chaind would now say no, but pushes nothing.
    w.chaind.set_rules([])
    while time.time() <= until + 0.2:
        time.sleep(0.1)
    assert publish_rc(pub, "v/1", 3) == NOT_AUTHORIZED
    assert len(w.chaind.requests_for("v/1")) == 2


def test_answer_already_expired_is_not_used(ft, acl, keys):
    w = acl()
    a = keys[0]
    w.chaind.allow(PUBLISH, "e/#", a.address,
                   valid_until=int(time.time()) - 10)
    pub, _ = w.connect(a, "expired")
    assert publish_rc(pub, "e/1", 1) == NOT_AUTHORIZED
    assert publish_rc(pub, "e/1", 2) == NOT_AUTHORIZED
    assert len(w.chaind.requests_for("e/1")) == 2


# ---- chaind slow, unsure ----------------------------------------------------


def test_chaind_timeout_denies_and_is_not_cached(ft, acl, keys):
    w = acl(proxyd={"acl_timeout_ms": "300"})
    a = keys[0]
    w.chaind.allow(PUBLISH, "h/#", a.address)
    pub, _ = w.connect(a, "hang")
    w.chaind.mode = "hang"
    t0 = time.monotonic()
    assert publish_rc(pub, "h/1", 1) == NOT_AUTHORIZED
    assert 0.25 <= time.monotonic() - t0 < 2.0
    w.chaind.mode = "answer"
    assert publish_rc(pub, "h/1", 2) == 0
    # The late answer to the timed-out request is ignored.
    w.chaind.answer_held()
    pub.send(mqttraw.pingreq())
    assert pub.recv().type == mqttraw.PINGRESP


def test_unavailable_denies_and_is_not_cached(ft, acl, keys):
    w = acl()
    a = keys[0]
    w.chaind.allow(PUBLISH, "u/#", a.address)
    pub, _ = w.connect(a, "unsure")
    w.chaind.mode = "unavailable"
    assert publish_rc(pub, "u/1", 1) == NOT_AUTHORIZED
    assert publish_rc(pub, "u/1", 2) == NOT_AUTHORIZED
    assert len(w.chaind.requests_for("u/1")) == 2
    w.chaind.mode = "answer"
    assert publish_rc(pub, "u/1", 3) == 0


# ---- Waiting ----------------------------------------------------------------


def test_held_packets_keep_their_order(ft, acl, keys):
    w = acl()
    a = keys[0]
    w.chaind.allow(PUBLISH, "o/#", a.address)
    direct = w.direct("watch")
    pub, _ = w.connect(a, "order")
    w.chaind.delay = 0.2
    pub.send(mqttraw.publish("o/1", b"1", 1, packet_id=1)
             + mqttraw.publish("o/2", b"2", 1, packet_id=2)
             + mqttraw.publish("o/1", b"3", 0)
             + mqttraw.publish("o/3", b"4", 1, packet_id=3)
             + mqttraw.pingreq())
    seen = [pub.recv() for _ in range(4)]
    assert [(p.type, p.packet_id) for p in seen] == [
        (mqttraw.PUBACK, 1), (mqttraw.PUBACK, 2), (mqttraw.PUBACK, 3),
        (mqttraw.PINGRESP, None)]
    got = [direct.get().payload for _ in range(4)]
    assert got == [b"1", b"2", b"3", b"4"]


def test_a_waiting_session_does_not_hold_up_others(ft, acl, keys):
    w = acl()
    a, b = keys
    w.chaind.allow(PUBLISH, "#", a.address)
    w.chaind.allow(PUBLISH, "#", b.address)
    slow, _ = w.connect(a, "slow")
    fast, _ = w.connect(b, "fast")
    assert publish_rc(fast, "w/cached", 1) == 0
    w.chaind.mode = "hang"
    slow.send(mqttraw.publish("w/new", b"x", 1, packet_id=1))
    w.chaind.wait_requests(2)
    # The other session's cached answers need nobody.
    for i in range(2, 20):
        assert publish_rc(fast, "w/cached", i) == 0
    w.chaind.mode = "answer"
    w.chaind.answer_held()
    assert slow.expect(mqttraw.PUBACK).reason in (0, 0x10)


def test_session_dying_while_waiting(ft, acl, keys):
    w = acl()
    a, b = keys
    w.chaind.allow(PUBLISH, "#", a.address)
    w.chaind.allow(SUBSCRIBE, "#", b.address)
    sub, _ = w.connect(b, "dying-sub")
    sub.send(mqttraw.subscribe(1, [("dy/#", 0)]))
    assert sub.expect(mqttraw.SUBACK).reasons == [0]
    w.chaind.mode = "hang"
    pub, _ = w.connect(a, "dying-pub")
    pub.send(mqttraw.publish("dy/1", b"x", 0))
    pub.send(mqttraw.subscribe(2, [("dy/a", 0), ("dy/b", 0)]))
    w.chaind.wait_requests(2)
    # The client is not read while it waits; the broker ends the session
    # instead (a takeover by the same client id).
    w.connect(a, "dying-pub", props=[(mqttraw.PROP_SESSION_EXPIRY, 0)],
              at=time.time() - 1)
    assert pub.closed_within(3)
    # A delivery pending for the subscriber, which dies meanwhile.
    w.direct_publish("dp", [("dy/2", b"y", 0, False)])
    w.chaind.wait_requests(3)
    sub.close()
    time.sleep(0.2)
    # Late answers to requests of dead sessions are ignored.
    w.chaind.mode = "answer"
    w.chaind.answer_held()
    c, _ = w.connect(a, "after")
    assert publish_rc(c, "dy/3", 1) == 0
    assert ft.proxyd.alive()
    # The takeover's PUBLISH never reached the broker.
    assert "dy/1" not in ft.broker.log()


def test_chaind_busy_with_one_session_many_filters(ft, acl, keys):
    """More filters than proxyd keeps in flight for one packet: asked in
    rounds, answered in the client's order."""
    w = acl()
    a = keys[0]
    w.chaind.allow(SUBSCRIBE, "b/even/#", a.address)
    c, _ = w.connect(a, "rounds")
    w.chaind.delay = 0.01
    filters = [("b/%s/%d" % ("even" if i % 2 == 0 else "odd", i), 0)
               for i in range(100)]
    c.send(mqttraw.subscribe(7, filters))
    ack = c.expect(mqttraw.SUBACK, 10)
    assert ack.reasons == [0 if i % 2 == 0 else NOT_AUTHORIZED
                           for i in range(100)]
    assert w.chaind.request_count() == 100
