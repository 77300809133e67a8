"""Authorisation end to end, with nothing simulated: a real anvil with the
FlyTrap contract deployed and managed by flytrapctl, a real chaind following
it, and mosquitto, authd and proxyd (conftest's `ft`) in front of real
clients (mosquitto_pub/mosquitto_sub, paho, the raw mqttraw client).

One anvil and contract serve the whole module (every test uses its own
topic entries and fresh keys, so they do not interfere); each test has its
own broker, authd, proxyd and chaind with its own database. The tests that
kill the node or reorganise the chain get an anvil of their own.

Covered: granted and refused PUBLISH (v5 0x87, the broker never sees it),
per-filter SUBACKs (v5 0x87, v3.1.1 0x80) and wildcard entries both ways,
deliveries filtered (retained too), revocations cutting live sessions within
a poll interval of being mined, expiry with no event, `${address}` entries,
Wills, paid access bought with `flytrapctl buy`, the node dying and coming
back (cached answers serve, new questions fail closed, recovery by itself),
a chain reorganisation undone (also one that replaces the tip at the same
height), and `flytrapctl status`.
"""

import gzip
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import mqttraw
from chainutil import ANVIL, FOREVER, Anvil, contract_build_dir, ctl_json, rpc
from conftest import (_ALL_PROCS, BIN, HOST, Proc, keygen, unix_accepts,
                      v5_token_props, wait_for)
from test_10_acl import only_marker, quiet, read_deliveries
from test_11_acl_chaind import publish_rc

V5, V311 = mqttraw.V5, mqttraw.V311
NOT_AUTHORIZED = 0x87
V311_SUBACK_FAILURE = 0x80
V311_NOT_AUTHORIZED = 5
ANVIL_CHAIN_ID = 31337
ETHER = 10**18

# chaind's poll interval in these tests, and how long after a transaction
# is mined its effect must be in force: one poll interval, plus the few
# local JSON-RPC round trips of one follower step and the push to proxyd.
POLL_MS = 100
APPLY_S = POLL_MS / 1000 + 0.1
# Bound of every wait for chaind to reach a block.
SYNC_TIMEOUT_S = 10


# ---- the chain --------------------------------------------------------------


class NodeAnvil(Anvil):
    """chainutil's Anvil that can also die abruptly (SIGKILL) and come
    back on the same port with the state it had (anvil_dumpState, then
    --load-state)."""

    def __init__(self, log_path):
        super().__init__()
        self.log_path = Path(log_path)

    def dump_state(self, path):
        """Writes the node's whole state (accounts, blocks, transactions)
        as --load-state reads it."""
        state = rpc(self.url, "anvil_dumpState", timeout=10)
        raw = bytes.fromhex(state[2:])
        try:
            raw = gzip.decompress(raw)
        except OSError:
            pass  # already plain JSON
        json.loads(raw)
        Path(path).write_bytes(raw)

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(5)

    def restart(self, state):
        """Starts anvil again on the same port from a dumped state."""
        assert self.proc.poll() is not None, "anvil still running"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(ANVIL), "--port", str(self.port), "--host", "127.0.0.1",
                 "--silent", "--load-state", str(state)] + self.extra_args,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        _ALL_PROCS.append(self.proc)

        def up():
            if self.proc.poll() is not None:
                pytest.fail("anvil exited on restart (port %d taken?): %s"
                            % (self.port, self.log_path.read_text()[-2000:]))
            try:
                return rpc(self.url, "eth_chainId", timeout=1)
            except OSError:
                return False
        wait_for(up, 20, "anvil to restart on port %d" % self.port, 0.05)


class Chain:
    """An anvil with the FlyTrap contract deployed by flytrapctl from a key
    made by flytrapctl keygen and funded with anvil_setBalance (as
    scripts/demo.sh does): that key owns the contract and every topic."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.artifact = contract_build_dir(self.tmp) / "FlyTrap.bin"
        self.anvil = NodeAnvil(self.tmp / "anvil.log").start()
        self.owner = keygen(self.tmp / "owner.key")
        self.fund(self.owner.address)
        out = ctl_json(["deploy", "--rpc", self.url, "--key",
                        self.owner.path, "--artifact", self.artifact])
        self.contract = out["address"]
        self.deploy_block = out["block"]

    @property
    def url(self):
        return self.anvil.url

    def rpc(self, method, *params):
        return rpc(self.url, method, params)

    def fund(self, address, wei=100 * ETHER):
        self.rpc("anvil_setBalance", address, hex(wei))

    def head(self):
        return int(self.rpc("eth_blockNumber"), 16)

    def block_hash(self, n):
        return self.rpc("eth_getBlockByNumber", hex(n), False)["hash"]

    def env(self, key=None):
        return {"FLYTRAP_RPC": self.url, "FLYTRAP_CONTRACT": self.contract,
                "FLYTRAP_KEY": (key or self.owner).path}

    def ctl(self, *args, key=None):
        """flytrapctl ARGS --json as the owner (or key), parsed."""
        return ctl_json([str(a) for a in args], self.env(key))

    def topic_add(self, name, *opts):
        return self.ctl("topic", "add", name, *opts)["block"]

    def grant(self, right, topic, address, *opts):
        return self.ctl("grant", right, topic, address, "--reason",
                        "e2e test", *opts)

    def revoke(self, right, topic, address):
        return self.ctl("revoke", right, topic, address, "--reason",
                        "e2e test")["block"]

    def stop(self):
        self.anvil.stop()


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    c = Chain(tmp_path_factory.mktemp("chain"))
    yield c
    c.stop()


@pytest.fixture
def own_chain(tmp_path):
    """A chain for one test only (one that kills or rewinds it)."""
    (tmp_path / "own-chain").mkdir()
    c = Chain(tmp_path / "own-chain")
    yield c
    c.stop()


# ---- one test's FlyTrap -----------------------------------------------------


class Stack:
    """ft's mosquitto, authd and proxyd, and a real chaind following
    `chain` with its own database; ready once proxyd is connected to
    chaind and chaind has caught up with the chain's head."""

    def __init__(self, ft, chain, chaind=None):
        self.ft = ft
        self.chain = chain
        self._syncs = 0
        ft.broker_start()
        opts = {"rpc_url": chain.url, "contract": chain.contract,
                "start_block": chain.deploy_block,
                "database": ft.dir / "chaind.db",
                "poll_interval_ms": POLL_MS, "rpc_timeout_ms": 2000,
                "http_listen": ""}
        opts.update(chaind or {})
        ft.write_config(raw="[chaind]\n" + "".join(
            "%s = %s\n" % kv for kv in opts.items()))
        self.chaind = Proc("chaind", [BIN / "chaind", "-c", ft.config_path,
                                      "-d"], ft.dir / "chaind.log").start()
        wait_for(lambda: self._alive() and unix_accepts(self.acl_sock)
                 and unix_accepts(self.status_sock), 5, "chaind's sockets")
        ft.authd_start()
        ft.proxyd_start()
        wait_for(lambda: "connected to chaind" in ft.proxyd.log(), 5,
                 "proxyd to connect to chaind")
        self.wait_synced(chain.head())

    @property
    def acl_sock(self):
        return self.ft.runtime_dir / "chaind.sock"

    @property
    def status_sock(self):
        return self.ft.runtime_dir / "status.sock"

    def _alive(self):
        if not self.chaind.alive():
            pytest.fail("chaind exited with status %s:\n%s" % (
                self.chaind.popen.returncode, self.chaind.log()[-4000:]))
        return True

    def status(self):
        """`flytrapctl status --json` against this chaind."""
        return ctl_json(["status", "--status-socket", self.status_sock,
                         "--timeout", "2"])

    def wait_status(self, pred, what, timeout=SYNC_TIMEOUT_S):
        def check():
            self._alive()
            st = self.status()
            return st if pred(st) else None
        return wait_for(check, timeout, what, 0.05)

    def wait_synced(self, block):
        return self.wait_status(lambda st: st["synced_block"] >= block,
                                "chaind to apply block %d" % block)

    def sync(self, conn, version=V5):
        """A fresh question through conn's session, answered: whatever
        chaind pushed before it has been handled by proxyd (one ordered
        stream). `$` topics match no entry, so it is always refused and
        never reaches the broker."""
        self._syncs += 1
        pid = 60000 + self._syncs
        conn.send(mqttraw.publish("$e2e-sync/%d" % self._syncs, b"", 1,
                                  packet_id=pid, version=version))
        ack = conn.expect(mqttraw.PUBACK)
        assert ack.packet_id == pid

    def settle(self, block, *conns):
        """chaind has applied `block` and each session has handled the
        invalidations it caused."""
        self.wait_synced(block)
        for c in conns:
            self.sync(c, c.version)

    def connect(self, key, client_id, version=V5, will=None, expect=0,
                props=()):
        """A raw client through proxyd with a fresh timed token; asserts
        the CONNACK code."""
        tok = self.ft.token(key, client_id)
        c = self.ft.raw(version)
        if version == V5:
            c.send(mqttraw.connect(client_id, version, 60, will=will,
                                   props=v5_token_props(tok) + list(props)))
        else:
            c.send(mqttraw.connect(client_id, version, 60, will=will,
                                   username=tok["username"],
                                   password=tok["password"]))
        ack = c.expect(mqttraw.CONNACK)
        assert ack.reason == expect, "CONNACK 0x%02x, wanted 0x%02x" % (
            ack.reason, expect)
        return c

    def direct(self, client_id, topic="#"):
        """A paho subscriber on the broker itself, past proxyd: it sees
        what the broker got."""
        d = self.ft.paho(None, client_id, port=self.ft.broker_port)
        assert d.subscribe(topic, 1) == [1]
        return d

    def direct_publish(self, client_id, messages):
        """(topic, payload, qos, retain) straight to the broker."""
        p = self.ft.paho(None, client_id, port=self.ft.broker_port)
        for topic, payload, qos, retain in messages:
            info = p.client.publish(topic, payload, qos, retain=retain)
            info.wait_for_publish(5)
            assert info.is_published()

    def logs(self):
        return "---- chaind (%s) ----\n%s" % (self.chaind.log_path,
                                              self.chaind.log()[-20000:])

    def close(self):
        """Stops chaind; returns why it is a failure, if it is one."""
        died = (self.chaind.popen is not None and not self.chaind.expected_exit
                and self.chaind.popen.poll() is not None)
        status = self.chaind.stop()
        if died:
            return "chaind exited on its own with status %s" % status
        return None


@pytest.fixture
def stack(request, ft, chain):
    """stack(on=chain) starts one test's FlyTrap against a chain (the
    module's by default); chaind is stopped, and checked to have stayed
    up, at teardown."""
    made = []

    def make(on=None, **kw):
        s = Stack(ft, on or chain, **kw)
        made.append(s)
        request.node._flytrap_systems.append(s)
        return s

    yield make
    failures = [f for f in (s.close() for s in made) if f]
    if failures:
        pytest.fail("; ".join(failures))


def suback(conn, packet_id, filters, version=V5):
    """SUBSCRIBE (filter, QoS) pairs; returns the SUBACK's codes."""
    conn.send(mqttraw.subscribe(packet_id, filters, version))
    ack = conn.expect(mqttraw.SUBACK)
    assert ack.packet_id == packet_id
    return ack.reasons


def alive(conn):
    """The session still answers."""
    conn.send(mqttraw.pingreq())
    assert conn.expect(mqttraw.PINGRESP).type == mqttraw.PINGRESP


def nothing_more(direct, seconds=0.3):
    time.sleep(seconds)
    assert [(m.topic, m.payload) for m in direct.get_nowait_all()] == []


# ---- 1. PUBLISH -------------------------------------------------------------


def test_granted_publisher_delivers_ungranted_refused(ft, chain, stack):
    pub, sub, other = ft.key(), ft.key(), ft.key()
    chain.topic_add("t1/#")
    chain.grant("pub", "t1/#", pub.address)
    chain.grant("sub", "t1/#", sub.address)
    s = stack()
    direct = s.direct("t1-direct")

    # A stock subscriber through proxyd (v5 token in user properties).
    tok = ft.token(sub, "t1-sub")
    # (stdbuf: its output goes to a file, line by line.)
    msub = Proc("mosquitto_sub", [
        "stdbuf", "-oL", "mosquitto_sub", "-h", HOST, "-p", ft.proxy_port,
        "-t", "t1/#", "-q", "1", "-v", "-d", "-C", "1", "-W", "15"]
        + tok["mosquitto_v5"], ft.dir / "mosquitto_sub.log").start()
    try:
        wait_for(lambda: "Subscribed (mid: 1): 1" in msub.log(), 10,
                 "mosquitto_sub's SUBACK granting QoS 1")

        # The ungranted key: v5 QoS 1 refused with 0x87, QoS 0 dropped.
        c = s.connect(other, "t1-other")
        c.send(mqttraw.publish("t1/data", b"ungranted", 1, packet_id=1))
        ack = c.expect(mqttraw.PUBACK)
        assert (ack.packet_id, ack.reason) == (1, NOT_AUTHORIZED)
        c.send(mqttraw.publish("t1/data", b"ungranted-q0", 0))
        alive(c)
        nothing_more(direct)

        # The granted key, with stock mosquitto_pub over MQTT v3.1.1.
        tok = ft.token(pub, "t1-pub")
        r = subprocess.run(
            ["mosquitto_pub", "-h", HOST, "-p", str(ft.proxy_port), "-t",
             "t1/data", "-m", "granted", "-q", "1"] + tok["mosquitto_v311"],
            capture_output=True, text=True, timeout=15)
        assert r.returncode == 0, r.stderr

        # The broker got the granted message and nothing else ...
        only_marker(direct, ("t1/data", b"granted"))
        # ... and the subscriber's first (only) message is that one.
        wait_for(lambda: msub.popen.poll() is not None, 10,
                 "mosquitto_sub to exit after one message")
        assert msub.popen.returncode == 0, msub.log()
        lines = [ln for ln in msub.log().splitlines()
                 if ln.startswith("t1/")]
        assert lines == ["t1/data granted"], msub.log()
    finally:
        msub.stop()


# ---- 2. SUBSCRIBE -----------------------------------------------------------


def test_suback_per_filter_and_wildcard_entries(ft, chain, stack):
    k, p = ft.key(), ft.key()
    chain.topic_add("t2/yes/#")
    chain.topic_add("t2/no")
    chain.topic_add("sensors/+/temp")
    chain.grant("sub", "t2/yes/#", k.address)
    chain.grant("sub", "sensors/+/temp", k.address)
    chain.grant("pub", "sensors/+/temp", p.address)
    s = stack()
    filters = [("t2/yes/#", 1), ("t2/no", 1), ("sensors/+/temp", 2)]

    a = s.connect(k, "t2-v5")
    assert suback(a, 1, filters) == [1, NOT_AUTHORIZED, 2]
    b = s.connect(k, "t2-v311", V311)
    assert suback(b, 1, filters, V311) == [1, V311_SUBACK_FAILURE, 2]
    # The entry covers the concrete topic, not the wider filters.
    c = s.connect(k, "t2-wild")
    assert suback(c, 1, [("sensors/a/temp", 1), ("sensors/#", 1),
                         ("sensors/+/+", 1), ("sensors/a/+", 1),
                         ("sensors/+/temp/x", 1)]) == \
        [1] + [NOT_AUTHORIZED] * 4

    # Publishing: the entry matches sensors/<one level>/temp only.
    pc = s.connect(p, "t2-pub")
    assert publish_rc(pc, "sensors/a/temp", 1, b"21.5") == 0
    assert publish_rc(pc, "sensors/a/humidity", 2) == NOT_AUTHORIZED
    assert publish_rc(pc, "sensors/a/b/temp", 3) == NOT_AUTHORIZED
    assert publish_rc(pc, "sensors/temp", 4) == NOT_AUTHORIZED
    assert publish_rc(pc, "t2/yes/x", 5) == NOT_AUTHORIZED
    # A subscribe right is no publish right.
    assert publish_rc(c, "sensors/a/temp", 1) == NOT_AUTHORIZED

    # Each accepted subscription delivers the granted message.
    assert read_deliveries(a, 1, V5) == [("sensors/a/temp", b"21.5", False)]
    assert read_deliveries(b, 1, V311) == [("sensors/a/temp", b"21.5", False)]
    assert read_deliveries(c, 1, V5) == [("sensors/a/temp", b"21.5", False)]
    for conn in (a, b, c):
        quiet(conn)


# ---- 3. deliveries ----------------------------------------------------------


def test_hash_subscriber_gets_only_granted_topics(ft, chain, stack):
    s1, s2, p = ft.key(), ft.key(), ft.key()
    chain.topic_add("public/#")
    chain.topic_add("private/#")
    chain.topic_add("#")
    chain.grant("sub", "public/#", s1.address)
    chain.grant("sub", "public/#", s2.address)
    chain.grant("sub", "#", s2.address)
    chain.grant("pub", "public/#", p.address)
    chain.grant("pub", "private/#", p.address)
    s = stack()
    s.direct_publish("t3-retainer", [("private/x", b"r-private", 1, True),
                                     ("public/x", b"r-public", 1, True)])

    # Granted only on public/#: `#` is refused, public/# accepted, and
    # the retained private message never comes.
    c1 = s.connect(s1, "t3-s1")
    assert suback(c1, 1, [("#", 1), ("public/#", 1)]) == [NOT_AUTHORIZED, 1]
    assert read_deliveries(c1, 1, V5) == [("public/x", b"r-public", True)]
    pc = s.connect(p, "t3-pub")
    assert publish_rc(pc, "private/x", 1, b"p-private") == 0
    assert publish_rc(pc, "public/x", 2, b"p-public") == 0
    assert read_deliveries(c1, 1, V5) == [("public/x", b"p-public", False)]
    quiet(c1)

    # A live `#` subscription whose right on `#` is revoked: the broker
    # still delivers everything to the session, proxyd lets only what
    # public/# covers through, retained messages included.
    c2 = s.connect(s2, "t3-s2")
    assert suback(c2, 1, [("#", 1)]) == [1]
    assert sorted(read_deliveries(c2, 2, V5)) == [
        ("private/x", b"r-private", True), ("public/x", b"r-public", True)]
    s.settle(chain.revoke("sub", "#", s2.address), c2)
    s.direct_publish("t3-live", [("private/x", b"s-private", 1, True),
                                 ("public/x", b"s-public", 1, False),
                                 ("private/y", b"s-private2", 1, False),
                                 ("public/y", b"s-public2", 1, True)])
    assert publish_rc(pc, "private/z", 3, b"p-private2") == 0
    assert publish_rc(pc, "public/z", 4, b"p-public2") == 0
    assert read_deliveries(c2, 3, V5) == [("public/x", b"s-public", False),
                                          ("public/y", b"s-public2", False),
                                          ("public/z", b"p-public2", False)]
    quiet(c2)
    alive(c2)
    # Subscribing again: `#` refused now, public/# brings only the public
    # retained messages (a retained private/x is there too).
    assert suback(c2, 2, [("#", 1), ("public/#", 1)]) == [NOT_AUTHORIZED, 1]
    assert sorted(read_deliveries(c2, 2, V5)) == [
        ("public/x", b"r-public", True), ("public/y", b"s-public2", True)]
    quiet(c2)


# ---- 4. revocation of live sessions -----------------------------------------


def test_revocation_cuts_live_sessions(ft, chain, stack):
    p, k = ft.key(), ft.key()
    chain.topic_add("t4/#")
    chain.grant("pub", "t4/#", p.address)
    chain.grant("sub", "t4/#", k.address)
    s = stack()
    direct = s.direct("t4-direct")
    sub = s.connect(k, "t4-sub")
    assert suback(sub, 1, [("t4/#", 1)]) == [1]
    pub = s.connect(p, "t4-pub")
    assert publish_rc(pub, "t4/x", 1, b"m1") == 0
    assert read_deliveries(sub, 1, V5) == [("t4/x", b"m1", False)]
    assert direct.get().payload == b"m1"

    # The subscriber's right is revoked: once mined, plus one poll
    # interval, the broker's deliveries no longer reach it.
    chain.revoke("sub", "t4/#", k.address)
    time.sleep(APPLY_S)
    assert publish_rc(pub, "t4/x", 2, b"m2") == 0
    assert direct.get().payload == b"m2"  # the broker did deliver it
    quiet(sub, 0.5)
    alive(sub)

    # The publisher's: its very next PUBLISH is refused.
    chain.revoke("pub", "t4/#", p.address)
    time.sleep(APPLY_S)
    assert publish_rc(pub, "t4/x", 3, b"m3") == NOT_AUTHORIZED
    nothing_more(direct)
    alive(pub)


# ---- 5. expiry --------------------------------------------------------------


def test_expiry_takes_effect_without_an_event(ft, chain, stack):
    k = ft.key()
    chain.topic_add("t5/#")
    s = stack()
    pub = s.connect(k, "t5-pub")
    # --for counts from the latest block's time: make that block now.
    chain.rpc("anvil_mine", hex(1))
    out = chain.grant("pub", "t5/#", k.address, "--for", "3")
    expiry = int(out["expiry"])
    assert expiry - time.time() <= 10, "anvil's clock runs far ahead"
    s.settle(out["block"], pub)
    assert publish_rc(pub, "t5/x", 1) == 0
    assert time.time() < expiry, "too slow to test the grant before expiry"
    before = s.status()

    wait_for(lambda: time.time() >= expiry + 0.1, 15, "the grant to expire")
    assert publish_rc(pub, "t5/x", 2) == NOT_AUTHORIZED  # was cached
    assert publish_rc(pub, "t5/y", 3) == NOT_AUTHORIZED  # new question
    after = s.status()
    assert chain.head() == out["block"], "a block came: not event-free"
    assert after["events"] == before["events"]


# ---- 6. ${address} ----------------------------------------------------------


def test_address_placeholder_entry(ft, chain, stack):
    k1, k2 = ft.key(), ft.key()
    chain.topic_add("devices/${address}/#")
    for k in (k1, k2):
        chain.grant("pub", "devices/${address}/#", k.address)
        chain.grant("sub", "devices/${address}/#", k.address)
    s = stack()
    a1, a2 = k1.address.lower(), k2.address.lower()
    c1 = s.connect(k1, "t6-k1")
    c2 = s.connect(k2, "t6-k2")
    sub1 = s.connect(k1, "t6-k1-sub")
    assert suback(sub1, 1, [("devices/%s/#" % a1, 1), ("devices/%s/#" % a2, 1),
                          ("devices/+/temp", 1)]) == [1, NOT_AUTHORIZED,
                                                      NOT_AUTHORIZED]
    assert publish_rc(c1, "devices/%s/temp" % a1, 1, b"own") == 0
    assert publish_rc(c1, "devices/%s" % a1, 2, b"root") == 0
    assert publish_rc(c1, "devices/%s/temp" % a2, 3) == NOT_AUTHORIZED
    assert publish_rc(c1, "devices/0x%s/temp" % a1[2:].upper(), 4) == \
        NOT_AUTHORIZED
    assert publish_rc(c1, "devices/${address}/temp", 5) == NOT_AUTHORIZED
    assert publish_rc(c2, "devices/%s/temp" % a2, 1, b"k2") == 0
    assert publish_rc(c2, "devices/%s/temp" % a1, 2) == NOT_AUTHORIZED
    assert read_deliveries(sub1, 2, V5) == [
        ("devices/%s/temp" % a1, b"own", False),
        ("devices/%s" % a1, b"root", False)]
    quiet(sub1)


# ---- 7. Will ----------------------------------------------------------------


def test_will_needs_the_publish_right(ft, chain, stack):
    k = ft.key()
    chain.topic_add("t7/will/ok")
    chain.topic_add("t7/will/no")
    chain.grant("pub", "t7/will/ok", k.address)
    s = stack()
    direct = s.direct("t7-direct")
    c = s.connect(k, "t7-will-no", will=("t7/will/no", b"bye", 1, False),
                  expect=NOT_AUTHORIZED)
    assert c.closed_within(3)
    c = s.connect(k, "t7-will-no-311", V311,
                  will=("t7/will/no", b"bye", 1, False),
                  expect=V311_NOT_AUTHORIZED)
    assert c.closed_within(3)
    log = ft.broker.log()
    assert "t7-will-no" not in log, "the broker saw a refused CONNECT"

    # A permitted Will reaches the broker, which publishes it when the
    # client vanishes.
    c = s.connect(k, "t7-will-ok", will=("t7/will/ok", b"gone", 1, False))
    alive(c)
    c.close()
    m = direct.get()
    assert (m.topic, m.payload) == ("t7/will/ok", b"gone")


# ---- 8. paid access ---------------------------------------------------------


def test_bought_subscription(ft, chain, stack):
    buyer, p, nobody = ft.key(), ft.key(), ft.key()
    price = 12345
    chain.topic_add("t8/paid", "--sub-price", "%dwei" % price)
    chain.grant("pub", "t8/paid", p.address)
    chain.fund(buyer.address, ETHER)
    s = stack()
    c = s.connect(buyer, "t8-buyer")
    assert suback(c, 1, [("t8/paid", 1)]) == [NOT_AUTHORIZED]

    out = chain.ctl("buy", "sub", "t8/paid", key=buyer)
    assert (out["address"], out["price"], out["expiry"]) == (
        buyer.address.lower(), str(price), str(FOREVER))
    s.settle(out["block"], c)
    # The same session (its cached refusal was invalidated), and a new one.
    assert suback(c, 2, [("t8/paid", 1)]) == [1]
    c2 = s.connect(buyer, "t8-buyer-2")
    assert suback(c2, 1, [("t8/paid", 1)]) == [1]
    n = s.connect(nobody, "t8-nobody")
    assert suback(n, 1, [("t8/paid", 1)]) == [NOT_AUTHORIZED]
    pc = s.connect(p, "t8-pub")
    assert publish_rc(pc, "t8/paid", 1, b"worth it") == 0
    for conn in (c, c2):
        assert read_deliveries(conn, 1, V5) == [("t8/paid", b"worth it",
                                                 False)]
    quiet(n)


# ---- 9. the node dies -------------------------------------------------------


def test_node_killed_and_restarted(ft, own_chain, stack):
    """anvil 1.7.1 keeps its state across a kill and restart on the same
    port when it is dumped first (anvil_dumpState) and loaded on start
    (--load-state): blocks and their hashes are kept, so chaind sees the
    same chain again.

    "Uncached" means asked of neither proxyd's session cache nor chaind's
    sqlite cache (an entry never looked up for that address): chaind
    answers a new topic under an entry it has cached from sqlite, node or
    no node, so that case is a cached decision too."""
    chain = own_chain
    p, k, late = ft.key(), ft.key(), ft.key()
    for name in ("n9/#", "n9x/#"):
        chain.topic_add(name)
        chain.grant("pub", name, p.address)
    chain.grant("sub", "n9/#", k.address)
    s = stack(on=chain)
    sub = s.connect(k, "t9-sub")
    assert suback(sub, 1, [("n9/#", 1)]) == [1]
    pub = s.connect(p, "t9-pub")
    assert publish_rc(pub, "n9/a", 1, b"before") == 0
    assert read_deliveries(sub, 1, V5) == [("n9/a", b"before", False)]
    head, head_hash = chain.head(), chain.block_hash(chain.head())

    state = ft.dir / "anvil-state.json"
    chain.anvil.dump_state(state)
    chain.anvil.kill()
    s.wait_status(lambda st: not st["node_reachable"],
                  "chaind to notice the node is gone")

    # What the sessions have cached still serves, both ways ...
    assert publish_rc(pub, "n9/a", 2, b"cached") == 0
    assert read_deliveries(sub, 1, V5) == [("n9/a", b"cached", False)]
    # ... a question nobody has answered before fails closed, at once,
    # and again (not cached).
    t0 = time.monotonic()
    assert publish_rc(pub, "n9x/b", 3) == NOT_AUTHORIZED
    assert time.monotonic() - t0 < 2
    assert publish_rc(pub, "n9x/b", 4) == NOT_AUTHORIZED
    n = s.connect(late, "t9-late")
    assert suback(n, 1, [("n9/#", 1)]) == [NOT_AUTHORIZED]

    chain.anvil.restart(state)
    assert chain.block_hash(head) == head_hash, "anvil lost its chain"
    st = s.wait_status(lambda st: st["node_reachable"]
                       and st["synced_block"] >= head,
                       "chaind to reach the restarted node")
    assert st["head_block"] == head
    # New decisions work again, by themselves: the refusal was not cached.
    assert publish_rc(pub, "n9x/b", 5, b"after") == 0
    # And the follower follows: a grant made after the restart applies.
    s.settle(chain.grant("sub", "n9/#", late.address)["block"], n)
    assert suback(n, 2, [("n9/#", 1)]) == [1]
    assert publish_rc(pub, "n9/c", 6, b"again") == 0
    assert read_deliveries(sub, 1, V5) == [("n9/c", b"again", False)]
    assert read_deliveries(n, 1, V5) == [("n9/c", b"again", False)]


# ---- 10. reorganisation -----------------------------------------------------


def test_reorganised_grant_is_undone(ft, own_chain, stack):
    chain = own_chain
    k = ft.key()
    chain.topic_add("r10/#")
    s = stack(on=chain)
    pub = s.connect(k, "t10-pub")
    assert publish_rc(pub, "r10/x", 1) == NOT_AUTHORIZED

    snap = chain.rpc("evm_snapshot")
    base = chain.head()
    granted = chain.grant("pub", "r10/#", k.address)["block"]
    assert granted == base + 1
    orphan = chain.block_hash(granted)
    s.settle(granted, pub)
    assert publish_rc(pub, "r10/x", 2) == 0

    # The grant's block is replaced: the chain goes back to `base` and
    # grows three other blocks, longer than what chaind has seen.
    assert chain.rpc("evm_revert", snap) is True
    chain.rpc("anvil_mine", hex(3))
    assert chain.head() == base + 3
    assert chain.block_hash(granted) != orphan
    s.wait_status(lambda st: st["synced_block"] == base + 3,
                  "chaind to follow the new chain")
    assert "chain reorganisation" in s.chaind.log()
    s.sync(pub)
    assert publish_rc(pub, "r10/x", 3) == NOT_AUTHORIZED
    # chaind keeps following the new chain.
    s.settle(chain.grant("pub", "r10/#", k.address)["block"], pub)
    assert publish_rc(pub, "r10/x", 4) == 0


def test_reorganisation_at_the_same_height_is_undone(ft, own_chain, stack):
    """The grant's block is replaced by a sibling carrying another
    transaction (the usual one-block reorganisation), and no further block
    comes: the hash at chaind's synced height has changed, so chaind must
    undo the grant."""
    chain = own_chain
    k, other = ft.key(), ft.key()
    chain.topic_add("r11/#")
    s = stack(on=chain)
    pub = s.connect(k, "t11-pub")

    snap = chain.rpc("evm_snapshot")
    granted = chain.grant("pub", "r11/#", k.address)["block"]
    orphan = chain.block_hash(granted)
    s.settle(granted, pub)
    assert publish_rc(pub, "r11/x", 1) == 0

    assert chain.rpc("evm_revert", snap) is True
    sibling = chain.grant("pub", "r11/#", other.address)["block"]
    assert sibling == granted and chain.head() == granted
    assert chain.block_hash(granted) != orphan
    wait_for(lambda: "chain reorganisation" in s.chaind.log(), 5,
             "chaind to notice block %d was replaced" % granted)
    s.settle(granted, pub)
    assert publish_rc(pub, "r11/x", 2) == NOT_AUTHORIZED


# ---- 11. status -------------------------------------------------------------


def test_status_of_the_running_chaind(ft, chain, stack):
    s = stack()
    st = s.status()
    head = chain.head()
    assert st["contract"] == chain.contract
    assert st["chain_id"] == ANVIL_CHAIN_ID
    assert st["node"] == chain.url
    assert st["node_reachable"] is True
    assert head - 1 <= st["head_block"] <= head
    assert st["head_block"] - 1 <= st["synced_block"] <= st["head_block"]
    assert st["sync_lag_blocks"] == st["head_block"] - st["synced_block"]
    listed = chain.ctl("topic", "list")
    assert st["topics"] == listed["count"]
    assert st["wallet"] is None and st["pending_transactions"] == 0
    # The text form says the same.
    r = subprocess.run([str(BIN / "flytrapctl"), "status", "--status-socket",
                        str(s.status_sock)], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0, r.stderr
    assert chain.contract in r.stdout
