"""Time limits: the CONNECT (and challenge) deadline for new connections and
MQTT keep-alive for established sessions."""

import time

import pytest

import mqttraw
from test_01_tokens import start_challenge

CONNECT_TIMEOUT_MS = 300


@pytest.fixture
def quick(ft):
    return ft.start(proxyd={"connect_timeout_ms": str(CONNECT_TIMEOUT_MS)})


def closed_after(c, limit):
    """Seconds until the peer closed c; fails beyond limit."""
    t0 = time.monotonic()
    assert c.closed_within(limit), "still open after %.1fs" % limit
    return time.monotonic() - t0


@pytest.mark.parametrize("sent", [b"", b"\x10", b"\x10\x20\x00\x04MQ"],
                         ids=["nothing", "one-byte", "partial-connect"])
def test_silent_client_dropped_at_connect_timeout(quick, sent):
    c = quick.raw()
    if sent:
        c.send(sent)
    elapsed = closed_after(c, 3)
    assert CONNECT_TIMEOUT_MS / 1000 * 0.8 <= elapsed <= 1.5, elapsed


def test_unanswered_challenge_dropped(quick):
    c, nonce = start_challenge(quick, "chal-silent")
    # The handshake has to finish within the connect deadline too.
    elapsed = closed_after(c, 5)
    assert elapsed <= 2.0, elapsed


def test_many_silent_clients_do_not_block_others(quick, keys):
    silent = [quick.raw() for _ in range(50)]
    c, ack = quick.raw_connect(keys[0], "busy-but-fine")
    assert ack.reason == 0
    for s in silent:
        assert s.closed_within(3)


@pytest.mark.parametrize("version", [mqttraw.V5, mqttraw.V311],
                         ids=["v5", "v311"])
def test_keep_alive_expiry(quick, keys, version):
    c, ack = quick.raw_connect(keys[0], "ka-%d" % version, version,
                               keep_alive=1)
    assert ack.reason == 0
    t0 = time.monotonic()
    c.recv_until_closed(5)
    elapsed = time.monotonic() - t0
    # 1.5 x keep-alive, with some room for timer granularity.
    assert 1.0 <= elapsed <= 3.0, elapsed


def test_keep_alive_kept_by_pings(quick, keys):
    c, ack = quick.raw_connect(keys[0], "ka-ping", keep_alive=1)
    assert ack.reason == 0
    end = time.monotonic() + 3.5
    while time.monotonic() < end:
        c.send(mqttraw.pingreq())
        assert c.recv(2).type == mqttraw.PINGRESP
        time.sleep(0.4)


def test_keep_alive_kept_by_traffic(quick, keys):
    c, ack = quick.raw_connect(keys[0], "ka-pub", keep_alive=1)
    assert ack.reason == 0
    end = time.monotonic() + 3.5
    i = 0
    while time.monotonic() < end:
        i += 1
        c.send(mqttraw.publish("ka/t", b"x", 1, packet_id=i))
        assert c.recv(2).type == mqttraw.PUBACK
        time.sleep(0.4)
