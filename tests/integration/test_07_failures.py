"""Peers failing under a running proxyd: the broker dying (sessions closed,
proxyd keeps serving), authd dying or hanging (new CONNECTs fail closed with
0x88 / 3, live sessions unaffected, recovery after authd returns)."""

import signal
import socket
import time

import pytest

import mqttraw
from conftest import tcp_accepts, v5_token_props

V5, V311 = mqttraw.V5, mqttraw.V311
UNAVAILABLE = {V5: 0x88, V311: 3}
AUTH_TIMEOUT_MS = 500


def try_connect(ft, key, client_id, version=V5, timeout=5):
    """One fresh-token CONNECT; returns the CONNACK code or None if proxyd
    closed without one."""
    tok = ft.token(key, client_id)
    c = ft.raw(version)
    if version == V5:
        c.send(mqttraw.connect(client_id, version, props=v5_token_props(tok)))
    else:
        c.send(mqttraw.connect(client_id, version, username=tok["username"],
                               password=tok["password"]))
    try:
        p = c.recv(timeout)
    except mqttraw.ConnectionClosed:
        return None
    assert p.type == mqttraw.CONNACK, p
    return p.reason


def eventually_connects(ft, key, prefix, limit):
    """Retries fresh CONNECTs until one succeeds; returns the seconds it
    took, failing after limit."""
    t0 = time.monotonic()
    i = 0
    while True:
        i += 1
        rc = try_connect(ft, key, "%s-%d" % (prefix, i))
        if rc == 0:
            return time.monotonic() - t0
        assert time.monotonic() - t0 < limit, (
            "no successful CONNECT within %.1fs (last %r)" % (limit, rc))
        time.sleep(0.2)


# ---- broker ----------------------------------------------------------------


def test_broker_killed(flytrap, keys):
    raw, ack = flytrap.raw_connect(keys[0], "victim-raw")
    assert ack.reason == 0
    raw311, ack = flytrap.raw_connect(keys[0], "victim-311", V311)
    assert ack.reason == 0
    flytrap.broker.stop(signal.SIGKILL)
    # Client sessions end (v5 may be told why first).
    for c in (raw, raw311):
        seen = c.recv_until_closed(5)
        assert all(p.type == mqttraw.DISCONNECT for p in seen), seen
    assert flytrap.proxyd.alive()
    # New CONNECTs fail cleanly: a refusal or a close, not a hang.
    for version in (V5, V311):
        rc = try_connect(flytrap, keys[1], "while-down-%d" % version, version)
        assert rc != 0, rc
    assert flytrap.proxyd.alive()
    assert tcp_accepts(flytrap.proxy_port)
    # The broker comes back: proxyd serves again without a restart.
    flytrap.broker_restart()
    eventually_connects(flytrap, keys[1], "broker-back", 5)
    sub = flytrap.paho(keys[0], "after-broker-sub")
    sub.subscribe("back/t", 1)
    pub = flytrap.paho(keys[1], "after-broker-pub")
    pub.publish("back/t", b"back", 1)
    assert sub.get().payload == b"back"


def test_broker_not_running(ft, keys):
    ft.start(broker=False)
    for version in (V5, V311):
        rc = try_connect(ft, keys[0], "nobroker-%d" % version, version)
        assert rc != 0
    assert ft.proxyd.alive()


def test_broker_accepts_but_never_answers(ft, keys):
    # A broker that takes the TCP connection and then says nothing: the
    # client must not wait forever (connect_timeout_ms bounds it).
    lst = socket.socket()
    lst.bind(("127.0.0.1", ft.broker_port))
    lst.listen(16)
    try:
        ft.start(broker=False, proxyd={"connect_timeout_ms": "500"})
        c = ft.raw()
        tok = ft.token(keys[0], "mute-broker")
        c.send(mqttraw.connect("mute-broker", props=v5_token_props(tok)))
        t0 = time.monotonic()
        seen = c.recv_until_closed(5)
        assert time.monotonic() - t0 < 3
        assert all(p.type == mqttraw.CONNACK and p.reason != 0 for p in seen)
    finally:
        lst.close()


# ---- authd -----------------------------------------------------------------


@pytest.fixture
def world(ft):
    return ft.start(proxyd={"auth_timeout_ms": str(AUTH_TIMEOUT_MS)})


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM],
                         ids=["kill", "term"])
def test_authd_down_fails_closed_and_recovers(world, keys, sig):
    sub = world.paho(keys[0], "live-sub")
    sub.subscribe("live/t", 1)
    pub = world.paho(keys[1], "live-pub")

    world.authd.stop(sig)
    for version in (V5, V311):
        t0 = time.monotonic()
        rc = try_connect(world, keys[1], "authd-down-%d" % version, version)
        assert rc == UNAVAILABLE[version], rc
        assert time.monotonic() - t0 < AUTH_TIMEOUT_MS / 1000 + 1.0
    # Live sessions are not affected.
    pub.publish("live/t", b"still-relaying", 1)
    assert sub.get().payload == b"still-relaying"
    assert world.proxyd.alive()

    world.authd_start()
    took = eventually_connects(world, keys[1], "authd-back", 7)
    assert took <= 6.5, took  # back-off is at most 5 s
    pub.publish("live/t", b"after-restart", 1)
    assert sub.get().payload == b"after-restart"


def test_authd_not_running_at_proxyd_start(ft, keys):
    ft.broker_start()
    ft.write_config(proxyd={"auth_timeout_ms": str(AUTH_TIMEOUT_MS)})
    ft.proxyd_start()
    assert try_connect(ft, keys[0], "early", V5) == 0x88
    assert try_connect(ft, keys[0], "early-311", V311) == 3
    ft.authd_start()
    eventually_connects(ft, keys[0], "late", 7)


def test_authd_hanging_times_out(world, keys):
    world.authd.send_signal(signal.SIGSTOP)
    try:
        for version in (V5, V311):
            t0 = time.monotonic()
            rc = try_connect(world, keys[0], "hang-%d" % version, version)
            elapsed = time.monotonic() - t0
            assert rc == UNAVAILABLE[version], rc
            # The deadline, not TCP, decides.
            assert elapsed < AUTH_TIMEOUT_MS / 1000 + 1.0, elapsed
    finally:
        world.authd.send_signal(signal.SIGCONT)
    eventually_connects(world, keys[0], "unhung", 7)


def test_challenge_with_authd_down(world, keys):
    world.authd.stop(signal.SIGKILL)
    c = world.raw()
    c.send(mqttraw.connect("chal-down", props=[
        (mqttraw.PROP_AUTH_METHOD, "FLYTRAP-SECP256K1")]))
    seen = c.recv_until_closed(5)
    # Either refused at once, or (if the nonce is made in proxyd) later, at
    # the answer; here nobody answers, so the CONNACK must not be success.
    assert not any(p.type == mqttraw.CONNACK and p.reason == 0 for p in seen)
