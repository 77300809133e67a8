"""Malformed and out-of-order packets: a bad session gets v5 DISCONNECT with
the right reason (v3.1.1: just the close) while an observer session through
the same proxyd keeps receiving messages."""

import socket
import struct

import pytest

import mqttraw
from conftest import v5_token_props

V5, V311 = mqttraw.V5, mqttraw.V311
MAX_PACKET = 4096


@pytest.fixture
def world(ft, keys):
    """proxyd with a small max_packet_size, and an observer session."""
    ft.start(proxyd={"max_packet_size": str(MAX_PACKET)})
    observer = ft.paho(keys[0], "observer")
    observer.subscribe("obs/#", 1)
    publisher = ft.paho(keys[1], "obs-publisher")
    ft.check_observer = lambda tag: _observe(observer, publisher, tag)
    ft.check_observer("before")
    return ft


def _observe(observer, publisher, tag):
    publisher.publish("obs/" + tag, tag.encode(), 1)
    m = observer.get(5)
    assert (m.topic, m.payload) == ("obs/" + tag, tag.encode())


def send_quietly(c, data):
    """Sends what the peer may refuse halfway; errors mean it closed."""
    try:
        c.send(data)
    except OSError:
        pass


def expect_disconnect(c, version, reasons):
    """v5: a DISCONNECT with one of `reasons` then the close; v3.1.1: the
    close (nothing else sent)."""
    seen = c.recv_until_closed(5)
    if version == V5:
        disc = [p for p in seen if p.type == mqttraw.DISCONNECT]
        assert disc, "no DISCONNECT before the close, saw %r" % seen
        assert disc[0].reason in reasons, "DISCONNECT 0x%02x, wanted %s" % (
            disc[0].reason, ["0x%02x" % r for r in reasons])
    else:
        assert seen == [], seen


def bad_utf8_topic(version):
    body = struct.pack("!H", 4) + b"a\xff\xfeb"
    if version == V5:
        body += b"\x00"
    return mqttraw.packet(mqttraw.PUBLISH, 0, body + b"payload")


def nul_in_topic(version):
    body = struct.pack("!H", 3) + b"a\x00b"
    if version == V5:
        body += b"\x00"
    return mqttraw.packet(mqttraw.PUBLISH, 0, body + b"payload")


def five_byte_length(version):
    return bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) + b"\x00" * 16


def subscribe_flags_zero(version):
    good = mqttraw.subscribe(3, [("obs/x", 0)], version)
    return bytes([mqttraw.SUBSCRIBE << 4]) + good[1:]  # [MQTT-3.8.1-1]


def publish_qos3(version):
    good = mqttraw.publish("obs/q3", b"x", 1, packet_id=1, version=version)
    return bytes([good[0] | 0x06]) + good[1:]  # [MQTT-3.3.1-4]


def pingreq_with_body(version):
    return bytes([mqttraw.PINGREQ << 4, 1, 0])


def reserved_type_zero(version):
    return bytes([0x00, 0x00])


def wildcard_in_topic_name(version):
    return mqttraw.publish("obs/+/x", b"x", 0, version=version)


CASES = [
    pytest.param(bad_utf8_topic, {0x81}, id="bad-utf8-topic"),
    pytest.param(nul_in_topic, {0x81}, id="nul-in-topic"),
    pytest.param(five_byte_length, {0x81}, id="5-byte-length"),
    pytest.param(subscribe_flags_zero, {0x81}, id="subscribe-flags"),
    pytest.param(publish_qos3, {0x81}, id="publish-qos3"),
    pytest.param(pingreq_with_body, {0x81}, id="pingreq-body"),
    pytest.param(reserved_type_zero, {0x81}, id="type-0"),
    pytest.param(wildcard_in_topic_name, {0x90, 0x81, 0x82},
                 id="wildcard-topic-name"),
]


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
@pytest.mark.parametrize("make,reasons", CASES)
def test_malformed_after_connect(world, keys, version, make, reasons):
    c, ack = world.raw_connect(keys[1], "bad-%d" % version, version)
    assert ack.reason == 0
    c.send(make(version))
    expect_disconnect(c, version, reasons)
    world.check_observer("after")


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_packet_over_max_packet_size(world, keys, version):
    c, ack = world.raw_connect(keys[1], "big-%d" % version, version)
    assert ack.reason == 0
    # The length alone says it is too large: proxyd must not wait for (or
    # buffer) the body. Only the header and a little of the body are sent.
    body_len = 2 * MAX_PACKET
    send_quietly(c, bytes([0x30]) + mqttraw.encode_varint(body_len)
                 + struct.pack("!H", 5) + b"obs/b" + b"\x00" * 100)
    expect_disconnect(c, version, {0x95})
    world.check_observer("after-big")


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_packet_at_max_packet_size_passes(world, keys, version):
    c, ack = world.raw_connect(keys[1], "edge-%d" % version, version)
    assert ack.reason == 0
    header = 1 + 2  # type byte + 2-byte remaining length
    topic = struct.pack("!H", 5) + b"obs/e"
    props = b"\x00" if version == V5 else b""
    payload = b"e" * (MAX_PACKET - header - len(topic) - len(props))
    data = mqttraw.packet(mqttraw.PUBLISH, 0, topic + props + payload)
    assert len(data) == MAX_PACKET
    c.send(data)
    c.send(mqttraw.pingreq())
    assert c.recv().type == mqttraw.PINGRESP


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_second_connect_is_a_protocol_error(world, keys, version):
    c, ack = world.raw_connect(keys[1], "twice-%d" % version, version)
    assert ack.reason == 0
    tok = world.token(keys[1], "twice-again")
    c.send(mqttraw.connect("twice-again", version, props=v5_token_props(tok)))
    expect_disconnect(c, version, {0x82})  # [MQTT-3.1.0-2]
    world.check_observer("after-twice")


# ---- broken CONNECTs -------------------------------------------------------


def test_malformed_v5_connect(world):
    c = world.raw()
    # Reserved connect flag bit 0 set [MQTT-3.1.2-3].
    c.send(mqttraw.connect("flags", flags_extra=0x01))
    seen = c.recv_until_closed(5)
    assert [p.type for p in seen] in ([], [mqttraw.CONNACK]), seen
    if seen:
        assert seen[0].reason in (0x81, 0x82), seen
    world.check_observer("after-bad-connect")


def test_truncated_v5_connect(world):
    c = world.raw()
    good = mqttraw.connect("truncated")
    # Remaining length claims more than the properties and payload give.
    body = good[2:-3]
    c.send(mqttraw.packet(mqttraw.CONNECT, 0, body))
    seen = c.recv_until_closed(5)
    assert all(p.type == mqttraw.CONNACK and p.reason in (0x81, 0x82)
               for p in seen), seen


@pytest.mark.parametrize("proto,level", [("MQIsdp", 3), ("MQTT", 6),
                                         ("MQTT", 2)])
def test_unsupported_protocol_version(world, proto, level):
    c = world.raw(V311)
    c.send(mqttraw.connect("oldtimer", level, proto_name=proto))
    seen = c.recv_until_closed(5)
    # Either a v3.1.1-format CONNACK with return code 1, or just the close.
    if seen:
        assert len(seen) == 1 and seen[0].type == mqttraw.CONNACK, seen
        assert seen[0].body == b"\x00\x01", seen[0].body


def test_bad_protocol_name(world):
    c = world.raw()
    c.send(mqttraw.connect("badname", proto_name="MQTX"))
    seen = c.recv_until_closed(5)
    assert all(p.type == mqttraw.CONNACK and p.reason != 0 for p in seen), seen


@pytest.mark.parametrize("first", [
    pytest.param(mqttraw.pingreq(), id="pingreq"),
    pytest.param(mqttraw.publish("obs/early", b"x"), id="publish"),
    pytest.param(mqttraw.subscribe(1, ["obs/#"]), id="subscribe"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", id="http"),
])
def test_first_packet_not_connect(world, first):
    c = world.raw()
    c.send(first)
    seen = c.recv_until_closed(5)
    assert not any(p.type in (mqttraw.PINGRESP, mqttraw.SUBACK) for p in seen)
    assert not any(p.type == mqttraw.CONNACK and p.reason == 0 for p in seen)
    world.check_observer("after-first")


def test_huge_connect_length_refused_before_allocation(world):
    c = world.raw()
    send_quietly(c, bytes([0x10]) + mqttraw.encode_varint(200 * 1024 * 1024)
                 + b"\x00\x04MQTT\x05")
    assert c.closed_within(5)
    world.check_observer("after-huge")


def test_reset_mid_packet(world, keys):
    c, ack = world.raw_connect(keys[1], "rst", V5)
    assert ack.reason == 0
    c.send(mqttraw.publish("obs/rst", b"x" * 1000)[:500])
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                      struct.pack("ii", 1, 0))
    c.sock.close()
    world.check_observer("after-reset")
