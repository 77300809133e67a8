"""Bans and country rules behind a real load balancer and across hosts,
with nothing simulated: HAProxy (TCP mode, send-proxy-v2) in front of two
proxyd instances sharing one authd, a real chaind with a reporter wallet
following the contract on anvil, and a second FlyTrap "host" (its own
chaind, wallet, authd and proxyd) on the same chain.

The test clients connect to HAProxy with a PROXY v1 header of their own
(HAProxy's `accept-proxy`), which is how a test on loopback can come from
Germany or the US; HAProxy then speaks v2 to proxyd, as in production.

Covered: scenario #1 (an EU-only topic refused to the US, served to
Germany) through the balancer; a WrongCountry alert on-chain naming a
keyed hash of the IP, never the IP; a ban earned through the balancer
holds at both instances, costs no signature check once in force, and is
written on-chain once; the other host enforces it from the chain; an IP
that did nothing stays welcome everywhere.
"""

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

import mqttraw
from chainutil import ctl_json, ctl_ok, rpc
from conftest import (BIN, GEOIP_DB, HOST, Proc, free_port, keygen,
                      tcp_accepts, token, unix_accepts, v5_token_props,
                      wait_for)
from test_30_chain_e2e import chain  # noqa: F401  (module fixture)
from test_41_proxy_geo import DE_IP, US_IP, proxy_v1, proxy_v2

V5, V311 = mqttraw.V5, mqttraw.V311
NOT_AUTHORIZED = 0x87
BANNED = 0x8A
BAD_USERNAME_PASSWORD = 0x86
WRONG_COUNTRY_ACTION = 5
BANNED_ACTION = 6
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def ctl(args, env=None):
    return ctl_json([str(a) for a in args], env)


class Host:
    """One FlyTrap host: chaind with a reporter wallet, authd, and one or
    more proxyd, each with a plain and a PROXY listener."""

    def __init__(self, ft, chain, name, ip_key, proxyds=1, authd=None):
        self.ft = ft
        self.chain = chain
        self.name = name
        self.dir = ft.dir / name
        self.dir.mkdir()
        self.runtime = Path(tempfile.mkdtemp(prefix="ft-%s-" % name))
        self.procs = []
        # The wallet: a keystore, funded, made a reporter by the owner.
        password = self.dir / "password"
        password.write_text("wallet password\n")
        keystore = self.dir / "wallet.json"
        self.wallet = ctl(["keystore", "create", "--out", keystore,
                           "--password-file", password])["address"]
        chain.fund(self.wallet)
        ctl_ok(["reporter", "add", self.wallet], chain.env())
        a = {"ban_threshold": 3, "ban_duration_s": 120,
             "address_ban_threshold": 0,
             "bans_file": self.dir / "bans.json",
             "geoip_database": GEOIP_DB, "ip_hash_key_file": ip_key}
        a.update(authd or {})
        self.authd_opts = a
        self.chaind_opts = {
            "rpc_url": chain.url, "contract": chain.contract,
            "start_block": chain.deploy_block,
            "database": self.dir / "chaind.db", "keystore": keystore,
            "password_file": password, "poll_interval_ms": 100,
            "alert_budget_per_hour": 20, "http_listen": ""}
        self.ports = [(free_port(), free_port()) for _ in range(proxyds)]
        self.configs = [self._config(i) for i in range(proxyds)]
        self.chaind = self._start("chaind", self.configs[0])
        wait_for(lambda: unix_accepts(self.runtime / "chaind.sock"), 10,
                 "%s chaind" % name)
        self.authd = self._start("authd", self.configs[0])
        wait_for(lambda: unix_accepts(self.runtime / "authd.sock"), 10,
                 "%s authd" % name)
        self.proxyd = []
        for i, (plain, proxied) in enumerate(self.ports):
            p = self._start("proxyd", self.configs[i], "proxyd%d" % i)
            wait_for(lambda: tcp_accepts(plain) and tcp_accepts(proxied), 10,
                     "%s proxyd%d" % (name, i))
            self.proxyd.append(p)

    def _config(self, i):
        plain, proxied = self.ports[i]
        sections = {
            "global": {"realm": self.ft.realm,
                       "runtime_dir": self.runtime, "log_level": "debug"},
            "proxyd": {"listen": "%s:%d" % (HOST, plain),
                       "proxy_listen": "%s:%d" % (HOST, proxied),
                       "proxy_protocol": "v2",
                       "broker": "%s:%d" % (HOST, self.ft.broker_port)},
            "authd": self.authd_opts,
            "chaind": self.chaind_opts,
        }
        text = ""
        for sec, opts in sections.items():
            text += "[%s]\n" % sec
            text += "".join("%s = %s\n" % kv for kv in opts.items())
        path = self.dir / ("flytrap%d.conf" % i)
        path.write_text(text)
        return path

    def _start(self, prog, config, name=None):
        name = name or prog
        p = Proc("%s-%s" % (self.name, name),
                 [BIN / prog, "-c", config, "-d"],
                 self.dir / ("%s.log" % name)).start()
        self.procs.append(p)
        return p

    def authd_status(self):
        out = ctl_ok(["authd-status"],
                     {"FLYTRAP_AUTHD_ADMIN_SOCKET":
                      str(self.runtime / "authd-admin.sock")})
        return json.loads(out.stdout)

    def stop(self):
        for p in reversed(self.procs):
            p.stop()
        shutil.rmtree(self.runtime, ignore_errors=True)

    def logs(self):
        return "\n".join("== %s ==\n%s" % (p.name, p.log()[-3000:])
                         for p in self.procs)


class Balancer:
    """HAProxy in TCP mode: accepts PROXY v1 from the test clients and
    sends PROXY v2 to each proxyd's PROXY listener, round robin."""

    def __init__(self, ft, host):
        self.port = free_port()
        servers = "".join(
            "    server p%d %s:%d send-proxy-v2\n" % (i, HOST, proxied)
            for i, (_, proxied) in enumerate(host.ports))
        conf = ft.dir / "haproxy.cfg"
        conf.write_text(
            "global\n    maxconn 1000\n"
            "defaults\n    mode tcp\n    timeout connect 5s\n"
            "    timeout client 60s\n    timeout server 60s\n"
            "frontend mqtt\n    bind %s:%d accept-proxy\n"
            "    default_backend flytrap\n"
            "backend flytrap\n    balance roundrobin\n%s"
            % (HOST, self.port, servers))
        self.proc = Proc("haproxy", [HAPROXY, "-db", "-f", conf],
                         ft.dir / "haproxy.log").start()
        wait_for(lambda: tcp_accepts(self.port), 10, "haproxy to listen")

    def stop(self):
        self.proc.stop()


@pytest.fixture
def world(ft, chain):
    if not os.path.exists(HAPROXY):
        pytest.fail("haproxy is not installed (make deps installs it)")
    ft.broker_start()
    ip_key = ft.dir / "ip.key"
    ip_key.write_bytes(os.urandom(32))
    ip_key.chmod(0o600)
    made = []

    def host(name, **kw):
        h = Host(ft, chain, name, ip_key, **kw)
        made.append(h)
        return h
    yield host
    failed = getattr(ft.request.node, "rep_call", None)
    for h in made:
        if failed is not None and failed.failed:
            print(h.logs())
        h.stop()


def connect(ft, port, ip, key, client_id, expect=0, good=True):
    """A v5 client through `port` claiming to come from `ip` (PROXY v1 to
    HAProxy); a bad token unless `good`. Returns the connection."""
    c = ft.raw(V5, port=port)
    c.send(proxy_v1(ip))
    tok = token(key, client_id, realm=ft.realm)
    if not good:
        # Another signature of the right shape: recovers to some other
        # key, so authd does the whole check before refusing.
        sig = tok["signature"]
        tok = dict(tok, signature=sig[:-6] + ("0000" if sig[-6:-2] != "0000"
                                              else "1111") + sig[-2:])
    # The username names the key, so a wrong signature is refused (without
    # it, a token authenticates as whatever key signed it).
    c.send(mqttraw.connect(client_id, V5, 60, username=key.address,
                           props=v5_token_props(tok)))
    try:
        ack = c.expect(mqttraw.CONNACK)
    except mqttraw.ConnectionClosed:
        raise AssertionError("closed without a CONNACK (wanted 0x%02x)"
                             % expect)
    assert ack.reason == expect, "CONNACK 0x%02x, wanted 0x%02x" % (
        ack.reason, expect)
    return c


NO_SUBSCRIBERS = 0x10


def publish(c, topic, pid):
    """The PUBACK reason, with Mosquitto's 0x10 (no matching subscribers)
    read as success."""
    c.send(mqttraw.publish(topic, b"x", 1, packet_id=pid))
    ack = c.expect(mqttraw.PUBACK)
    return 0 if ack.reason == NO_SUBSCRIBERS else ack.reason


def events(chain, action):
    logs = rpc(chain.url, "eth_getLogs",
               [{"address": chain.contract, "fromBlock": "0x0"}])
    return [l for l in logs
            if len(l["topics"]) == 4 and int(l["topics"][3], 16) == action]


def event_text(log):
    """The name and reason strings of an ACLChange event's data."""
    data = bytes.fromhex(log["data"][2:])
    out = []
    for i in range(2):
        off = int.from_bytes(data[32 * i:32 * i + 32], "big")
        n = int.from_bytes(data[off:off + 32], "big")
        out.append(data[off + 32:off + 32 + n].decode())
    return out


def test_eu_topic_through_the_balancer(ft, chain, world):
    """Scenario #1: an EU-only topic refused to a client connecting from
    the US and served to one from Germany; the refusal is an on-chain
    WrongCountry alert that names no IP."""
    a = world("a", proxyds=2)
    lb = Balancer(ft, a)
    k_de, k_us = ft.key(), ft.key()
    chain.topic_add("lb-eu/#", "--eu")
    for k in (k_de, k_us):
        chain.grant("pub", "lb-eu/#", k.address)
        chain.grant("sub", "lb-eu/#", k.address)
    before = len(events(chain, WRONG_COUNTRY_ACTION))
    wait_for(lambda: json.loads(ctl_ok(
        ["status", "--json", "--status-socket",
         a.runtime / "status.sock"]).stdout)["synced_block"]
        >= chain.head(), 10, "chaind to sync")

    de = connect(ft, lb.port, DE_IP, k_de, "de")
    us = connect(ft, lb.port, US_IP, k_us, "us")
    assert publish(de, "lb-eu/t", 1) == 0
    assert publish(us, "lb-eu/t", 2) == NOT_AUTHORIZED
    us.send(mqttraw.subscribe(3, [("lb-eu/#", 1)]))
    assert us.expect(mqttraw.SUBACK).reasons == [NOT_AUTHORIZED]
    de.send(mqttraw.subscribe(4, [("lb-eu/#", 1)]))
    assert de.expect(mqttraw.SUBACK).reasons == [1]

    wait_for(lambda: len(events(chain, WRONG_COUNTRY_ACTION)) > before, 20,
             "a WrongCountry event on the chain")
    ev = events(chain, WRONG_COUNTRY_ACTION)[before]
    name, reason = event_text(ev)
    assert name.startswith("lb-eu/")
    assert "country=US" in reason and "ip-hmac:" in reason
    assert US_IP not in json.dumps(ev)
    assert int(ev["topics"][2], 16) == int(k_us.address, 16)
    # Both proxyd instances were used (round robin).
    assert all("authenticated as" in p.log() for p in a.proxyd)


def test_ban_holds_at_both_instances_and_at_the_other_host(ft, chain, world):
    a = world("a", proxyds=2)
    b = world("b")
    lb = Balancer(ft, a)
    k = ft.key()
    attacker = "198.51.100.77"  # TEST-NET-2: no country
    before = len(events(chain, BANNED_ACTION))

    for i in range(3):
        c = connect(ft, lb.port, attacker, k, "bad%d" % i,
                    expect=BAD_USERNAME_PASSWORD, good=False)
        c.close()
    checks = a.authd_status()["signature_checks"]
    # Banned now: through the balancer, and at each instance directly
    # (PROXY v2 from a trusted address), with no signature checked.
    connect(ft, lb.port, attacker, k, "good-but-banned", expect=BANNED)
    for _, proxied in a.ports:
        c = ft.raw(V5, port=proxied)
        c.send(proxy_v2(attacker))
        c.send(mqttraw.connect("direct", V5, 60, props=v5_token_props(
            token(k, "direct", realm=ft.realm))))
        assert c.expect(mqttraw.CONNACK).reason == BANNED
    assert a.authd_status()["signature_checks"] == checks
    # Someone else from elsewhere is welcome.
    assert publish(connect(ft, lb.port, DE_IP, ft.key(), "bystander"),
                   "anything", 1) in (0, NOT_AUTHORIZED)

    # One Banned event, naming a keyed hash of the IP.
    wait_for(lambda: len(events(chain, BANNED_ACTION)) > before, 20,
             "a Banned event on the chain")
    time.sleep(1)
    mine = events(chain, BANNED_ACTION)[before:]
    assert len(mine) == 1, mine
    name, reason = event_text(mine[0])
    assert name.startswith("ip-hmac:") and reason.startswith("until=")
    assert attacker not in json.dumps(mine[0])

    # Host b (same IP key, its own chaind and authd) enforces it from the
    # chain.
    def b_refuses():
        c = ft.raw(V5, port=b.ports[0][1])
        c.send(proxy_v2(attacker))
        c.send(mqttraw.connect("at-b", V5, 60, props=v5_token_props(
            token(k, "at-b", realm=ft.realm))))
        try:
            return c.expect(mqttraw.CONNACK).reason == BANNED
        finally:
            c.close()
    wait_for(b_refuses, 20, "host b to enforce the ban from the chain",
             0.2)
    bans = json.loads(ctl_ok(["bans", "--json"], {
        "FLYTRAP_AUTHD_ADMIN_SOCKET":
        str(b.runtime / "authd-admin.sock")}).stdout)
    assert any(x["origin"] == "chain" for x in bans), bans
    # And b still serves everyone else.
    c = ft.raw(V5, port=b.ports[0][1])
    c.send(proxy_v2("198.51.100.78"))
    c.send(mqttraw.connect("fine", V5, 60, props=v5_token_props(
        token(ft.key(), "fine", realm=ft.realm))))
    assert c.expect(mqttraw.CONNACK).reason == 0
