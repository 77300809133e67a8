"""Every kind of FlyTrap credential is accepted through proxyd: timed tokens
(v5 user properties, v3.1.1 username/password) from mosquitto_pub/sub, paho
and raw clients, static tokens when enabled, and v5 challenge-response."""

import queue
import subprocess
import threading
import time

import pytest

import mqttraw
from conftest import HOST, ethsign, run, v5_token_props

METHOD = "FLYTRAP-SECP256K1"


class MosquittoSub:
    """mosquitto_sub through proxyd, its output read by a thread."""

    def __init__(self, ft, args, topic, count=1):
        # -d shows the SUBACK; stdbuf because stdout is a pipe.
        self.p = subprocess.Popen(
            ["stdbuf", "-oL", "mosquitto_sub", "-h", HOST, "-p",
             str(ft.proxy_port), "-t", topic, "-C", str(count), "-W", "10",
             "-d"] + args,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, text, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(
                    timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is not None:
                self.seen.append(line)
            if line is None or text in line:
                break
        if line is None:
            self.p.kill()
            self.p.wait()
            pytest.fail("mosquitto_sub: no %r in %r" % (text, self.seen))

    def finish(self):
        """Waits for the exit; returns (status, every output line)."""
        try:
            self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        while True:
            line = self.lines.get(timeout=5)
            if line is None:
                return self.p.returncode, self.seen
            self.seen.append(line)


def mosquitto_sub_start(ft, args, topic, count=1):
    """Starts mosquitto_sub through proxyd and waits for its SUBACK."""
    sub = MosquittoSub(ft, args, topic, count)
    sub.wait_for("SUBACK")
    return sub


@pytest.mark.parametrize("version", ["mosquitto_v5", "mosquitto_v311"])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_timed_token_mosquitto_pub_sub(flytrap, keys, version, qos):
    sub_tok = flytrap.token(keys[0], "msub-%s-%d" % (version, qos))
    sub = mosquitto_sub_start(flytrap, ["-q", str(qos)] + sub_tok[version],
                              "tok/cli")
    pub_tok = flytrap.token(keys[1], "mpub-%s-%d" % (version, qos))
    payload = "hello-%s-%d" % (version, qos)
    run(["mosquitto_pub", "-h", HOST, "-p", str(flytrap.proxy_port), "-t",
         "tok/cli", "-m", payload, "-q", str(qos)] + pub_tok[version])
    rc, out = sub.finish()
    assert rc == 0, out
    assert payload in out
    # -d shows the QoS the message was delivered with.
    assert any("PUBLISH" in line and "q%d" % qos in line for line in out), out


@pytest.mark.parametrize("version", [mqttraw.V5, mqttraw.V311])
def test_timed_token_paho(flytrap, keys, version):
    sub = flytrap.paho(keys[0], "paho-sub-%d" % version, version)
    sub.subscribe("tok/paho", 1)
    pub = flytrap.paho(keys[1], "paho-pub-%d" % version, version)
    pub.publish("tok/paho", b"from paho", 1)
    m = sub.get()
    assert (m.topic, m.payload) == ("tok/paho", b"from paho")


@pytest.mark.parametrize("version", [mqttraw.V5, mqttraw.V311])
def test_timed_token_raw(flytrap, keys, version):
    c, ack = flytrap.raw_connect(keys[0], "raw-ok-%d" % version, version)
    assert ack.reason == 0
    c.send(mqttraw.pingreq())
    assert c.recv().type == mqttraw.PINGRESP


def test_timed_token_v5_with_matching_username(flytrap, keys):
    tok = flytrap.token(keys[0], "with-user")
    c = flytrap.raw()
    c.send(mqttraw.connect("with-user", username=keys[0].address,
                           props=v5_token_props(tok)))
    assert c.expect(mqttraw.CONNACK).reason == 0


def test_timed_token_v5_password_form(flytrap, keys):
    # A v5 client without FlyTrap properties may use the v3.1.1 form.
    tok = flytrap.token(keys[0], "v5-pw")
    c = flytrap.raw()
    c.send(mqttraw.connect("v5-pw", username=tok["username"],
                           password=tok["password"]))
    assert c.expect(mqttraw.CONNACK).reason == 0


@pytest.mark.parametrize("version", [mqttraw.V5, mqttraw.V311])
def test_timed_token_recovery_id_0_1_accepted(flytrap, keys, version):
    # v = 27 + recovery id, "0/1 accepted too".
    tok = flytrap.token(keys[0], "recid-%d" % version)
    sig = tok["signature"]
    v = int(sig[-2:], 16)
    assert v in (27, 28)
    sig01 = sig[:-2] + "%02x" % (v - 27)
    c = flytrap.raw(version)
    if version == mqttraw.V5:
        c.send(mqttraw.connect("recid-5", props=[
            (mqttraw.PROP_USER_PROPERTY, ("flytrap-sig", sig01)),
            (mqttraw.PROP_USER_PROPERTY, ("flytrap-time", str(tok["time"])))]))
    else:
        c.send(mqttraw.connect("recid-4", version, username=keys[0].address,
                               password="%s:%s" % (tok["time"], sig01)))
    assert c.expect(mqttraw.CONNACK).reason == 0


def test_timed_token_within_skew_accepted(flytrap, keys):
    # 20 s old and 20 s ahead are inside the default 30 s skew.
    for i, delta in enumerate((-20, 20)):
        tok = flytrap.token(keys[0], "skew-%d" % i, at=time.time() + delta)
        c = flytrap.raw()
        c.send(mqttraw.connect("skew-%d" % i, props=v5_token_props(tok)))
        assert c.expect(mqttraw.CONNACK).reason == 0, delta


# ---- static tokens ---------------------------------------------------------


@pytest.fixture
def static_ft(ft):
    return ft.start(authd={"static_tokens": "true"})


def test_static_token_mosquitto_pub_v5_and_v311(static_ft, keys):
    tok = static_ft.token(keys[0], static=True)
    sub = mosquitto_sub_start(static_ft,
                                   ["-i", "static-sub"] + tok["mosquitto_v5"],
                                   "tok/static", count=2)
    for version in ("mosquitto_v5", "mosquitto_v311"):
        run(["mosquitto_pub", "-h", HOST, "-p", str(static_ft.proxy_port),
             "-i", "static-pub-" + version, "-t", "tok/static", "-q", "1",
             "-m", "static-" + version] + tok[version])
    rc, out = sub.finish()
    assert rc == 0, out
    assert "static-mosquitto_v5" in out
    assert "static-mosquitto_v311" in out


@pytest.mark.parametrize("version", [mqttraw.V5, mqttraw.V311])
def test_static_token_raw_and_replayable(static_ft, keys, version):
    tok = static_ft.token(keys[1], static=True)
    for i in range(2):
        cid = "static-raw-%d-%d" % (version, i)
        c = static_ft.raw(version)
        if version == mqttraw.V5:
            c.send(mqttraw.connect(cid, props=[
                (mqttraw.PROP_USER_PROPERTY,
                 ("flytrap-address", keys[1].address)),
                (mqttraw.PROP_USER_PROPERTY,
                 ("flytrap-sig", tok["signature"]))]))
        else:
            c.send(mqttraw.connect(cid, version, username=tok["username"],
                                   password=tok["password"]))
        assert c.expect(mqttraw.CONNACK).reason == 0, i


# ---- challenge-response ---------------------------------------------------


def challenge_message(realm, client_id, nonce):
    return "FlyTrap AUTH\nrealm: %s\nclient: %s\nnonce: %s" % (
        realm, client_id, nonce.hex())


def start_challenge(ft, client_id, keep_alive=60, username=None):
    """Sends a CONNECT asking for FLYTRAP-SECP256K1 (claiming an address
    when username is given); returns (conn, nonce)."""
    c = ft.raw()
    c.send(mqttraw.connect(client_id, keep_alive=keep_alive,
                           username=username,
                           props=[(mqttraw.PROP_AUTH_METHOD, METHOD)]))
    a = c.expect(mqttraw.AUTH)
    assert a.reason == 0x18
    assert a.prop(mqttraw.PROP_AUTH_METHOD) == METHOD
    nonce = a.prop(mqttraw.PROP_AUTH_DATA)
    assert isinstance(nonce, bytes) and len(nonce) == 32, a
    return c, nonce


def answer_challenge(c, signature_hex):
    c.send(mqttraw.auth(0x18, [
        (mqttraw.PROP_AUTH_METHOD, METHOD),
        (mqttraw.PROP_AUTH_DATA, bytes.fromhex(signature_hex[2:]))]))


def test_challenge_response_accepted(flytrap, keys):
    c, nonce = start_challenge(flytrap, "chal-ok")
    sig = ethsign(keys[0].path, challenge_message(flytrap.realm, "chal-ok",
                                                  nonce))
    answer_challenge(c, sig)
    ack = c.expect(mqttraw.CONNACK)
    assert ack.reason == 0, ack
    # The session works: subscribe and get our own QoS 1 message back.
    c.send(mqttraw.subscribe(1, [("chal/t", 1)]))
    assert c.expect(mqttraw.SUBACK).reasons == [1]
    c.send(mqttraw.publish("chal/t", b"after-challenge", 1, packet_id=2))
    got = {}
    for _ in range(2):
        p = c.recv()
        got[p.type] = p
    assert got[mqttraw.PUBACK].packet_id == 2
    assert got[mqttraw.PUBLISH].payload == b"after-challenge"


def test_challenge_response_with_username(flytrap, keys):
    c, nonce = start_challenge(flytrap, "chal-user", username=keys[1].address)
    answer_challenge(c, ethsign(keys[1].path, challenge_message(
        flytrap.realm, "chal-user", nonce)))
    assert c.expect(mqttraw.CONNACK).reason == 0


def test_challenge_nonces_are_fresh(flytrap):
    nonces = {start_challenge(flytrap, "chal-n%d" % i)[1] for i in range(3)}
    assert len(nonces) == 3
