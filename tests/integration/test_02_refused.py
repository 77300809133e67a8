"""Invalid or missing credentials are refused with the exact CONNACK code
(v5 reason / v3.1.1 return code) and the connection is closed; replays and
alternative encodings of a used signature are refused too.

In v5 a timed token without a username authenticates whichever address the
signature recovers, so cases that only change the signed message (realm,
client id, a flipped bit) carry username = the signer's address, which makes
the recovered address checkable (DESIGN.md, "Timed token"); the same holds
for challenge answers, which claim their address in the CONNECT username.
"""

import time

import pytest

import mqttraw
from conftest import BUILD, HOST, ethsign, run
from test_01_tokens import (METHOD, answer_challenge, challenge_message,
                            start_challenge)

V5, V311 = mqttraw.V5, mqttraw.V311
BAD_CREDENTIALS = {V5: 0x86, V311: 4}
NOT_AUTHORIZED = {V5: 0x87, V311: 5}

# secp256k1 group order.
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def timed_connect(version, client_id, sig, t, username=None,
                  with_username=False, address=None):
    """A CONNECT carrying a timed token in the version's usual form."""
    if version == V5:
        props = [(mqttraw.PROP_USER_PROPERTY, ("flytrap-sig", sig)),
                 (mqttraw.PROP_USER_PROPERTY, ("flytrap-time", str(t)))]
        if username is None and with_username:
            username = address
        return mqttraw.connect(client_id, V5, username=username, props=props)
    return mqttraw.connect(client_id, V311, username=username or address,
                           password="%s:%s" % (t, sig))


def refused(ft, version, data, expected):
    """Sends data as the CONNECT; asserts the CONNACK code and the close."""
    c = ft.raw(version)
    c.send(data)
    ack = c.expect(mqttraw.CONNACK)
    assert ack.reason == expected[version], "CONNACK 0x%02x, wanted 0x%02x" % (
        ack.reason, expected[version])
    assert c.closed_within(3), "connection left open after a refusal"
    return ack


def flip(sig_hex, nibble):
    """The signature with one hex digit of r changed."""
    i = 2 + nibble
    d = "0" if sig_hex[i] != "0" else "1"
    return sig_hex[:i] + d + sig_hex[i + 1:]


def high_s(sig_hex):
    """The other valid ECDSA encoding (s -> n - s, v flipped)."""
    raw = bytes.fromhex(sig_hex[2:])
    r, s, v = raw[:32], int.from_bytes(raw[32:64], "big"), raw[64]
    v = {27: 28, 28: 27, 0: 1, 1: 0}[v]
    return "0x" + (r + (N - s).to_bytes(32, "big") + bytes([v])).hex()


def v01(sig_hex):
    """The same signature with v written as the recovery id 0/1."""
    v = int(sig_hex[-2:], 16)
    return sig_hex[:-2] + "%02x" % (v - 27 if v >= 27 else v)


VERSIONS = pytest.mark.parametrize("version", [V5, V311], ids=["v5", "v311"])


def _case_sig(ft, keys, version, mutate, with_username):
    cid = "bad-sig-%d" % version
    tok = ft.token(keys[0], cid)
    return timed_connect(version, cid, mutate(tok["signature"]), tok["time"],
                         with_username=with_username,
                         address=keys[0].address)


@VERSIONS
@pytest.mark.parametrize("mutate", [
    pytest.param(lambda s: s[:-2] + "1d", id="v-29"),
    pytest.param(lambda s: "0x" + "00" * 32 + s[66:], id="r-zero"),
    pytest.param(lambda s: s[:-2], id="64-bytes"),
    pytest.param(lambda s: "0x" + "zz" + s[4:], id="not-hex"),
    pytest.param(lambda s: s[2:] + "00", id="no-0x-66-bytes"),
    pytest.param(high_s, id="high-s"),
])
def test_malformed_signature(ft, keys, version, mutate):
    ft.start()
    refused(ft, version, _case_sig(ft, keys, version, mutate, False),
            BAD_CREDENTIALS)


@VERSIONS
def test_flipped_signature_bit(ft, keys, version):
    ft.start()
    refused(ft, version,
            _case_sig(ft, keys, version, lambda s: flip(s, 7), True),
            BAD_CREDENTIALS)


@VERSIONS
def test_wrong_realm(ft, keys, version):
    ft.start()
    cid = "realm-%d" % version
    tok = ft.token(keys[0], cid, realm="some-other-realm")
    refused(ft, version, timed_connect(version, cid, tok["signature"],
                                       tok["time"], with_username=True,
                                       address=keys[0].address),
            BAD_CREDENTIALS)


@VERSIONS
@pytest.mark.parametrize("delta", [-120, 120], ids=["expired", "future"])
def test_time_outside_skew(ft, keys, version, delta):
    ft.start(authd={"token_skew_s": "30"})
    cid = "skew-%d" % version
    tok = ft.token(keys[0], cid, at=time.time() + delta)
    # No username in v5: the time check alone must refuse it.
    refused(ft, version, timed_connect(version, cid, tok["signature"],
                                       tok["time"], address=keys[0].address),
            BAD_CREDENTIALS)


@VERSIONS
def test_token_signed_for_another_client_id(ft, keys, version):
    ft.start()
    tok = ft.token(keys[0], "the-signed-id")
    refused(ft, version, timed_connect(version, "another-id",
                                       tok["signature"], tok["time"],
                                       with_username=True,
                                       address=keys[0].address),
            BAD_CREDENTIALS)


@VERSIONS
def test_username_not_the_signer(ft, keys, version):
    ft.start()
    cid = "mismatch-%d" % version
    tok = ft.token(keys[0], cid)
    refused(ft, version, timed_connect(version, cid, tok["signature"],
                                       tok["time"],
                                       username=keys[1].address),
            BAD_CREDENTIALS)


@VERSIONS
def test_garbage_password(ft, keys, version):
    ft.start()
    refused(ft, version, mqttraw.connect("garbage", version,
                                         username=keys[0].address,
                                         password="not-a-token"),
            BAD_CREDENTIALS)


def test_v5_bad_time_property(ft, keys):
    ft.start()
    tok = ft.token(keys[0], "badtime")
    refused(ft, V5, timed_connect(V5, "badtime", tok["signature"],
                                  "%sx" % tok["time"]), BAD_CREDENTIALS)


@VERSIONS
def test_static_token_when_disabled(ft, keys, version):
    ft.start()  # static_tokens defaults to false
    tok = ft.token(keys[0], static=True)
    if version == V5:
        data = mqttraw.connect("static-off", V5, props=[
            (mqttraw.PROP_USER_PROPERTY, ("flytrap-address", keys[0].address)),
            (mqttraw.PROP_USER_PROPERTY, ("flytrap-sig", tok["signature"]))])
    else:
        data = mqttraw.connect("static-off", V311, username=tok["username"],
                               password=tok["password"])
    refused(ft, version, data, BAD_CREDENTIALS)


@VERSIONS
def test_static_token_for_other_realm(ft, keys, version):
    ft.start(authd={"static_tokens": "true"})
    tok = ft.token(keys[0], static=True, realm="some-other-realm")
    data = mqttraw.connect("static-realm", version, username=tok["username"],
                           password=tok["password"])
    refused(ft, version, data, BAD_CREDENTIALS)


@VERSIONS
def test_no_credentials(ft, version):
    ft.start()
    refused(ft, version, mqttraw.connect("anonymous", version),
            NOT_AUTHORIZED)


def test_no_credentials_paho_v311(ft):
    ft.start()
    c = ft.paho(None, "paho-anon", V311, connect=False)
    assert c.connect() == 5


def test_no_credentials_paho_v5(ft):
    ft.start()
    c = ft.paho(None, "paho-anon5", V5, connect=False)
    assert c.connect() == 0x87


# ---- replay -------------------------------------------------------------


@VERSIONS
def test_replayed_connect_refused(ft, keys, version):
    ft.start()
    cid = "replay-%d" % version
    tok = ft.token(keys[0], cid)
    data = timed_connect(version, cid, tok["signature"], tok["time"],
                         address=keys[0].address)
    first = ft.raw(version)
    first.send(data)
    assert first.expect(mqttraw.CONNACK).reason == 0
    first.send(mqttraw.disconnect(version=version))
    assert first.closed_within(3)
    refused(ft, version, data, BAD_CREDENTIALS)


@VERSIONS
def test_replay_with_other_v_encoding_refused(ft, keys, version):
    # r||s||27 and r||s||0 are the same signature: one use only.
    ft.start()
    cid = "replay-v-%d" % version
    tok = ft.token(keys[0], cid)
    first = ft.raw(version)
    first.send(timed_connect(version, cid, tok["signature"], tok["time"],
                             address=keys[0].address))
    assert first.expect(mqttraw.CONNACK).reason == 0
    refused(ft, version, timed_connect(version, cid, v01(tok["signature"]),
                                       tok["time"], address=keys[0].address),
            BAD_CREDENTIALS)


def test_replay_across_protocol_versions_refused(ft, keys):
    ft.start()
    tok = ft.token(keys[0], "replay-x")
    first = ft.raw(V5)
    first.send(timed_connect(V5, "replay-x", tok["signature"], tok["time"]))
    assert first.expect(mqttraw.CONNACK).reason == 0
    refused(ft, V311, timed_connect(V311, "replay-x", tok["signature"],
                                    tok["time"], address=keys[0].address),
            BAD_CREDENTIALS)


# ---- enhanced authentication -------------------------------------------


def test_unknown_auth_method(ft):
    ft.start()
    c = ft.raw()
    c.send(mqttraw.connect("scram", props=[
        (mqttraw.PROP_AUTH_METHOD, "SCRAM-SHA-256"),
        (mqttraw.PROP_AUTH_DATA, b"n,,n=user,r=abc")]))
    ack = c.expect(mqttraw.CONNACK)
    assert ack.reason == 0x8C, ack
    assert c.closed_within(3)


def _challenge_refused(ft, c):
    ack = c.expect(mqttraw.CONNACK)
    assert ack.reason == 0x87, ack
    assert c.closed_within(3)


def test_challenge_signed_over_other_nonce(ft, keys):
    ft.start()
    c, nonce = start_challenge(ft, "chal-bad",
                               username=keys[0].address)
    other = bytes(b ^ 0xFF for b in nonce)
    answer_challenge(c, ethsign(keys[0].path, challenge_message(
        ft.realm, "chal-bad", other)))
    _challenge_refused(ft, c)


def test_challenge_signed_for_other_client(ft, keys):
    ft.start()
    c, nonce = start_challenge(ft, "chal-me",
                               username=keys[0].address)
    answer_challenge(c, ethsign(keys[0].path, challenge_message(
        ft.realm, "chal-someone-else", nonce)))
    _challenge_refused(ft, c)


def test_challenge_signed_for_other_realm(ft, keys):
    ft.start()
    c, nonce = start_challenge(ft, "chal-realm",
                               username=keys[0].address)
    answer_challenge(c, ethsign(keys[0].path, challenge_message(
        "some-other-realm", "chal-realm", nonce)))
    _challenge_refused(ft, c)


def test_challenge_answer_wrong_length(ft):
    ft.start()
    c, nonce = start_challenge(ft, "chal-len")
    c.send(mqttraw.auth(0x18, [(mqttraw.PROP_AUTH_METHOD, METHOD),
                               (mqttraw.PROP_AUTH_DATA, b"\x01" * 64)]))
    _challenge_refused(ft, c)


# ---- limits that must fail closed ---------------------------------------


def test_replay_refused_after_cache_filled(ft, keys):
    """A full replay cache refuses new tokens rather than forgetting used
    ones: flooding it with valid tokens must not make a captured token
    usable again."""
    ft.start(authd={"replay_cache_size": "1000"})
    tok = ft.token(keys[0], "captured")
    data = timed_connect(V5, "captured", tok["signature"], tok["time"])
    first = ft.raw()
    first.send(data)
    assert first.expect(mqttraw.CONNACK).reason == 0
    # 999 more valid tokens fill the cache to exactly 1000.
    run([BUILD / "bench" / "connect_bench", "--host", HOST, "--port",
         str(ft.proxy_port), "--count", "999", "--key", keys[1].path,
         "--realm", ft.realm], timeout=60)
    refused(ft, V5, data, BAD_CREDENTIALS)
    # A fresh token cannot be remembered either: refused, not accepted.
    c = ft.raw()
    fresh = ft.token(keys[1], "one-too-many")
    c.send(timed_connect(V5, "one-too-many", fresh["signature"],
                         fresh["time"]))
    assert c.expect(mqttraw.CONNACK).reason != 0


def test_challenge_answered_too_late(ft, keys):
    ft.start(authd={"challenge_lifetime_s": "1"},
             proxyd={"connect_timeout_ms": "5000"})
    c, nonce = start_challenge(ft, "chal-late")
    sig = ethsign(keys[0].path, challenge_message(ft.realm, "chal-late",
                                                  nonce))
    time.sleep(1.6)  # past the challenge's lifetime
    answer_challenge(c, sig)
    _challenge_refused(ft, c)


def test_pending_challenge_limit(ft, keys):
    ft.start(authd={"max_pending_challenges": "1"})
    first, nonce = start_challenge(ft, "chal-first")
    second = ft.raw()
    second.send(mqttraw.connect("chal-second", props=[
        (mqttraw.PROP_AUTH_METHOD, METHOD)]))
    p = second.recv()
    assert p.type == mqttraw.CONNACK and p.reason != 0, p
    assert second.closed_within(3)
    # The first is unaffected.
    answer_challenge(first, ethsign(keys[0].path, challenge_message(
        ft.realm, "chal-first", nonce)))
    assert first.expect(mqttraw.CONNACK).reason == 0
