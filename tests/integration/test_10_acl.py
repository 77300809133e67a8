"""Authorisation enforced by proxyd (component tests: chaind is simulated
by fakechaind.FakeChaind, whose rules each test sets; the broker is a real
Mosquitto, or a recording fake where the exact bytes matter).

PUBLISH without the right: v5 PUBACK/PUBREC 0x87, v3.1.1 flows completed
by proxyd, QoS 0 dropped, and the broker never sees it. SUBSCRIBE: each
filter judged alone, refused ones removed from what the broker sees and
reported in the client's order. Deliveries checked against the receiver's
rights, retained ones included. Wills judged before the broker sees the
CONNECT. No Topic Aliases either way. A cached PUBLISH crosses no IPC.
"""

import struct
import threading
import time

import pytest

import fakechaind
import mqttraw
from conftest import HOST, v5_token_props, wait_for
from fakechaind import ALLOW, DENY, PUBLISH, SUBSCRIBE

V5, V311 = mqttraw.V5, mqttraw.V311
NOT_AUTHORIZED = 0x87
V311_SUBACK_FAILURE = 0x80


# ---- the world --------------------------------------------------------------


class AclWorld:
    """Mosquitto (or none, for a fake broker), a fake chaind, authd and
    proxyd. Component test: chaind is simulated."""

    def __init__(self, ft, default=DENY, proxyd=None, broker=True,
                 broker_lines=()):
        self.ft = ft
        if broker:
            ft.broker_start(broker_lines)
        self.chaind = fakechaind.FakeChaind(ft.runtime_dir, default).start()
        ft.fakes.append(self.chaind)
        ft.write_config(proxyd=proxyd)
        ft.authd_start()
        ft.proxyd_start()
        self.chaind.wait_connections(1)
        self._ids = 0

    def connect(self, key, client_id, version=V5, props=(), will=None,
                expect=0, at=None):
        """A raw client through proxyd with a fresh timed token (signed
        for time `at`, default now); asserts the CONNACK code."""
        tok = self.ft.token(key, client_id, at=at)
        c = self.ft.raw(version)
        if version == V5:
            c.send(mqttraw.connect(client_id, version, 60,
                                   props=v5_token_props(tok) + list(props),
                                   will=will))
        else:
            c.send(mqttraw.connect(client_id, version, 60,
                                   username=tok["username"],
                                   password=tok["password"], will=will))
        ack = c.expect(mqttraw.CONNACK)
        assert ack.reason == expect, "CONNACK 0x%02x, wanted 0x%02x" % (
            ack.reason, expect)
        return c, ack

    def direct(self, client_id, topic="#", qos=1):
        """A paho subscriber on the broker itself, past proxyd: it sees
        what the broker got."""
        d = self.ft.paho(None, client_id, port=self.ft.broker_port)
        assert d.subscribe(topic, qos) == [qos]
        return d

    def direct_publish(self, client_id, messages):
        """Publishes (topic, payload, qos, retain) straight to the broker."""
        p = self.ft.paho(None, client_id, port=self.ft.broker_port)
        for topic, payload, qos, retain in messages:
            info = p.client.publish(topic, payload, qos, retain=retain)
            info.wait_for_publish(5)
            assert info.is_published()
        return p

    def sync(self, conn, version=V5):
        """One fresh question to chaind through this session, answered:
        any push the fake sent before it has been handled by proxyd (one
        ordered stream)."""
        self._ids += 1
        conn.send(mqttraw.publish("sync/%d" % self._ids, b"", 1,
                                  packet_id=60000 + self._ids,
                                  version=version))
        ack = conn.expect(mqttraw.PUBACK)
        assert ack.packet_id == 60000 + self._ids


@pytest.fixture
def acl(ft):
    """Builds an AclWorld on demand; checks proxyd spoke proper IPC."""
    worlds = []

    def make(**kw):
        w = AclWorld(ft, **kw)
        worlds.append(w)
        return w

    yield make
    for w in worlds:
        assert w.chaind.errors == [], w.chaind.errors


def quiet(conn, seconds=0.3):
    """Asserts nothing arrives on conn for a while."""
    try:
        p = conn.recv(seconds)
    except TimeoutError:
        return
    pytest.fail("unexpected %r" % p)


def only_marker(direct, marker):
    """The direct subscriber's next message is the marker, and nothing
    came before it (one session, one broker: order is kept)."""
    m = direct.get()
    assert (m.topic, m.payload) == marker, (m.topic, m.payload)
    time.sleep(0.1)
    assert direct.get_nowait_all() == []


# ---- PUBLISH ----------------------------------------------------------------


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_granted_publish_reaches_the_broker(ft, acl, keys, version):
    w = acl()
    w.chaind.allow(PUBLISH, "t/#", keys[0].address)
    direct = w.direct("watch")
    pub, _ = w.connect(keys[0], "granted-%d" % version, version)
    pub.send(mqttraw.publish("t/a", b"one", 1, packet_id=1, version=version))
    ack = pub.expect(mqttraw.PUBACK)
    assert (ack.packet_id, ack.reason) == (1, 0)
    m = direct.get()
    assert (m.topic, m.payload) == ("t/a", b"one")
    # What proxyd asked: the address, the action, the concrete topic.
    assert w.chaind.requests == [(keys[0].address.lower(), PUBLISH, "t/a")]


def test_v5_ungranted_publish_refused_and_never_reaches_the_broker(
        ft, acl, keys):
    w = acl()
    w.chaind.allow(PUBLISH, "ok/#", keys[0].address)
    direct = w.direct("watch")
    pub, _ = w.connect(keys[0], "ungranted-v5")
    pub.send(mqttraw.publish("no/1", b"q1", 1, packet_id=1))
    ack = pub.expect(mqttraw.PUBACK)
    assert (ack.packet_id, ack.reason) == (1, NOT_AUTHORIZED)
    pub.send(mqttraw.publish("no/2", b"q2", 2, packet_id=2))
    rec = pub.expect(mqttraw.PUBREC)
    # v5: a PUBREC reason >= 0x80 ends the QoS 2 flow.
    assert (rec.packet_id, rec.reason) == (2, NOT_AUTHORIZED)
    pub.send(mqttraw.publish("no/3", b"q0", 0))
    # Another key's grant does not help.
    w.chaind.allow(PUBLISH, "other/#", keys[1].address)
    pub.send(mqttraw.publish("other/x", b"q1", 1, packet_id=3))
    assert pub.expect(mqttraw.PUBACK).reason == NOT_AUTHORIZED
    pub.send(mqttraw.publish("ok/marker", b"m", 1, packet_id=4))
    ack = pub.expect(mqttraw.PUBACK)
    assert (ack.packet_id, ack.reason) == (4, 0)
    only_marker(direct, ("ok/marker", b"m"))
    # The session goes on.
    pub.send(mqttraw.pingreq())
    assert pub.recv().type == mqttraw.PINGRESP


def test_denied_qos0_is_dropped_silently(ft, acl, keys):
    w = acl()
    w.chaind.allow(PUBLISH, "ok/#", keys[0].address)
    direct = w.direct("watch")
    for version in (V5, V311):
        pub, _ = w.connect(keys[0], "q0-%d" % version, version)
        for i in range(5):
            pub.send(mqttraw.publish("no/q0", b"%d" % i, 0, version=version))
        pub.send(mqttraw.pingreq())
        # Nothing answers a QoS 0 PUBLISH: the next packet is PINGRESP.
        assert pub.recv().type == mqttraw.PINGRESP
        pub.send(mqttraw.publish("ok/q0", b"marker", 0, version=version))
        only_marker(direct, ("ok/q0", b"marker"))


def test_v311_denied_flows_complete(ft, acl, keys):
    w = acl()
    w.chaind.allow(PUBLISH, "ok/#", keys[0].address)
    direct = w.direct("watch", qos=2)
    pub, _ = w.connect(keys[0], "denied-311", V311)
    # QoS 1: a plain PUBACK (v3.1.1 has no reason codes).
    pub.send(mqttraw.publish("no/1", b"x", 1, packet_id=5, version=V311))
    ack = pub.expect(mqttraw.PUBACK)
    assert ack.packet_id == 5 and len(ack.body) == 2
    # QoS 2: PUBREC, and proxyd answers the PUBREL itself.
    pub.send(mqttraw.publish("no/2", b"y", 2, packet_id=7, version=V311))
    rec = pub.expect(mqttraw.PUBREC)
    assert rec.packet_id == 7 and len(rec.body) == 2
    pub.send(mqttraw.ack(mqttraw.PUBREL, 7, version=V311))
    assert pub.expect(mqttraw.PUBCOMP).packet_id == 7
    # The same id for an allowed QoS 2 message: the broker's own flow.
    pub.send(mqttraw.publish("ok/2", b"z", 2, packet_id=7, version=V311))
    assert pub.expect(mqttraw.PUBREC).packet_id == 7
    pub.send(mqttraw.ack(mqttraw.PUBREL, 7, version=V311))
    assert pub.expect(mqttraw.PUBCOMP).packet_id == 7
    only_marker(direct, ("ok/2", b"z"))
    pub.send(mqttraw.pingreq())
    assert pub.recv().type == mqttraw.PINGRESP


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_denied_flows_end_at_proxyd(ft, acl, keys, version):
    """Against a broker that answers nothing: every answer the client gets
    comes from proxyd, and the broker sees none of it."""
    rb = recording_broker(ft)
    w = acl(broker=False)
    c, _ = w.connect(keys[0], "ends-%d" % version, version)
    c.send(mqttraw.publish("no/1", b"x", 1, packet_id=1, version=version))
    assert c.expect(mqttraw.PUBACK).packet_id == 1
    c.send(mqttraw.publish("no/2", b"y", 2, packet_id=2, version=version))
    assert c.expect(mqttraw.PUBREC).packet_id == 2
    if version == V311:
        c.send(mqttraw.ack(mqttraw.PUBREL, 2, version=version))
        assert c.expect(mqttraw.PUBCOMP).packet_id == 2
    c.send(mqttraw.publish("no/3", b"z", 0, version=version))
    c.send(mqttraw.pingreq())
    assert c.recv().type == mqttraw.PINGRESP
    # The PINGRESP came from the broker, so it has read everything before.
    assert rb.publishes == []
    assert rb.others == []


def test_steady_state_publish_crosses_no_ipc(ft, acl, keys):
    w = acl()
    w.chaind.allow(PUBLISH, "s/#", keys[0].address)
    w.chaind.allow(SUBSCRIBE, "s/#", keys[1].address)
    sub, _ = w.connect(keys[1], "steady-sub")
    sub.send(mqttraw.subscribe(1, [("s/+", 0)]))
    assert sub.expect(mqttraw.SUBACK).reasons == [0]
    pub, _ = w.connect(keys[0], "steady-pub")
    # The first of each kind asks chaind once...
    pub.send(mqttraw.publish("s/t", b"first", 1, packet_id=1))
    assert pub.expect(mqttraw.PUBACK).reason == 0
    assert sub.expect(mqttraw.PUBLISH).payload == b"first"
    before = w.chaind.request_count()
    assert before == 3  # the filter s/+, the PUBLISH, the delivery
    # ...and then never again.
    n = 1000
    batch = b"".join(mqttraw.publish("s/t", struct.pack("!I", i), 1,
                                     packet_id=i % 65535 + 1)
                     for i in range(n))
    pub.send(batch)
    for i in range(n):
        ack = pub.expect(mqttraw.PUBACK)
        assert (ack.packet_id, ack.reason) == (i % 65535 + 1, 0)
    for i in range(n):
        m = sub.expect(mqttraw.PUBLISH)
        assert struct.unpack("!I", m.payload)[0] == i
    assert w.chaind.request_count() == before


# ---- SUBSCRIBE --------------------------------------------------------------


def decode_subscribe(body, version):
    """(packet id, props, [(filter, options)]) of a SUBSCRIBE body."""
    (pid,) = struct.unpack_from("!H", body, 0)
    pos = 2
    props = []
    if version == V5:
        props, pos = mqttraw.decode_props(body, pos)
    filters = []
    while pos < len(body):
        (n,) = struct.unpack_from("!H", body, pos)
        filters.append((body[pos + 2:pos + 2 + n].decode(),
                        body[pos + 2 + n]))
        pos += 3 + n
    return pid, props, filters


def suback(pid, reasons, version):
    body = struct.pack("!H", pid)
    if version == V5:
        body += mqttraw.encode_props(None)
    return mqttraw.packet(mqttraw.SUBACK, 0, body + bytes(reasons))


class RecordingBroker(mqttraw.FakeBroker):
    """A fake broker that also records SUBSCRIBEs (granting each filter its
    requested QoS, or holding the SUBACKs until release()), PUBLISHes and
    any other packet (unanswered), and can add properties to its
    CONNACK."""

    def __init__(self, port, connack_props=None):
        self.subscribes = []
        self.publishes = []
        self.others = []  # any other packet, unanswered
        self.hold = False
        self.held = []
        self.connack_props = connack_props
        super().__init__(port)

    def _serve(self, sock):
        conn = mqttraw.Conn.from_socket(sock)
        self.conns.append(conn)
        try:
            ptype, flags, body = conn.recv_raw(10)
            if ptype != mqttraw.CONNECT:
                return
            c = mqttraw.decode_connect(body)
            version = c["version"]
            with self.cond:
                self.connects.append(c)
                self.cond.notify_all()
            conn.send(mqttraw.connack(
                0, version,
                props=self.connack_props if version == V5 else None))
            while not self.stopping:
                ptype, flags, body = conn.recv_raw(3600)
                if ptype == mqttraw.PINGREQ:
                    conn.send(bytes([mqttraw.PINGRESP << 4, 0]))
                elif ptype == mqttraw.SUBSCRIBE:
                    pid, props, filters = decode_subscribe(body, version)
                    out = suback(pid, [o & 3 for _, o in filters], version)
                    # Sent under the lock: release() keeps SUBACK order.
                    with self.cond:
                        self.subscribes.append((pid, props, filters))
                        self.cond.notify_all()
                        if self.hold:
                            self.held.append((conn, out))
                        else:
                            conn.send(out)
                elif ptype == mqttraw.PUBLISH:
                    with self.cond:
                        self.publishes.append(mqttraw.decode(
                            ptype, flags, body, version))
                        self.cond.notify_all()
                elif ptype == mqttraw.DISCONNECT:
                    return
                else:
                    with self.cond:
                        self.others.append(mqttraw.decode(
                            ptype, flags, body, version))
                        self.cond.notify_all()
        except (mqttraw.ConnectionClosed, TimeoutError, OSError,
                mqttraw.MalformedPacket):
            pass
        finally:
            conn.close()

    def release(self):
        with self.cond:
            self.hold = False
            for conn, out in self.held:
                conn.send(out)
            self.held = []

    def wait_subscribes(self, n, timeout=5.0):
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.subscribes) >= n,
                                    timeout)
        assert ok, "broker saw %d SUBSCRIBEs, wanted %d" % (
            len(self.subscribes), n)


def recording_broker(ft, **kw):
    rb = RecordingBroker(ft.broker_port, **kw)
    ft.fakes.append(rb)
    return rb


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_subscribe_filters_judged_one_by_one(ft, acl, keys, version):
    rb = recording_broker(ft)
    w = acl(broker=False)
    w.chaind.allow(SUBSCRIBE, "ok/#", keys[0].address)
    w.chaind.allow(SUBSCRIBE, "fine", keys[0].address)
    c, _ = w.connect(keys[0], "mixed-%d" % version, version)
    filters = [("ok/a", 1), ("no/a", 2), ("fine", 0), ("ok/+/b", 2),
               ("no/#", 1), ("+/a", 1)]
    props = [(mqttraw.PROP_SUBSCRIPTION_ID, 42),
             (mqttraw.PROP_USER_PROPERTY, ("k", "v"))]
    c.send(mqttraw.subscribe(9, filters, version,
                             props=props if version == V5 else None))
    ack = c.expect(mqttraw.SUBACK)
    fail = NOT_AUTHORIZED if version == V5 else V311_SUBACK_FAILURE
    assert ack.packet_id == 9
    assert ack.reasons == [1, fail, 0, 2, fail, fail]
    # The broker saw the allowed filters only: same id, options, props.
    rb.wait_subscribes(1)
    pid, got_props, got = rb.subscribes[0]
    assert pid == 9
    assert got == [("ok/a", 1), ("fine", 0), ("ok/+/b", 2)]
    if version == V5:
        assert got_props == props
    # An allowed SUBSCRIBE goes through as it was.
    c.send(mqttraw.subscribe(10, [("ok/z", 1)], version))
    assert c.expect(mqttraw.SUBACK).reasons == [1]
    rb.wait_subscribes(2)
    assert rb.subscribes[1][0] == 10
    assert rb.subscribes[1][2] == [("ok/z", 1)]


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_all_denied_subscribe_answered_by_proxyd(ft, acl, keys, version):
    rb = recording_broker(ft)
    w = acl(broker=False)
    c, _ = w.connect(keys[0], "alldenied-%d" % version, version)
    c.send(mqttraw.subscribe(3, [("a", 0), ("b/#", 1), ("+", 2)], version))
    ack = c.expect(mqttraw.SUBACK)
    fail = NOT_AUTHORIZED if version == V5 else V311_SUBACK_FAILURE
    assert (ack.packet_id, ack.reasons) == (3, [fail, fail, fail])
    c.send(mqttraw.pingreq())
    assert c.recv().type == mqttraw.PINGRESP
    # The PINGREQ reached the broker; no SUBSCRIBE did.
    assert rb.subscribes == []


def test_mixed_subscribe_against_mosquitto(ft, acl, keys):
    w = acl()
    w.chaind.allow(SUBSCRIBE, "m/ok/#", keys[0].address)
    c, _ = w.connect(keys[0], "mixed-mosq")
    c.send(mqttraw.subscribe(1, [("m/no/+", 1), ("m/ok/+", 1)]))
    assert c.expect(mqttraw.SUBACK).reasons == [NOT_AUTHORIZED, 1]
    before = w.chaind.request_count()
    w.direct_publish("pub", [("m/no/x", b"secret", 1, False),
                             ("m/ok/x", b"public", 1, False)])
    m = c.expect(mqttraw.PUBLISH)
    assert (m.topic, m.payload) == ("m/ok/x", b"public")
    c.send(mqttraw.ack(mqttraw.PUBACK, m.packet_id))
    quiet(c)
    # Had the broker taken the refused filter, proxyd would have had to
    # ask about the delivery on m/no/x.
    assert w.chaind.requests_for("m/no/x") == []
    assert w.chaind.request_count() == before + 1  # m/ok/x delivery


def test_shared_subscription_judged_by_its_filter(ft, acl, keys):
    w = acl()
    w.chaind.allow(SUBSCRIBE, "s/#", keys[0].address)
    c, _ = w.connect(keys[0], "shared")
    c.send(mqttraw.subscribe(1, [("$share/g/s/x", 1), ("$share/g/q", 1),
                                 ("s/y", 0)]))
    assert c.expect(mqttraw.SUBACK).reasons == [1, NOT_AUTHORIZED, 0]
    topics = [t for _, _, t in w.chaind.requests]
    assert topics == ["s/x", "q", "s/y"]


def test_many_filters_small_cache(ft, acl, keys):
    w = acl(proxyd={"acl_cache_size": "2"})
    w.chaind.deny(SUBSCRIBE, "m/odd/#", keys[0].address)
    w.chaind.allow(SUBSCRIBE, "m/#", keys[0].address)
    c, _ = w.connect(keys[0], "many")
    filters = [("m/%s/%d" % ("odd" if i % 2 else "even", i), 1)
               for i in range(80)]
    c.send(mqttraw.subscribe(2, filters))
    ack = c.expect(mqttraw.SUBACK)
    assert ack.reasons == [NOT_AUTHORIZED if i % 2 else 1
                           for i in range(80)]
    # Each filter asked once, though the cache holds only two answers.
    assert sorted(t for _, _, t in w.chaind.requests) == \
        sorted(f for f, _ in filters)


def test_filtered_subscribes_beyond_the_bound(ft, acl, keys):
    rb = recording_broker(ft)
    w = acl(broker=False)
    w.chaind.allow(SUBSCRIBE, "x/ok/#", keys[0].address)
    c, _ = w.connect(keys[0], "bound")
    rb.hold = True
    n = 24
    c.send(b"".join(mqttraw.subscribe(i, [("x/ok/%d" % i, 1),
                                          ("x/no/%d" % i, 1)])
                    for i in range(1, n + 1)))
    # 16 filtered SUBSCRIBEs await their SUBACK; the rest wait in proxyd.
    rb.wait_subscribes(16)
    time.sleep(0.3)
    assert len(rb.subscribes) == 16
    c.send(mqttraw.pingreq())
    quiet(c, 0.2)  # held behind the SUBSCRIBEs, in order
    rb.release()
    rb.wait_subscribes(n)
    rb.release()
    for i in range(1, n + 1):
        ack = c.expect(mqttraw.SUBACK)
        assert (ack.packet_id, ack.reasons) == (i, [1, NOT_AUTHORIZED])
    assert c.recv().type == mqttraw.PINGRESP
    assert [s[2] for s in rb.subscribes] == [[("x/ok/%d" % i, 1)]
                                              for i in range(1, n + 1)]


# ---- Deliveries -------------------------------------------------------------


def read_deliveries(conn, n, version, timeout=5.0):
    """Reads n PUBLISHes, completing each QoS flow; returns (topic,
    payload, retain) tuples. Anything else is a failure."""
    out = []
    while len(out) < n:
        p = conn.recv(timeout)
        assert p.type == mqttraw.PUBLISH, "got %r after %r" % (p, out)
        out.append((p.topic, p.payload, bool(p.flags & 1)))
        if p.qos == 1:
            conn.send(mqttraw.ack(mqttraw.PUBACK, p.packet_id,
                                  version=version))
        elif p.qos == 2:
            conn.send(mqttraw.ack(mqttraw.PUBREC, p.packet_id,
                                  version=version))
            rel = conn.expect(mqttraw.PUBREL, timeout)
            assert rel.packet_id == p.packet_id
            conn.send(mqttraw.ack(mqttraw.PUBCOMP, p.packet_id,
                                  version=version))
    return out


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_deliveries_filtered_including_retained(ft, acl, keys, version, qos):
    # One message in flight per client: were a dropped delivery not
    # acknowledged to the broker, the next one would never come.
    w = acl(broker_lines=["max_inflight_messages 1"])
    w.chaind.deny(SUBSCRIBE, "a/secret", keys[1].address)
    w.chaind.allow(SUBSCRIBE, "a/#", keys[1].address)
    w.direct_publish("retainer", [("a/secret", b"r-secret", 1, True),
                                  ("a/public", b"r-public", 1, True)])
    sub, _ = w.connect(keys[1], "filtered-%d-%d" % (version, qos), version,
                       props=[(mqttraw.PROP_RECEIVE_MAXIMUM, 1)])
    sub.send(mqttraw.subscribe(1, [("a/#", qos)], version))
    assert sub.expect(mqttraw.SUBACK).reasons == [qos]
    assert read_deliveries(sub, 1, version) == [("a/public", b"r-public",
                                                 True)]
    w.direct_publish("live", [("a/secret", b"s1", qos, False),
                              ("a/public", b"p1", qos, False),
                              ("a/secret", b"s2", qos, False),
                              ("a/secret", b"s3", qos, False),
                              ("a/public", b"p2", qos, False)])
    assert read_deliveries(sub, 2, version) == [("a/public", b"p1", False),
                                                ("a/public", b"p2", False)]
    # No stray PUBREL for a delivery the client never saw.
    quiet(sub)
    sub.send(mqttraw.pingreq())
    assert sub.recv().type == mqttraw.PINGRESP


# ---- Will -------------------------------------------------------------------


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_will_needs_the_publish_right(ft, acl, keys, version):
    rb = recording_broker(ft)
    w = acl(broker=False)
    w.chaind.allow(PUBLISH, "will/ok", keys[0].address)
    refused = NOT_AUTHORIZED if version == V5 else 5
    c, _ = w.connect(keys[0], "will-no-%d" % version, version,
                     will=("will/no", b"bye", 1, False), expect=refused)
    assert c.closed_within(3)
    assert rb.connects == []
    c, _ = w.connect(keys[0], "will-ok-%d" % version, version,
                     will=("will/ok", b"bye", 1, False))
    got = rb.wait_connect()
    assert got["will"][:2] == ("will/ok", b"bye")
    assert (keys[0].address.lower(), PUBLISH, "will/no") in \
        w.chaind.requests


def test_will_refused_when_chaind_is_down(ft, acl, keys):
    w = acl()
    w.chaind.allow(PUBLISH, "will/#", keys[0].address)
    w.chaind.stop()
    wait_for(lambda: "lost connection to chaind" in ft.proxyd.log(), 5,
             "proxyd to notice chaind is gone")
    w.connect(keys[0], "will-down", will=("will/x", b"bye", 0, False),
              expect=NOT_AUTHORIZED)
    # Without a Will, nothing needs chaind to connect.
    w.connect(keys[0], "no-will-down")


# ---- Topic aliases ----------------------------------------------------------


def test_no_topic_alias_maximum_either_way(ft, acl, keys):
    rb = recording_broker(ft, connack_props=[
        (mqttraw.PROP_TOPIC_ALIAS_MAXIMUM, 10),
        (mqttraw.PROP_RECEIVE_MAXIMUM, 20)])
    w = acl(broker=False)
    w.chaind.allow(PUBLISH, "#", keys[0].address)
    c, ack = w.connect(keys[0], "aliases", props=[
        (mqttraw.PROP_TOPIC_ALIAS_MAXIMUM, 5),
        (mqttraw.PROP_USER_PROPERTY, ("app", "kept"))])
    # The client is allowed none [MQTT-3.3.2-8]; the rest is relayed.
    assert ack.prop(mqttraw.PROP_TOPIC_ALIAS_MAXIMUM) is None
    assert ack.prop(mqttraw.PROP_RECEIVE_MAXIMUM) == 20
    # The broker is allowed none either: it names every topic in full.
    got = rb.wait_connect()
    assert all(pid != mqttraw.PROP_TOPIC_ALIAS_MAXIMUM
               for pid, _ in got["props"]), got["props"]
    assert (mqttraw.PROP_USER_PROPERTY, ("app", "kept")) in got["props"]


def test_mosquitto_connack_loses_topic_alias_maximum(ft, acl, keys):
    w = acl()
    c, ack = w.connect(keys[0], "mosq-alias")
    assert ack.prop(mqttraw.PROP_TOPIC_ALIAS_MAXIMUM) is None


def test_publish_with_topic_alias_disconnected(ft, acl, keys):
    rb = recording_broker(ft)
    w = acl(broker=False)
    w.chaind.allow(PUBLISH, "#", keys[0].address)
    c, _ = w.connect(keys[0], "uses-alias")
    c.send(mqttraw.publish("t/x", b"a", 1, packet_id=1,
                           props=[(mqttraw.PROP_TOPIC_ALIAS, 1)]))
    seen = c.recv_until_closed(3)
    assert [(p.type, p.reason) for p in seen] == [(mqttraw.DISCONNECT,
                                                   0x94)]
    # Alias-only (empty topic) too, on a fresh session.
    c, _ = w.connect(keys[0], "uses-alias-2")
    c.send(mqttraw.publish("", b"a", 0,
                           props=[(mqttraw.PROP_TOPIC_ALIAS, 1)]))
    seen = c.recv_until_closed(3)
    assert seen and seen[-1].type == mqttraw.DISCONNECT
    assert rb.publishes == []
