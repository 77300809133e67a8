"""Messages relayed through proxyd both ways: QoS 0/1/2 with paho and raw
clients, ordering, large payloads, wills, and every listener session
independent of the others."""

import time

import pytest

import mqttraw
from conftest import v5_token_props

V5, V311 = mqttraw.V5, mqttraw.V311


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_paho_publish_reaches_paho_subscriber(flytrap, keys, version, qos):
    sub = flytrap.paho(keys[0], "sub-q%d-v%d" % (qos, version), version)
    assert sub.subscribe("relay/q", qos) == [qos]
    pub = flytrap.paho(keys[1], "pub-q%d-v%d" % (qos, version), version)
    for i in range(5):
        pub.publish("relay/q", b"m%d" % i, qos)
    got = [sub.get() for _ in range(5)]
    assert [m.payload for m in got] == [b"m%d" % i for i in range(5)]
    assert all(m.qos == qos and m.topic == "relay/q" for m in got)


def test_raw_qos2_flow(flytrap, keys):
    sub, ack = flytrap.raw_connect(keys[0], "raw-q2-sub")
    assert ack.reason == 0
    sub.send(mqttraw.subscribe(1, [("relay/raw2", 2)]))
    assert sub.expect(mqttraw.SUBACK).reasons == [2]
    pub, ack = flytrap.raw_connect(keys[1], "raw-q2-pub")
    assert ack.reason == 0
    pub.send(mqttraw.publish("relay/raw2", b"exactly-once", 2, packet_id=7))
    assert pub.expect(mqttraw.PUBREC).packet_id == 7
    pub.send(mqttraw.ack(mqttraw.PUBREL, 7))
    assert pub.expect(mqttraw.PUBCOMP).packet_id == 7
    m = sub.expect(mqttraw.PUBLISH)
    assert (m.payload, m.qos) == (b"exactly-once", 2)
    sub.send(mqttraw.ack(mqttraw.PUBREC, m.packet_id))
    assert sub.expect(mqttraw.PUBREL).packet_id == m.packet_id
    sub.send(mqttraw.ack(mqttraw.PUBCOMP, m.packet_id))
    # Still alive afterwards.
    sub.send(mqttraw.pingreq())
    assert sub.recv().type == mqttraw.PINGRESP


def test_many_messages_in_order(flytrap, keys):
    sub = flytrap.paho(keys[0], "order-sub")
    sub.subscribe("relay/order", 1)
    pub = flytrap.paho(keys[1], "order-pub")
    n = 1000
    infos = [pub.client.publish("relay/order", b"%d" % i, 1)
             for i in range(n)]
    for info in infos:
        info.wait_for_publish(10)
    got = [int(sub.get(10).payload) for _ in range(n)]
    assert got == list(range(n))


@pytest.mark.parametrize("size", [200 * 1024, 1000 * 1024])
def test_large_payload(flytrap, keys, size):
    # Below the default max_packet_size (1 MiB) including headers.
    sub = flytrap.paho(keys[0], "big-sub")
    sub.subscribe("relay/big", 1)
    pub = flytrap.paho(keys[1], "big-pub")
    payload = bytes((i * 7) & 0xFF for i in range(size))
    pub.publish("relay/big", payload, 1, timeout=15)
    assert sub.get(15).payload == payload


def test_user_properties_relayed_on_publish(flytrap, keys):
    sub, ack = flytrap.raw_connect(keys[0], "uprop-sub")
    sub.send(mqttraw.subscribe(1, [("relay/props", 1)]))
    sub.expect(mqttraw.SUBACK)
    pub, ack = flytrap.raw_connect(keys[1], "uprop-pub")
    pub.send(mqttraw.publish("relay/props", b"x", 1, packet_id=1, props=[
        (mqttraw.PROP_USER_PROPERTY, ("app", "demo")),
        (mqttraw.PROP_CONTENT_TYPE, "text/plain")]))
    assert pub.expect(mqttraw.PUBACK).reason == 0
    m = sub.expect(mqttraw.PUBLISH)
    assert ("app", "demo") in m.user_props()
    assert m.prop(mqttraw.PROP_CONTENT_TYPE) == "text/plain"


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_will_sent_when_client_vanishes(flytrap, keys, version):
    watcher = flytrap.paho(keys[0], "will-watch")
    watcher.subscribe("relay/will", 1)
    c, ack = flytrap.raw_connect(keys[1], "will-dies-%d" % version, version,
                                 will=("relay/will", b"gone", 1, False))
    assert ack.reason == 0
    c.sock.close()  # no DISCONNECT: the broker must publish the will
    m = watcher.get(5)
    assert m.payload == b"gone"


def test_no_will_after_clean_disconnect(flytrap, keys):
    watcher = flytrap.paho(keys[0], "nowill-watch")
    watcher.subscribe("relay/nowill", 1)
    c, ack = flytrap.raw_connect(keys[1], "nowill",
                                 will=("relay/nowill", b"should-not", 1,
                                       False))
    assert ack.reason == 0
    c.send(mqttraw.disconnect())
    assert c.closed_within(3)
    # A marker through the same path proves the will would have come first.
    marker = flytrap.paho(keys[1], "nowill-marker")
    marker.publish("relay/nowill", b"marker", 1)
    assert watcher.get(5).payload == b"marker"
    assert watcher.get_nowait_all() == []


def test_many_concurrent_sessions(flytrap, keys):
    sub = flytrap.paho(keys[0], "fan-sub")
    sub.subscribe("relay/fan/#", 0)
    conns = []
    for i in range(40):
        c, ack = flytrap.raw_connect(keys[i % 2], "fan-%d" % i)
        assert ack.reason == 0
        conns.append(c)
    for i, c in enumerate(conns):
        c.send(mqttraw.publish("relay/fan/%d" % i, b"%d" % i, 1,
                               packet_id=1))
    for c in conns:
        assert c.expect(mqttraw.PUBACK).reason == 0
    got = sorted(int(sub.get().payload) for _ in conns)
    assert got == list(range(40))


def test_session_takeover_closes_older_client(flytrap, keys):
    # The broker drops the older session with the same client id (mosquitto
    # 2.0.11 just closes it), and proxyd closes that client, v5 being told
    # with a DISCONNECT.
    a, ack = flytrap.raw_connect(keys[0], "same-id")
    assert ack.reason == 0
    b, ack = flytrap.raw_connect(keys[0], "same-id", at=time.time() - 1)
    assert ack.reason == 0
    seen = a.recv_until_closed(5)
    assert all(p.type == mqttraw.DISCONNECT and p.reason >= 0x80
               for p in seen), seen
    b.send(mqttraw.pingreq())
    assert b.recv().type == mqttraw.PINGRESP


def test_packets_pipelined_behind_connect(flytrap, keys):
    # A client may send packets right after CONNECT without waiting for
    # the CONNACK; proxyd must hold them through authentication, in order.
    tok = flytrap.token(keys[0], "pipeline")
    c = flytrap.raw()
    c.send(mqttraw.connect("pipeline", props=v5_token_props(tok))
           + mqttraw.subscribe(1, [("relay/pipe", 1)])
           + mqttraw.publish("relay/pipe", b"early", 1, packet_id=2))
    assert c.expect(mqttraw.CONNACK).reason == 0
    assert c.expect(mqttraw.SUBACK).reasons == [1]
    got = {}
    for _ in range(2):
        p = c.recv()
        got[p.type] = p
    assert got[mqttraw.PUBACK].packet_id == 2
    assert got[mqttraw.PUBLISH].payload == b"early"


def test_packets_pipelined_behind_refused_connect(flytrap, keys):
    watcher = flytrap.paho(keys[0], "pipe-watch")
    watcher.subscribe("relay/pipe-refused", 0)
    c = flytrap.raw()
    c.send(mqttraw.connect("pipe-anon")
           + mqttraw.publish("relay/pipe-refused", b"smuggled"))
    assert c.expect(mqttraw.CONNACK).reason == 0x87
    assert c.closed_within(3)
    marker = flytrap.paho(keys[1], "pipe-marker")
    marker.publish("relay/pipe-refused", b"marker", 1)
    assert watcher.get().payload == b"marker"
    assert watcher.get_nowait_all() == []


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_many_connects_at_once(flytrap, keys, version):
    # All CONNECTs in flight together: authd answers them all, matched to
    # the right sessions (one of them is refused).
    conns = []
    for i in range(100):
        cid = "burst-%d-%d" % (version, i)
        tok = flytrap.token(keys[i % 2], cid)
        c = flytrap.raw(version)
        if i == 50:
            cid = "burst-wrong-id"  # token signed for another client id
        if version == V5:
            data = mqttraw.connect(cid, version, username=keys[i % 2].address,
                                   props=v5_token_props(tok))
        else:
            data = mqttraw.connect(cid, version, username=tok["username"],
                                   password=tok["password"])
        conns.append((c, data))
    for c, data in conns:
        c.send(data)
    bad = {V5: 0x86, V311: 4}[version]
    for i, (c, _) in enumerate(conns):
        ack = c.expect(mqttraw.CONNACK, 10)
        assert ack.reason == (bad if i == 50 else 0), (i, ack)


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_publish_disconnect_close_in_one_write(flytrap, keys, version):
    # Everything the client wrote before closing reaches the broker, in
    # order, and the DISCONNECT means no will.
    watcher = flytrap.paho(keys[0], "last-watch")
    watcher.subscribe("relay/last/#", 1)
    c, ack = flytrap.raw_connect(keys[1], "last-%d" % version, version,
                                 will=("relay/last/will", b"will", 0, False))
    assert ack.reason == 0
    c.send(mqttraw.publish("relay/last/a", b"last words", 0, version=version)
           + mqttraw.publish("relay/last/b", b"really last", 1, packet_id=1,
                             version=version)
           + mqttraw.disconnect(version=version))
    c.sock.close()
    assert watcher.get().payload == b"last words"
    assert watcher.get().payload == b"really last"
    marker = flytrap.paho(keys[1], "last-marker")
    marker.publish("relay/last/m", b"marker", 1)
    assert watcher.get().payload == b"marker"
