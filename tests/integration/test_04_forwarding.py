"""What proxyd sends the broker: the CONNECT with FlyTrap credentials
stripped, the authenticated address as username (proven with a mosquitto %u
ACL) or the configured broker credentials (proven with a password file)."""

import subprocess

import pytest

import mqttraw
from conftest import ethsign, v5_token_props
from test_01_tokens import answer_challenge, challenge_message, start_challenge

V5, V311 = mqttraw.V5, mqttraw.V311


def no_flytrap_traces(c):
    for pid, value in c["props"]:
        assert pid not in (mqttraw.PROP_AUTH_METHOD, mqttraw.PROP_AUTH_DATA), c
        if pid == mqttraw.PROP_USER_PROPERTY:
            assert not value[0].lower().startswith("flytrap-"), c


# ---- against a fake broker that records the CONNECT -------------------------


def test_v5_timed_connect_is_stripped(ft, keys):
    fb = ft.fake_broker()
    ft.start(broker=False)
    tok = ft.token(keys[0], "strip-v5")
    c = ft.raw()
    c.send(mqttraw.connect("strip-v5", keep_alive=42, username=keys[0].address,
                           props=v5_token_props(tok) + [
                               (mqttraw.PROP_USER_PROPERTY, ("app", "kept")),
                               (mqttraw.PROP_SESSION_EXPIRY, 30)]))
    assert c.expect(mqttraw.CONNACK).reason == 0
    got = fb.wait_connect()
    no_flytrap_traces(got)
    assert got["version"] == V5
    assert got["client_id"] == "strip-v5"
    assert got["keep_alive"] == 42
    assert got["username"] == keys[0].address
    assert got["password"] is None
    assert (mqttraw.PROP_USER_PROPERTY, ("app", "kept")) in got["props"]
    assert (mqttraw.PROP_SESSION_EXPIRY, 30) in got["props"]


def test_v311_timed_connect_is_stripped(ft, keys):
    fb = ft.fake_broker()
    ft.start(broker=False)
    c, ack = ft.raw_connect(keys[1], "strip-v311", V311, keep_alive=17)
    assert ack.reason == 0
    got = fb.wait_connect()
    assert got["version"] == V311
    assert got["client_id"] == "strip-v311"
    assert got["keep_alive"] == 17
    assert got["username"] == keys[1].address
    assert got["password"] is None


def test_v5_password_form_is_stripped(ft, keys):
    fb = ft.fake_broker()
    ft.start(broker=False)
    tok = ft.token(keys[0], "strip-pw")
    c = ft.raw()
    c.send(mqttraw.connect("strip-pw", username=tok["username"],
                           password=tok["password"]))
    assert c.expect(mqttraw.CONNACK).reason == 0
    got = fb.wait_connect()
    assert got["username"] == keys[0].address
    assert got["password"] is None


def test_static_connect_is_stripped(ft, keys):
    fb = ft.fake_broker()
    ft.start(broker=False, authd={"static_tokens": "true"})
    tok = ft.token(keys[0], static=True)
    c = ft.raw()
    c.send(mqttraw.connect("strip-static", props=[
        (mqttraw.PROP_USER_PROPERTY, ("flytrap-address", keys[0].address)),
        (mqttraw.PROP_USER_PROPERTY, ("flytrap-sig", tok["signature"]))]))
    assert c.expect(mqttraw.CONNACK).reason == 0
    got = fb.wait_connect()
    no_flytrap_traces(got)
    assert got["username"] == keys[0].address


def test_challenge_connect_is_stripped(ft, keys):
    fb = ft.fake_broker()
    ft.start(broker=False)
    c, nonce = start_challenge(ft, "strip-chal")
    answer_challenge(c, ethsign(keys[1].path, challenge_message(
        ft.realm, "strip-chal", nonce)))
    assert c.expect(mqttraw.CONNACK).reason == 0
    got = fb.wait_connect()
    no_flytrap_traces(got)
    assert got["username"] == keys[1].address
    assert got["client_id"] == "strip-chal"


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_will_is_forwarded(ft, keys, version):
    fb = ft.fake_broker()
    ft.start(broker=False)
    c, ack = ft.raw_connect(keys[0], "will-fwd", version,
                            will=("w/topic", b"bye", 1, True))
    assert ack.reason == 0
    got = fb.wait_connect()
    assert got["will"][:4] == ("w/topic", b"bye", 1, True)


def test_broker_credentials_from_config(ft, keys):
    fb = ft.fake_broker()
    ft.start(broker=False, proxyd={"broker_username": "proxy-user",
                                   "broker_password": "proxy-pass"})
    c, ack = ft.raw_connect(keys[0], "creds")
    assert ack.reason == 0
    got = fb.wait_connect()
    assert got["username"] == "proxy-user"
    assert got["password"] == b"proxy-pass"


def test_broker_password_only(ft, keys):
    fb = ft.fake_broker()
    ft.start(broker=False, proxyd={"broker_password": "only-pass"})
    c, ack = ft.raw_connect(keys[0], "pw-only", V311)
    assert ack.reason == 0
    got = fb.wait_connect()
    assert got["username"] == keys[0].address
    assert got["password"] == b"only-pass"


def test_forward_username_off(ft, keys):
    fb = ft.fake_broker()
    ft.start(broker=False, proxyd={"forward_username": "false"})
    c, ack = ft.raw_connect(keys[0], "no-user")
    assert ack.reason == 0
    got = fb.wait_connect()
    no_flytrap_traces(got)
    assert got["username"] is None
    assert got["password"] is None


def test_refused_connect_never_reaches_broker(ft, keys):
    fb = ft.fake_broker()
    ft.start(broker=False)
    c = ft.raw()
    c.send(mqttraw.connect("nobody"))
    assert c.expect(mqttraw.CONNACK).reason == 0x87
    # A good one afterwards is the first the broker sees.
    c2, ack = ft.raw_connect(keys[0], "somebody")
    assert ack.reason == 0
    got = fb.wait_connect()
    assert got["client_id"] == "somebody"
    assert len(fb.connects) == 1


def test_broker_refusal_is_relayed(ft, keys):
    ft.fake_broker(reason=0x87)
    ft.start(broker=False)
    c, ack = ft.raw_connect(keys[0], "broker-says-no")
    assert ack.reason == 0x87
    assert c.closed_within(3)


# ---- against mosquitto ------------------------------------------------------


def test_username_is_the_address_for_broker_acl(ft, keys):
    """A mosquitto ACL `pattern readwrite users/%u/#` only works if the
    broker sees username = the authenticated (lowercase) address."""
    acl = ft.dir / "acl"
    acl.write_text("pattern readwrite users/%u/#\n")
    ft.start(broker_lines=["acl_file %s" % acl])
    a, b = keys
    sub_a = ft.paho(a, "acl-sub-a")
    assert sub_a.subscribe("users/%s/#" % a.address, 1) == [1]
    sub_b = ft.paho(b, "acl-sub-b")
    assert sub_b.subscribe("users/%s/#" % b.address, 1) == [1]
    # mosquitto grants the subscription to B's tree but, by the same ACL,
    # must never deliver B's messages to A.
    sub_a.subscribe("users/%s/#" % b.address, 1)

    pub_a = ft.paho(a, "acl-pub-a")
    pub_a.publish("users/%s/x" % a.address, b"a-to-a", 1)
    m = sub_a.get()
    assert (m.topic, m.payload) == ("users/%s/x" % a.address, b"a-to-a")
    # A writing into B's tree is dropped by the broker.
    pub_a.publish("users/%s/x" % b.address, b"a-to-b", 1)
    pub_b = ft.paho(b, "acl-pub-b")
    pub_b.publish("users/%s/x" % b.address, b"b-to-b", 1)
    # "a-to-b" was acknowledged before "b-to-b" was sent, so had the broker
    # delivered it, it would have come first.
    assert sub_b.get().payload == b"b-to-b"
    assert sub_b.get_nowait_all() == []
    assert sub_a.get_nowait_all() == []


def _password_file(ft, user, password):
    path = ft.dir / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(path), user,
                    password], check=True, capture_output=True, timeout=10)
    return path


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_broker_password_file(ft, keys, version):
    pw = _password_file(ft, "flytrap-proxy", "s3cret")
    ft.start(broker_lines=["password_file %s" % pw], allow_anonymous=False,
             proxyd={"broker_username": "flytrap-proxy",
                     "broker_password": "s3cret"})
    sub = ft.paho(keys[0], "pwf-sub-%d" % version, version)
    sub.subscribe("pwf/t", 1)
    pub = ft.paho(keys[1], "pwf-pub-%d" % version, version)
    pub.publish("pwf/t", b"with-broker-creds", 1)
    assert sub.get().payload == b"with-broker-creds"


@pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])
def test_broker_password_file_without_proxy_credentials(ft, keys, version):
    pw = _password_file(ft, "flytrap-proxy", "s3cret")
    ft.start(broker_lines=["password_file %s" % pw], allow_anonymous=False)
    # FlyTrap accepts the token; the broker refuses the address, and the
    # client learns it from the broker's CONNACK.
    c, ack = ft.raw_connect(keys[0], "pwf-none-%d" % version, version)
    assert ack.reason != 0
    assert c.closed_within(3)
