"""flytrapctl keys and tokens (cross-checked against ethers), configuration
errors, listeners, and clean daemon shutdown."""

import json
import os
import re
import signal
import stat
import time

import pytest

import mqttraw
from conftest import (BIN, ETHSIGN, REALM, ethsign, free_port, run,
                      tcp_accepts, v5_token_props, wait_for)

ADDRESS_RE = re.compile(r"^0x[0-9a-f]{40}$")
SIG_RE = re.compile(r"^0x[0-9a-f]{130}$")


def test_keygen_writes_private_key_file(tmp_path):
    path = tmp_path / "k"
    r = run([BIN / "flytrapctl", "keygen", "--out", path])
    address = r.stdout.strip()
    assert ADDRESS_RE.match(address), r.stdout
    assert re.match(r"^0x[0-9a-f]{64}\n$", path.read_text())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # The same address as ethers derives from the key.
    assert run(["node", ETHSIGN, path,
                "--address"]).stdout.strip() == address
    r = run([BIN / "flytrapctl", "address", "--key", path])
    assert r.stdout.strip() == address


def test_keygen_refuses_to_overwrite(tmp_path):
    path = tmp_path / "k"
    run([BIN / "flytrapctl", "keygen", "--out", path])
    before = path.read_text()
    r = run([BIN / "flytrapctl", "keygen", "--out", path], check=False)
    assert r.returncode != 0
    assert path.read_text() == before


def test_two_keys_differ(keys):
    assert keys[0].address != keys[1].address


def test_timed_token_json_matches_ethers(keys):
    key = keys[0]
    t = 1700000000
    r = run([BIN / "flytrapctl", "token", "--key", key.path, "--client-id",
             "dev-1", "--realm", REALM, "--time", str(t), "--json"])
    tok = json.loads(r.stdout)
    message = "FlyTrap CONNECT\nrealm: %s\nclient: dev-1\ntime: %d" % (
        REALM, t)
    sig = ethsign(key.path, message)
    assert tok["address"] == key.address
    assert tok["client_id"] == "dev-1"
    assert tok["realm"] == REALM
    assert int(tok["time"]) == t
    assert SIG_RE.match(tok["signature"])
    assert tok["signature"] == sig
    assert tok["username"] == key.address
    assert tok["password"] == "%d:%s" % (t, sig)
    assert tok["mosquitto_v5"] == [
        "-V", "mqttv5", "-i", "dev-1",
        "-D", "connect", "user-property", "flytrap-sig", sig,
        "-D", "connect", "user-property", "flytrap-time", str(t)]
    assert tok["mosquitto_v311"] == [
        "-V", "mqttv311", "-i", "dev-1", "-u", key.address,
        "-P", "%d:%s" % (t, sig)]


def test_timed_token_defaults_realm_from_env_and_time_now(keys):
    env = dict(os.environ, FLYTRAP_REALM="realm-from-env")
    before = int(time.time())
    r = run([BIN / "flytrapctl", "token", "--key", keys[1].path,
             "--client-id", "x", "--json"], env=env)
    after = int(time.time())
    tok = json.loads(r.stdout)
    assert tok["realm"] == "realm-from-env"
    assert before <= int(tok["time"]) <= after
    message = "FlyTrap CONNECT\nrealm: realm-from-env\nclient: x\ntime: %d" % (
        int(tok["time"]))
    assert tok["signature"] == ethsign(keys[1].path, message)


def test_static_token_json_matches_ethers(keys):
    key = keys[0]
    r = run([BIN / "flytrapctl", "token", "--static", "--key", key.path,
             "--realm", REALM, "--json"])
    tok = json.loads(r.stdout)
    message = "FlyTrap STATIC\nrealm: %s\naddress: %s" % (REALM, key.address)
    sig = ethsign(key.path, message)
    assert tok["address"] == key.address
    assert tok["realm"] == REALM
    assert tok["signature"] == sig
    assert tok["username"] == key.address
    assert tok["password"] == "static:" + sig
    v5 = tok["mosquitto_v5"]
    assert v5[:2] == ["-V", "mqttv5"]
    assert ["-D", "connect", "user-property", "flytrap-address",
            key.address] == v5[v5.index("flytrap-address") - 3:
                               v5.index("flytrap-address") + 2]
    assert ["-D", "connect", "user-property", "flytrap-sig",
            sig] == v5[v5.index("flytrap-sig") - 3:v5.index("flytrap-sig") + 2]
    v311 = tok["mosquitto_v311"]
    assert v311[:2] == ["-V", "mqttv311"]
    assert v311[v311.index("-u") + 1] == key.address
    assert v311[v311.index("-P") + 1] == "static:" + sig


def test_token_human_output_mentions_signature(keys):
    r = run([BIN / "flytrapctl", "token", "--key", keys[0].path,
             "--client-id", "h", "--realm", REALM, "--time", "1700000000"])
    sig = ethsign(keys[0].path, "FlyTrap CONNECT\nrealm: %s\nclient: h\n"
                  "time: 1700000000" % REALM)
    assert sig in r.stdout


@pytest.mark.parametrize("daemon", ["authd", "proxyd"])
def test_unknown_config_key_is_rejected_with_file_and_line(ft, daemon):
    path = ft.write_config()
    lines = path.read_text().splitlines()
    # Put the bad key inside the daemon's own section.
    at = lines.index("[%s]" % daemon) + 1
    lines.insert(at, "no_such_option = 1")
    path.write_text("\n".join(lines) + "\n")
    r = run([BIN / daemon, "-c", path], check=False, timeout=10)
    assert r.returncode == 1, r
    assert "%s:%d" % (path, at + 1) in r.stderr, r.stderr


@pytest.mark.parametrize("daemon", ["authd", "proxyd"])
def test_unknown_config_section_is_rejected(ft, daemon):
    path = ft.write_config(raw="[nosuchsection]\nfoo = 1\n")
    r = run([BIN / daemon, "-c", path], check=False, timeout=10)
    assert r.returncode == 1, r
    assert str(path) in r.stderr, r.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_daemons_exit_zero_on_signal(flytrap, sig, keys):
    # With a live session, so shutdown has something to clean up.
    c, ack = flytrap.raw_connect(keys[0], "shutdown-1")
    assert ack.reason == 0
    assert flytrap.proxyd.stop(sig) == 0, flytrap.proxyd.log()[-2000:]
    assert flytrap.authd.stop(sig) == 0, flytrap.authd.log()[-2000:]
    assert c.closed_within(5)


def test_authd_removes_stale_socket_and_starts(ft):
    ft.broker_start()
    ft.write_config()
    ft.authd_start()
    ft.authd.stop(signal.SIGKILL)
    # The killed authd left its socket file behind; a new one must replace
    # it (authd_start waits until the socket accepts connections).
    assert ft.authd_sock.exists()
    ft.authd_start()


def test_several_listeners(ft, keys):
    second = free_port()
    ft.start(proxyd={"listen": "127.0.0.1:%d,127.0.0.1:%d" % (
        ft.proxy_port, second)})
    wait_for(lambda: tcp_accepts(second), 5, "second listener")
    for port in (ft.proxy_port, second):
        c = ft.raw(port=port)
        tok = ft.token(keys[0], "multi-%d" % port)
        c.send(mqttraw.connect("multi-%d" % port, props=v5_token_props(tok)))
        assert c.expect(mqttraw.CONNACK).reason == 0
