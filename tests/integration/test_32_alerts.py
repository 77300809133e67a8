"""authd's alerts through chaind, end to end: a real anvil, the real
contract, chaind with a reporter wallet, and a client on chaind.sock that
speaks IPC as authd does. An IP ban lands as a Banned event naming the
keyed hash and never the IP; a ban is written once and a wrong country
once an hour; the hourly budget holds (across a restart too) and what it
drops is logged; alert_ip = clear writes the IP; IPC_BAN_SYNC returns the
Banned events of every reporter, skips expired ones and pages with its
cursor.
"""
import hashlib
import json
import socket
import sqlite3
import struct
import subprocess
import time

import msgpack
import pytest

import fakechaind
from chainutil import ANVIL_KEYS, ctl_ok, rpc
from conftest import BUILD, Proc, wait_for
from test_31_chaind_wallet import ETHERS, World

TYPES = fakechaind.TYPES
_auth_h = (fakechaind.REPO / "common" / "auth.h").read_text()
OUTCOME = fakechaind._parse_enum(_auth_h, "alert_outcome")
ACTION = fakechaind._parse_enum(_auth_h, "alert_action")
QUEUED = OUTCOME["ALERT_QUEUED"]
DUPLICATE = OUTCOME["ALERT_DUPLICATE"]
OVER_BUDGET = OUTCOME["ALERT_OVER_BUDGET"]
NO_WALLET = OUTCOME["ALERT_NO_WALLET"]
BANNED = ACTION["ALERT_BANNED"]
WRONG_COUNTRY = ACTION["ALERT_WRONG_COUNTRY"]
ZERO = "0x" + "00" * 20
PAGE = 256  # bans per IPC_BAN_SYNC reply (docs/IPC.md)


def ip_hash(ip):
    """Stands in for authd's keyed hash: any 64 hex digits will do."""
    return "ip-hmac:" + hashlib.sha256(b"test key" + ip.encode()).hexdigest()


class Ipc:
    """One connection to a FlyTrap socket, one request at a time."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(str(path))
        self.next_id = 1

    def close(self):
        self.sock.close()

    def _recv(self, n):
        got = b""
        while len(got) < n:
            part = self.sock.recv(n - len(got))
            if not part:
                raise ConnectionError("closed by the peer")
            got += part
        return got

    def send(self, type_name, *fields):
        rid = self.next_id
        self.next_id += 1
        body = b"".join(msgpack.packb(x) for x in
                        [fakechaind.IPC_VERSION, TYPES[type_name], rid]
                        + list(fields))
        self.sock.sendall(struct.pack(">I", len(body)) + body)
        return rid

    def request(self, type_name, *fields):
        """Sends a request; returns (reply type name, fields)."""
        rid = self.send(type_name, *fields)
        n = struct.unpack(">I", self._recv(4))[0]
        u = msgpack.Unpacker(raw=False)
        u.feed(self._recv(n))
        objs = list(u)
        assert objs[0] == fakechaind.IPC_VERSION and objs[2] == rid
        names = {v: k for k, v in TYPES.items()}
        return names[objs[1]], objs[3:]

    def closed_by_peer(self):
        try:
            return self.sock.recv(1) == b""
        except ConnectionError:
            return True


def alert(conn, action, ip="", ip_h="", subject="", address="", reason="",
          until=0):
    kind, fields = conn.request("IPC_ALERT", action, ip, ip_h, subject,
                                address, reason, until)
    assert kind == "IPC_ALERT_REPLY"
    return fields[0]


def ban(conn, ip, until, reason="3 failed logins", address="", hashed=True):
    return alert(conn, BANNED, ip, ip_hash(ip) if hashed else "", ip,
                 address, reason, until)


def ban_sync(conn, cursor):
    kind, f = conn.request("IPC_BAN_SYNC", cursor)
    assert kind == "IPC_BAN_SYNC_REPLY", (kind, f)
    nxt, n, rest = f[0], f[1], f[2:]
    assert len(rest) == 4 * n
    bans = [dict(zip(("subject", "until", "reason", "reporter"),
                     rest[i:i + 4])) for i in range(0, len(rest), 4)]
    return nxt, bans


def sync_all(conn, cursor=0):
    """Asks as authd does, until n is 0: (every ban, the last cursor)."""
    out = []
    while True:
        nxt, bans = ban_sync(conn, cursor)
        assert nxt >= cursor
        if not bans:
            return out, nxt
        out += bans
        cursor = nxt


def _abi_string(data, offset):
    n = int.from_bytes(data[offset:offset + 32], "big")
    return data[offset + 32:offset + 32 + n].decode()


def decode_event(log):
    """An ACLChange log as a dict, decoded here rather than by chaind."""
    data = bytes.fromhex(log["data"][2:])
    return {"source": "0x" + log["topics"][1][-40:],
            "target": "0x" + log["topics"][2][-40:],
            "action": int(log["topics"][3], 16),
            "name": _abi_string(data, int.from_bytes(data[0:32], "big")),
            "reason": _abi_string(data, int.from_bytes(data[32:64], "big")),
            "raw": json.dumps(log)}


class AlertWorld(World):
    def __init__(self, tmp, **chaind_opts):
        super().__init__(tmp)
        # [chaind] is the last section of test_31's configuration.
        self.conf.write_text(self.conf.read_text() + "".join(
            "%s = %s\n" % kv for kv in chaind_opts.items()))
        self.db = tmp / "c.db"

    def events(self, action=None):
        logs = rpc(self.anvil.url, "eth_getLogs",
                   [{"address": self.contract, "fromBlock": "0x0"}])
        evs = [decode_event(l) for l in logs if len(l["topics"]) == 4]
        return [e for e in evs if action is None or e["action"] == action]

    def connect(self):
        return Ipc(self.runtime / "chaind.sock")

    def status(self):
        c = Ipc(self.runtime / "status.sock")
        try:
            kind, f = c.request("IPC_STATUS")
        finally:
            c.close()
        assert kind == "IPC_STATUS_REPLY"
        return json.loads(f[0])

    def alert_rows(self):
        with sqlite3.connect(str(self.db)) as db:
            return db.execute("SELECT action, ip, ip_hash, subject, address, "
                              "reason, until, outcome, tx FROM alerts "
                              "ORDER BY id").fetchall()

    def other_reporter(self, alerts):
        """Writes alerts (action, target, name, reason) with another
        reporter's key straight through the contract, with ethers, as
        another FlyTrap node would. Returns that reporter's address."""
        key, address = ANVIL_KEYS[1]
        if not getattr(self, "other_added", False):
            ctl_ok(["reporter", "add", address], self.env)
            self.other_added = True
        script = (
            "const {ethers}=require(%r);const fs=require('fs');"
            "(async()=>{const p=new ethers.JsonRpcProvider(%r);"
            "const w=new ethers.Wallet(%r,p);"
            "const c=new ethers.Contract(%r,"
            "JSON.parse(fs.readFileSync(%r)),w);"
            "let n=await p.getTransactionCount(w.address,'pending');"
            "const txs=[];"
            "for(const a of JSON.parse(%r))"
            "txs.push(await c.logAlert(a[0],a[1],a[2],a[3],{nonce:n++}));"
            "for(const t of txs){const r=await t.wait();"
            "if(r.status!==1)throw new Error('reverted');}"
            "})().catch(e=>{console.error(e);process.exit(1);});"
            % (ETHERS, self.anvil.url, key, self.contract,
               str(self.artifacts / "FlyTrap.abi"), json.dumps(alerts)))
        subprocess.run(["node", "-e", script], check=True, timeout=120,
                       capture_output=True, text=True)
        return address


@pytest.fixture
def make_world(tmp_path):
    made = []

    def make(**chaind_opts):
        w = AlertWorld(tmp_path, **chaind_opts)
        made.append(w)
        w.chaind_start()
        return w

    yield make
    for w in made:
        if w.chaind is not None:
            w.chaind.stop()
        w.anvil.stop()


# ---- Writing alerts ---------------------------------------------------------


def test_ip_ban_lands_hashed_and_once(make_world):
    w = make_world()
    c = w.connect()
    ip, who = "192.0.2.7", "0x" + "ab" * 20
    until = int(time.time()) + 3600
    assert ban(c, ip, until, address=who) == QUEUED
    wait_for(lambda: w.events(BANNED), 15, "the Banned event")
    ev = w.events(BANNED)[0]
    assert ev["source"] == w.wallet
    assert ev["target"] == who
    assert ev["name"] == ip_hash(ip)
    assert ev["reason"] == "until=%d 3 failed logins" % until
    # The clear IP is nowhere in the log, as text or as hex.
    assert ip not in ev["raw"]
    assert ip.encode().hex() not in ev["raw"]

    # The same ban again is a duplicate and costs nothing.
    assert ban(c, ip, until, address=who) == DUPLICATE
    # The same IP banned again later (a new end) is a new ban.
    assert ban(c, ip, until + 600, address=who) == QUEUED
    wait_for(lambda: len(w.events(BANNED)) == 2, 15, "the second ban")
    wait_for(lambda: w.pending() == 0, 15, "the wallet to confirm")
    time.sleep(0.5)
    assert len(w.events(BANNED)) == 2

    # Every alert is kept locally, the clear IP with it.
    rows = w.alert_rows()
    assert [r[7] for r in rows] == [QUEUED, DUPLICATE, QUEUED]
    assert rows[0][:7] == (BANNED, ip, ip_hash(ip), ip, who,
                           "3 failed logins", until)
    assert rows[0][8] > 0 and rows[1][8] == 0
    alerts = w.status()["alerts"]
    assert alerts["queued"] == 2 and alerts["duplicate"] == 1
    assert alerts["over_budget"] == 0 and alerts["no_wallet"] == 0
    assert alerts["on_chain_last_hour"] == 2
    c.close()


def test_range_and_address_bans(make_world):
    w = make_world()
    c = w.connect()
    until = int(time.time()) + 600
    who = "0x" + "cd" * 20
    assert alert(c, BANNED, "", "", "198.51.100.0/24", "", "by hand",
                 until) == QUEUED
    assert alert(c, BANNED, "", "", who, who, "10 denials", until) == QUEUED
    # A range of one address is that IP: without its hash, not written.
    assert alert(c, BANNED, "", "", "192.0.2.1/32", "", "", until) \
        == OUTCOME["ALERT_FAILED"]
    wait_for(lambda: len(w.events(BANNED)) == 2, 15, "two Banned events")
    evs = sorted(w.events(BANNED), key=lambda e: e["name"])
    assert (evs[0]["name"], evs[0]["target"], evs[0]["reason"]) == \
        ("address", who, "until=%d 10 denials" % until)
    assert (evs[1]["name"], evs[1]["target"], evs[1]["reason"]) == \
        ("net:198.51.100.0/24", ZERO, "until=%d by hand" % until)
    assert "192.0.2.1" not in json.dumps(evs)
    assert "never writes a clear IP" in w.chaind.log()
    c.close()


def test_wrong_country_lands_with_topic_once_an_hour(make_world):
    w = make_world()
    c = w.connect()
    ip, who, topic = "203.0.113.5", "0x" + "12" * 20, "plant/7/valve"
    assert alert(c, WRONG_COUNTRY, ip, ip_hash(ip), topic, who,
                 "country=US publish") == QUEUED
    # Again within the hour (even by another address): one alert.
    assert alert(c, WRONG_COUNTRY, ip, ip_hash(ip), topic, "",
                 "country=US subscribe") == DUPLICATE
    # Another IP on that topic, or that IP on another topic: written.
    assert alert(c, WRONG_COUNTRY, "203.0.113.6", ip_hash("203.0.113.6"),
                 topic, "", "country=US publish") == QUEUED
    assert alert(c, WRONG_COUNTRY, ip, ip_hash(ip), "plant/8", "",
                 "country=FR subscribe") == QUEUED
    wait_for(lambda: len(w.events(WRONG_COUNTRY)) == 3, 15,
             "three WrongCountry events")
    ev = [e for e in w.events(WRONG_COUNTRY) if e["target"] == who][0]
    assert ev["name"] == topic
    assert ev["reason"] == "country=US %s publish" % ip_hash(ip)
    assert ev["source"] == w.wallet
    assert ip not in json.dumps(w.events())
    # A very long topic is cut on-chain (on a character), kept whole here.
    long_topic = "a/" + "\u00e9" * 300
    assert alert(c, WRONG_COUNTRY, ip, ip_hash(ip), long_topic, "",
                 "country=US publish") == QUEUED
    wait_for(lambda: len(w.events(WRONG_COUNTRY)) == 4, 15, "the fourth")
    cut = [e["name"] for e in w.events(WRONG_COUNTRY)
           if e["name"].startswith("a/")][0]
    # 253 bytes at most before the dots: "a/" and 125 two-byte characters.
    assert cut == "a/" + "\u00e9" * 125 + "..."
    assert len(cut.encode()) <= 256
    assert w.alert_rows()[-1][3] == long_topic
    c.close()


def test_budget_drops_a_flood_and_says_so(make_world):
    w = make_world(alert_budget_per_hour=3)
    c = w.connect()
    until = int(time.time()) + 300
    outcomes = [ban(c, "10.1.%d.%d" % (i // 200, i % 200 + 1), until)
                for i in range(50)]
    assert outcomes.count(QUEUED) == 3
    assert outcomes.count(OVER_BUDGET) == 47
    assert outcomes[:3] == [QUEUED] * 3
    wait_for(lambda: len(w.events(BANNED)) == 3, 15, "three Banned events")
    wait_for(lambda: w.pending() == 0, 15, "the wallet to confirm")
    time.sleep(0.5)
    assert len(w.events(BANNED)) == 3
    log = w.chaind.log()
    assert "dropped" in log and "budget of 3" in log
    # One line now, the rest counted rather than logged one by one.
    assert log.count("dropped: the budget") == 1
    alerts = w.status()["alerts"]
    assert alerts["queued"] == 3 and alerts["over_budget"] == 47
    assert len(w.alert_rows()) == 50
    c.close()

    # Stopping writes the count of the drops not logged one by one yet.
    first = w.chaind
    first.stop()
    assert "46 more alerts dropped over the hourly budget" in first.log()

    # The budget is counted from the database: a restart does not reset it.
    w.chaind_start()
    c = w.connect()
    assert ban(c, "10.2.0.1", until) == OVER_BUDGET
    wait_for(lambda: "dropped: the budget" in w.chaind.log(), 5,
             "the log line")
    c.close()


def test_alert_ip_clear_writes_the_ip(make_world):
    w = make_world(alert_ip="clear")
    c = w.connect()
    ip, until = "192.0.2.44", int(time.time()) + 600
    assert ban(c, ip, until) == QUEUED
    assert alert(c, WRONG_COUNTRY, ip, ip_hash(ip), "t/1", "",
                 "country=CN subscribe") == QUEUED
    wait_for(lambda: w.events(BANNED) and w.events(WRONG_COUNTRY), 15,
             "both alerts")
    (b,) = w.events(BANNED)
    (wc,) = w.events(WRONG_COUNTRY)
    assert b["name"] == "ip:" + ip
    assert b["target"] == ZERO
    assert wc["reason"] == "country=CN ip:%s subscribe" % ip
    c.close()


# ---- Without a wallet, refusals, configuration ------------------------------


def _bare_chaind(tmp_path, extra=""):
    """chaind without a keystore, pointed at a node nobody runs."""
    runtime = tmp_path / "run"
    runtime.mkdir(exist_ok=True)
    conf = tmp_path / "bare.conf"
    conf.write_text(
        "[global]\nrealm = test\nruntime_dir = %s\n"
        "[chaind]\nrpc_url = http://127.0.0.1:9\ncontract = 0x%s\n"
        "database = %s\npoll_interval_ms = 1000\nhttp_listen =\n%s"
        % (runtime, "11" * 20, tmp_path / "bare.db", extra))
    return Proc("chaind", [str(BUILD / "bin" / "chaind"), "-c", str(conf),
                           "-d"], tmp_path / "chaind-bare.log"), runtime


def test_no_wallet_records_and_malformed_alerts_disconnect(tmp_path):
    proc, runtime = _bare_chaind(tmp_path)
    proc.start()
    try:
        wait_for(lambda: (runtime / "chaind.sock").exists(), 10,
                 "chaind.sock")
        c = Ipc(runtime / "chaind.sock")
        assert ban(c, "2001:db8::1", int(time.time()) + 60) == NO_WALLET
        assert ban(c, "2001:db8::2", int(time.time()) + 60) == NO_WALLET
        wait_for(lambda: "no wallet" in proc.log(), 5, "the log line")
        with sqlite3.connect(str(tmp_path / "bare.db")) as db:
            rows = db.execute("SELECT ip, outcome FROM alerts").fetchall()
        assert rows == [("2001:db8::1", NO_WALLET),
                        ("2001:db8::2", NO_WALLET)]
        c.close()

        bad = [
            (7, "", "", "192.0.2.1", "", "", 0),  # not an alert action
            (BANNED, "", "", "192.0.2.1", "0x" + "AB" * 20, "", 0),
            (BANNED, "", "ip-hmac:12", "192.0.2.1", "", "", 0),
            (BANNED, "999.1.1.1", "", "192.0.2.1", "", "", 0),
            (BANNED, "", "", "not-a-subject", "", "", 0),
            (BANNED, "", "", "192.0.2.1", "", "x" * 257, 0),
            (WRONG_COUNTRY, "", "", "", "", "country=US publish", 0),
        ]
        for fields in bad:
            c = Ipc(runtime / "chaind.sock")
            c.send("IPC_ALERT", *fields)
            wait_for(c.closed_by_peer, 5, "a disconnect for %r" % (fields,))
            c.close()
        assert proc.log().count("malformed IPC_ALERT") == len(bad)
        # Still serving.
        c = Ipc(runtime / "chaind.sock")
        assert ban(c, "192.0.2.9", 0) == NO_WALLET
        assert ban_sync(c, 0) == (0, [])
        c.close()
        assert proc.alive()
    finally:
        proc.stop()


@pytest.mark.parametrize("value", ["plain", "Hash", ""])
def test_invalid_alert_ip_fails_startup(tmp_path, value):
    proc, runtime = _bare_chaind(tmp_path, "alert_ip = %s\n" % value)
    proc.start()
    proc.popen.wait(10)
    assert proc.popen.returncode != 0
    # The message names the option and what it may be.
    log = proc.log()
    assert "alert_ip" in log and "hash" in log and "clear" in log, log
    assert not (runtime / "chaind.sock").exists()


# ---- Ban sync ---------------------------------------------------------------


def test_ban_sync_returns_every_reporters_bans(make_world):
    w = make_world()
    c = w.connect()
    now = int(time.time())
    ours = "192.0.2.50"
    assert ban(c, ours, now + 900, reason="ours") == QUEUED
    wait_for(lambda: w.events(BANNED), 15, "our Banned event")
    who = "0x" + "77" * 20
    other = w.other_reporter([
        [BANNED, ZERO, "ip:198.51.100.9", "until=%d theirs" % (now + 900)],
        [BANNED, ZERO, "net:203.0.113.0/24", "until=%d range" % (now + 900)],
        [BANNED, who, "address", "until=%d addr" % (now + 900)],
        [BANNED, ZERO, ip_hash("198.51.100.10"), "until=%d" % (now + 900)],
        [BANNED, ZERO, "ip:198.51.100.11", "until=0 for good"],
        [BANNED, ZERO, "ip-hmac:" + ip_hash("198.51.100.15")[8:].upper(),
         "until=%d upper\ncase" % (now + 900)],
        # Not returned: expired, no end, an unknown name, an address ban
        # without an address, and alerts that are no bans.
        [BANNED, ZERO, "ip:198.51.100.12", "until=%d old" % (now - 10)],
        [BANNED, ZERO, "ip:198.51.100.13", "until=soon"],
        [BANNED, ZERO, "ip:198.51.100.14", "no end"],
        [BANNED, ZERO, "somebody", "until=%d ?" % (now + 900)],
        [BANNED, ZERO, "address", "until=%d ?" % (now + 900)],
        [WRONG_COUNTRY, ZERO, "t/1", "country=US publish"],
    ])
    # Not ours: authd keeps the bans it started itself (bans_file), and an
    # operator may have lifted one since.
    expected = {
        "198.51.100.9": (now + 900, "theirs", other),
        "203.0.113.0/24": (now + 900, "range", other),
        who: (now + 900, "addr", other),
        ip_hash("198.51.100.10"): (now + 900, "", other),
        "198.51.100.11": (0, "for good", other),
        ip_hash("198.51.100.15"): (now + 900, "upper?case", other),
    }

    def synced():
        bans, _ = sync_all(c)
        return bans if len(bans) == len(expected) else None

    bans = wait_for(synced, 20, "chaind to store the Banned events",
                    interval=0.2)
    got = {b["subject"]: (b["until"], b["reason"], b["reporter"])
           for b in bans}
    assert got == expected
    # In event order.
    assert bans[0]["subject"] == "198.51.100.9"
    _, cursor = sync_all(c)
    assert ban_sync(c, cursor) == (cursor, [])
    # A ban that lands later comes after the cursor.
    w.other_reporter([[BANNED, ZERO, "ip:192.0.2.51",
                       "until=%d later" % (now + 900)]])
    wait_for(lambda: ban_sync(c, cursor)[1], 15, "the later ban",
             interval=0.2)
    nxt, later = ban_sync(c, cursor)
    assert [b["subject"] for b in later] == ["192.0.2.51"]
    assert nxt > cursor
    assert w.status()["alerts"]["ban_syncs"] > 0
    c.close()


def test_ban_sync_pages_with_the_cursor(make_world):
    w = make_world()
    c = w.connect()
    until = int(time.time()) + 900
    n = PAGE + 20
    w.other_reporter([[BANNED, ZERO, "ip:10.9.%d.%d" % (i // 250, i % 250),
                       "until=%d n%d" % (until, i)] for i in range(n)])
    wait_for(lambda: len(sync_all(c)[0]) == n, 30,
             "chaind to store %d Banned events" % n, interval=0.2)
    first_cursor, first = ban_sync(c, 0)
    assert len(first) == PAGE
    assert first[0]["reason"] == "n0" and first[-1]["reason"] == "n%d" % (
        PAGE - 1)
    second_cursor, second = ban_sync(c, first_cursor)
    assert [b["reason"] for b in second] == ["n%d" % i
                                             for i in range(PAGE, n)]
    assert second_cursor > first_cursor
    assert ban_sync(c, second_cursor) == (second_cursor, [])
    # Asking again from a cursor gives the same page: authd may retry.
    assert ban_sync(c, 0) == (first_cursor, first)
    c.close()
