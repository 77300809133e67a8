"""The audit trail end to end: a real anvil with the FlyTrap contract, its
topics, grants, revocations and purchases made with flytrapctl, summaries
and alerts logged by a reporter key with ethers (as reportd's wallet and
another FlyTrap node would), a real chaind with a wallet following it, and
every audit query asked with `flytrapctl audit ... --json` (chaind's
IPC_AUDIT_QUERY on status.sock). Covered: topics with their settings read
back from the contract; holders at a past time and now around a
revocation; why, with the grant's reason and granter, a paid purchase and
a free join told apart from an owner's grant; who and summaries with their
roots; alerts; paging across pages with every filter; bad parameters
answered precisely; and erasure of chaind's alert rows (IPC_ERASE), with
what stays on the chain listed and reportd's side asked too.
"""
import json
import socket
import sqlite3
import struct
import subprocess
import threading
import time

import msgpack
import pytest

import fakechaind
from chainutil import ANVIL_KEYS, ctl, ctl_ok, rpc
from conftest import BIN, keygen, wait_for
from test_31_chaind_wallet import ETHERS
from test_32_alerts import BANNED, QUEUED, AlertWorld, alert, ban, ip_hash

ZERO = "0x" + "00" * 20
FOREVER = "forever"
SYNC_S = 20


class AuditWorld(AlertWorld):
    """test_32's world (anvil, contract, chaind with a reporter wallet)
    with a second reporter key for summaries and alerts, and flytrapctl
    audit as the auditor runs it."""

    def __init__(self, tmp):
        # test_31's configuration already has http_listen = (off).
        super().__init__(tmp)
        assert "http_listen =" in self.conf.read_text()
        self.reporter_key, self.reporter = ANVIL_KEYS[2]
        ctl_ok(["reporter", "add", self.reporter], self.env)
        self.owner = ctl_ok(["address", "--key", self.owner_key]) \
            .stdout.strip().splitlines()[-1].lower()

    @property
    def status_sock(self):
        return self.runtime / "status.sock"

    def audit(self, *args, ok=True):
        """flytrapctl audit ARGS --json: the answer, or (with ok=False)
        the CompletedProcess."""
        r = ctl(["audit"] + [str(a) for a in args] +
                ["--json", "--status-socket", self.status_sock])
        if not ok:
            return r
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def owner_ctl(self, *args):
        r = ctl_ok([str(a) for a in args] + ["--json"], self.env)
        return json.loads(r.stdout)

    def key_ctl(self, key, *args):
        env = dict(self.env)
        env["FLYTRAP_KEY"] = key.path
        r = ctl_ok([str(a) for a in args] + ["--json"], env)
        return json.loads(r.stdout)

    def block_time(self, n):
        return int(rpc(self.anvil.url, "eth_getBlockByNumber",
                       [hex(n), False])["timestamp"], 16)

    def head(self):
        return int(rpc(self.anvil.url, "eth_blockNumber", []), 16)

    def synced(self, block=None):
        """Waits until chaind has stored block (default: the head)."""
        block = self.head() if block is None else block
        wait_for(lambda: self.audit("status")["synced_block"] >= block,
                 SYNC_S, "chaind to reach block %d" % block, 0.05)

    def skip_time(self, seconds):
        """The next block comes `seconds` after the latest one."""
        t = self.block_time(self.head())
        rpc(self.anvil.url, "evm_setNextBlockTimestamp", [t + seconds])

    def reporter_calls(self, calls):
        """Sends (function, args) calls to the contract from the reporter
        key with ethers, each mined in turn; returns their blocks."""
        script = (
            "const {ethers}=require(%r);const fs=require('fs');"
            "(async()=>{const p=new ethers.JsonRpcProvider(%r);"
            "const w=new ethers.Wallet(%r,p);"
            "const c=new ethers.Contract(%r,"
            "JSON.parse(fs.readFileSync(%r)),w);const out=[];"
            "let n=await p.getTransactionCount(w.address,'pending');"
            "for(const [f,a] of JSON.parse(%r)){"
            "const t=await c[f](...a,{nonce:n++});const r=await t.wait();"
            "if(r.status!==1)throw new Error('reverted');"
            "out.push(r.blockNumber);}"
            "console.log(JSON.stringify(out));"
            "})().catch(e=>{console.error(e);process.exit(1);});"
            % (ETHERS, self.anvil.url, self.reporter_key, self.contract,
               str(self.artifacts / "FlyTrap.abi"), json.dumps(calls)))
        r = subprocess.run(["node", "-e", script], timeout=120,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = AuditWorld(tmp_path_factory.mktemp("audit"))
    w.chaind_start()
    yield w
    if w.chaind is not None:
        w.chaind.stop()
    w.anvil.stop()


@pytest.fixture
def user(world, tmp_path):
    """A new funded key."""
    n = [0]

    def make():
        n[0] += 1
        k = keygen(tmp_path / ("user%d.key" % n[0]))
        rpc(world.anvil.url, "anvil_setBalance",
            [k.address, hex(10 ** 20)])
        return k
    return make


def everything(world, *args, limit=3):
    """Every page of a list query, following `next`; checks each page."""
    items, after, key = [], None, None
    for _ in range(1000):
        extra = ["--after", after] if after is not None else []
        page = world.audit(*args, "--limit", limit, *extra)
        key = key or [k for k in page if isinstance(page[k], list)][0]
        assert len(page[key]) <= limit
        items += page[key]
        if page["next"] is None:
            return items
        assert page["next"] == page[key][-1]["id"]
        after = page["next"]
    pytest.fail("paging did not end")


# ---- topics ------------------------------------------------------------------


def test_topics_with_settings_read_from_the_contract(world):
    world.owner_ctl("topic", "add", "aud/plain/#")
    world.owner_ctl("topic", "add", "aud/priced", "--sensitive",
                    "--pub-price", "1000", "--sub-price", "7", "--period",
                    "3600", "--countries", "DE,FR")
    world.synced()

    def listed():
        return {t["name"]: t for t in world.audit("topics", "--limit", 1000)
                ["topics"]}

    def settled(pred):
        s = listed()["aud/priced"]["settings"]
        return s if s and not s["pending"] and pred(s) else None
    s = wait_for(lambda: settled(lambda s: True), SYNC_S,
                 "the settings to be read")
    topics = listed()
    t = topics["aud/priced"]
    assert t["owner"] == world.owner and t["creator"] == world.owner
    assert t["created"]["block"] > 0 and t["created"]["tx"].startswith("0x")
    assert s["sensitive"] is True and s["self_service"] is True
    assert s["countries"] == ["DE", "FR"]
    assert (s["pub_price_wei"], s["sub_price_wei"]) == ("1000", "7")
    assert s["period"] == 3600
    assert topics["aud/plain/#"]["name"] == "aud/plain/#"

    # A change is read again: the settings follow TopicChanged.
    world.owner_ctl("topic", "set", "aud/priced", "--sensitive", "no",
                    "--countries", "any")
    world.synced()
    s = wait_for(lambda: settled(lambda s: not s["sensitive"]), SYNC_S,
                 "the new settings")
    assert s["countries"] == [] and s["sensitive"] is False


# ---- holders, why --------------------------------------------------------------


def test_holders_at_a_past_time_and_now(world, user):
    a, b = user(), user()
    world.owner_ctl("topic", "add", "aud/h/#")
    g = world.owner_ctl("grant", "pub", "aud/h/#", a.address, "--reason",
                        "calibration crew")
    world.owner_ctl("grant", "sub", "aud/h/#", b.address, "--reason",
                    "dashboard")
    granted_at = world.block_time(g["block"])
    world.skip_time(100)
    r = world.owner_ctl("revoke", "pub", "aud/h/#", a.address, "--reason",
                        "contract ended")
    revoked_at = world.block_time(r["block"])
    assert revoked_at >= granted_at + 100
    world.synced()

    past = world.audit("holders", "aud/h/#", "--at", granted_at + 1)
    assert past["topic"] == "aud/h/#" and past["at"] == granted_at + 1
    (p,) = past["publishers"]
    assert p["address"] == a.address
    assert p["granted_by"] == world.owner
    assert p["reason"] == "calibration crew"
    assert p["time"] == granted_at and p["block"] == g["block"]
    assert p["paid"] is False and p["via"] == "grant"
    assert p["tx"] == g["tx"]
    # Before anything was granted: nobody.
    before = world.audit("holders", "aud/h/#", "--at", granted_at - 1)
    assert before["publishers"] == [] and before["subscribers"] == []

    now = world.audit("holders", "aud/h/#")
    assert now["publishers"] == []
    (s,) = now["subscribers"]
    assert s["address"] == b.address and s["reason"] == "dashboard"
    wait_for(lambda: world.audit("holders", "aud/h/#")["subscribers"][0]
             ["until"] == FOREVER, SYNC_S, "the expiry to be read")

    # An entry is taken by its exact name; a topic is why's business.
    r = world.audit("holders", "aud/h/x", ok=False)
    assert r.returncode == 1
    assert "no entry is named 'aud/h/x'" in r.stderr


def test_holders_drop_expired_rights(world, user):
    a = user()
    world.owner_ctl("topic", "add", "aud/exp")
    g = world.owner_ctl("grant", "pub", "aud/exp", a.address, "--reason",
                        "trial", "--for", "300")
    t = world.block_time(g["block"])
    world.synced()
    wait_for(lambda: world.audit("holders", "aud/exp", "--at", t + 1)
             ["publishers"][0]["until"] == t + 300, SYNC_S,
             "the grant's expiry")
    assert world.audit("holders", "aud/exp", "--at", t + 299)["publishers"]
    assert world.audit("holders", "aud/exp", "--at", t + 300)[
        "publishers"] == []


def test_why_shows_grants_purchases_and_joins(world, user):
    buyer, joiner, device = user(), user(), user()
    world.owner_ctl("topic", "add", "aud/w/#")
    world.owner_ctl("topic", "add", "aud/w/paid", "--pub-price", "1000",
                    "--period", "3600")
    world.owner_ctl("topic", "add", "aud/w/free")
    world.owner_ctl("topic", "add", "aud/dev/${address}/#")
    g = world.owner_ctl("grant", "sub", "aud/w/#", buyer.address,
                        "--reason", "paid:5")  # an owner's text, not a sale
    b = world.key_ctl(buyer, "buy", "pub", "aud/w/paid")
    j = world.key_ctl(joiner, "buy", "sub", "aud/w/free")
    world.owner_ctl("grant", "pub", "aud/dev/${address}/#", device.address,
                    "--reason", "own device")
    world.synced()

    def why(addr, topic):
        return world.audit("why", addr, topic)

    w = wait_for(lambda: (lambda x: x if all(
        e.get("until") is not None for e in x["events"]) else None)(
        why(buyer.address, "aud/w/paid")), SYNC_S, "expiries to be read")
    assert w["may_publish"] is True and w["may_subscribe"] is True
    entries = {e["entry"]: e for e in w["entries"]}
    assert set(entries) == {"aud/w/#", "aud/w/paid"}
    sale = entries["aud/w/paid"]["publish"]
    assert sale["via"] == "purchase" and sale["paid"] is True
    assert sale["price_wei"] == "1000" and sale["by"] == buyer.address
    assert sale["until"] == world.block_time(b["block"]) + 3600
    grant = entries["aud/w/#"]["subscribe"]
    assert grant["via"] == "grant" and grant["paid"] is False
    assert grant["by"] == world.owner and grant["reason"] == "paid:5"
    assert grant["until"] == FOREVER
    hist = [(e["action"], e["entry"], e["paid"]) for e in w["events"]]
    assert hist == [("AddSub", "aud/w/#", False),
                    ("AddPub", "aud/w/paid", True)]
    assert w["events"][0]["tx"] == g["tx"]
    assert w["events"][1]["block"] == b["block"]

    # A free join is a purchase without payment.
    w = why(joiner.address, "aud/w/free")
    (e,) = w["events"]
    assert (e["via"], e["paid"], e["reason"]) == ("join", False, "free")
    assert w["may_subscribe"] is True and w["may_publish"] is False
    assert j["block"] == e["block"]

    # ${address} entries are expanded with the address asked about.
    w = why(device.address, "aud/dev/%s/temp" % device.address)
    (entry,) = w["entries"]
    assert entry["entry"] == "aud/dev/${address}/#"
    assert entry["expanded"] == "aud/dev/%s/#" % device.address
    assert w["may_publish"] is True
    assert why(buyer.address, "aud/dev/%s/temp" % device.address)[
        "entries"] == []
    # Nothing covers it: nothing to show, no right.
    w = why(buyer.address, "elsewhere/x")
    assert w["entries"] == [] and w["may_publish"] is False


# ---- summaries, who, alerts ----------------------------------------------------


def test_summaries_and_who(world, user):
    a, b, c = user(), user(), user()
    root1, root2 = "0x" + "11" * 32, "0x" + "22" * 32
    reason1 = "pub=%s sub=%s,%s records=9" % (
        a.address, b.address, c.address)
    reason2 = "pub=%s,+3 sub= records=4" % b.address
    blocks = world.reporter_calls([
        ["logSummary", ["aud/s/t", reason1, root1, 1800, 3600]],
        ["logSummary", ["aud/s/t", reason2, root2, 3600, 5400]],
        ["logSummary", ["aud/s/other", "pub= sub= records=1",
                        "0x" + "00" * 32, 3600, 5400]],
    ])
    world.synced(blocks[-1])

    s = world.audit("summaries", "--topic", "aud/s/t")["summaries"]
    assert [x["root"] for x in s] == [root1, root2]
    first = s[0]
    assert (first["period_start"], first["period_end"]) == (1800, 3600)
    assert first["publishers"] == [a.address]
    assert first["subscribers"] == sorted([b.address, c.address]) or \
        first["subscribers"] == [b.address, c.address]
    assert first["records"] == 9 and first["reporter"] == world.reporter
    assert first["block"] == blocks[0]
    assert s[1]["more_publishers"] == 3 and s[1]["subscribers"] == []

    # who: periods overlapping the range, and who they list together.
    w = world.audit("who", "aud/s/t", "--from", 3000, "--to", 3100)
    assert [x["root"] for x in w["summaries"]] == [root1]
    assert w["publishers"] == [a.address] and w["records"] == 9
    w = world.audit("who", "aud/s/t", "--from", 3000, "--to", 4000)
    assert [x["root"] for x in w["summaries"]] == [root1, root2]
    assert w["publishers"] == sorted([a.address, b.address])
    assert w["more_publishers"] == 3 and w["records"] == 13
    assert world.audit("who", "aud/s/t", "--from", 6000)["summaries"] == []
    # Paged by one.
    p1 = world.audit("who", "aud/s/t", "--limit", 1)
    assert len(p1["summaries"]) == 1 and p1["next"] is not None
    p2 = world.audit("who", "aud/s/t", "--limit", 1, "--after", p1["next"])
    assert p2["summaries"][0]["root"] == root2 and p2["next"] is None
    # All summaries by time range.
    t = world.block_time(blocks[0])
    every = world.audit("summaries", "--from", t)["summaries"]
    assert {x["topic"] for x in every} >= {"aud/s/t", "aud/s/other"}


def test_alerts(world):
    who = "0x" + "ab" * 20
    h = ip_hash("198.51.100.77")
    blocks = world.reporter_calls([
        ["logAlert", [BANNED, who, h, "until=4000000000 3 failed logins"]],
        ["logAlert", [5, ZERO, "aud/a/t",
                      "country=US %s publish" % h]],
    ])
    world.synced(blocks[-1])
    t = world.block_time(blocks[0])
    al = world.audit("alerts", "--from", t)["alerts"]
    banned = [x for x in al if x["action"] == "Banned" and
              x["subject"] == h]
    (b,) = banned
    assert b["target"] == who and b["until"] == 4000000000
    assert b["why"] == "3 failed logins" and b["source"] == world.reporter
    wc = [x for x in al if x["action"] == "WrongCountry" and
          x["topic"] == "aud/a/t"]
    (c,) = wc
    assert (c["country"], c["ip_hash"], c["attempt"]) == ("US", h, "publish")
    only = world.audit("alerts", "--action", "Banned", "--from", t)["alerts"]
    assert {x["action"] for x in only} == {"Banned"}
    assert world.audit("alerts", "--address", who, "--from", t)[
        "alerts"] == [b]


# ---- events, paging ------------------------------------------------------------


def test_events_paging_and_filters(world, user):
    users = [user() for _ in range(4)]
    # (anvil may give consecutive blocks the same second.)
    start = world.block_time(world.head())
    world.owner_ctl("topic", "add", "aud/p/#")
    for i, u in enumerate(users):
        world.owner_ctl("grant", "pub", "aud/p/#", u.address, "--reason",
                        "g%d" % i)
    for u in users[:2]:
        world.owner_ctl("revoke", "pub", "aud/p/#", u.address, "--reason",
                        "r")
    world.synced()

    full = world.audit("events", "--topic", "aud/p/#", "--limit", 1000)
    assert full["next"] is None
    acts = [e["action"] for e in full["events"]]
    assert acts == ["AddTopic"] + ["AddPub"] * 4 + ["RevokePub"] * 2
    ids = [e["id"] for e in full["events"]]
    assert ids == sorted(ids)
    # Paged by 3: the same events, in the same order, none twice.
    assert everything(world, "events", "--topic", "aud/p/#") == \
        full["events"]
    assert everything(world, "events", "--topic", "aud/p/#", limit=1) == \
        full["events"]
    # Filters combine.
    revokes = world.audit("events", "--topic", "aud/p/#", "--action",
                          "RevokePub")["events"]
    assert [e["target"] for e in revokes] == \
        [u.address for u in users[:2]]
    mine = world.audit("events", "--address", users[0].address)["events"]
    assert [e["action"] for e in mine] == ["AddPub", "RevokePub"]
    both = world.audit("events", "--address", users[0].address, "--action",
                       "AddPub,3", "--topic", "aud/p/#")["events"]
    assert both == mine
    # The owner is the source of all of them (and target of AddTopic,
    # counted once).
    owned = [e["id"] for e in everything(
        world, "events", "--address", world.owner, "--from", start,
        limit=2)]
    assert owned == sorted(set(owned))
    assert owned[-len(ids):] == ids
    # Time range: the first grant's second only.
    t0 = full["events"][1]["time"]
    at_t0 = world.audit("events", "--topic", "aud/p/#", "--from", t0,
                        "--to", t0)["events"]
    assert at_t0 and all(e["time"] == t0 for e in at_t0)
    assert world.audit("events", "--from", 4000000000)["events"] == []


def test_bad_parameters_are_answered_precisely(world):
    cases = [
        (["events", "--limit", "0"],
         "limit: must be an integer from 1 to 1000 (got '0')"),
        (["events", "--limit", "1001"],
         "limit: must be an integer from 1 to 1000 (got '1001')"),
        (["events", "--limit", "x"],
         "limit: must be an integer from 1 to 1000 (got 'x')"),
        (["events", "--after", "-1"], "after: must be an integer from 0"),
        (["events", "--address", "0x12"], "address: '0x12' is not an address"),
        (["events", "--action", "Nope"], "action: must be one or more of"),
        (["alerts", "--action", "AddPub"],
         "action: must be one or more of WrongCountry, Banned"),
        (["events", "--from", "20", "--to", "10"], "from (20) is after to"),
        (["why", "0x" + "12" * 20, "a/#/b"],
         "is not an MQTT topic name or filter"),
        (["holders", "no/such"], "no entry is named 'no/such'"),
    ]
    for args, msg in cases:
        r = world.audit(*args, ok=False)
        assert r.returncode == 1, args
        assert msg in r.stderr, (args, r.stderr)
    # flytrapctl itself refuses what a kind does not take, and bad times.
    r = world.audit("events", "--at", "5", ok=False)
    assert r.returncode == 2 and "--at is not one of its options" in r.stderr
    r = world.audit("events", "--from", "yesterday", ok=False)
    assert r.returncode == 2 and "is not a time" in r.stderr

    # Straight over the socket: unknown kinds and parameters, bad JSON.
    def ask(kind, params):
        kind_t, fields = Ipc(world.status_sock).request(
            "IPC_AUDIT_QUERY", kind, params)
        assert kind_t == "IPC_AUDIT_QUERY_REPLY"
        return fields[0], json.loads(fields[1])
    ok, o = ask("nope", "{}")
    assert not ok and o["error"].startswith("unknown kind 'nope'")
    ok, o = ask("events", '{"colour": "red"}')
    assert not ok and "unknown parameter 'colour' for events" in o["error"]
    ok, o = ask("events", "{not json")
    assert not ok and o["error"].startswith("parameters are not JSON")
    ok, o = ask("events", "[1]")
    assert not ok and o["error"] == "parameters must be a JSON object"
    ok, o = ask("events", '{"limit": 2, "from": "0"}')
    assert ok and len(o["events"]) == 2
    ok, o = ask("status", '{"x": 1}')
    assert not ok and "status takes no parameters" in o["error"]
    ok, o = ask("status", "")
    assert ok and o["contract"] == world.contract.lower()


# ---- erasure -------------------------------------------------------------------


class Ipc:
    """One request at a time on a FlyTrap socket (test_32's, reused)."""

    def __init__(self, path):
        from test_32_alerts import Ipc as _Ipc
        self._c = _Ipc(path)

    def request(self, *a):
        try:
            return self._c.request(*a)
        finally:
            self._c.close()


class FakeReportdAdmin:
    """reportd's admin socket answering IPC_REPORT_QUERY "erase" as
    reportd does ({address, erased}), recording what it was asked."""

    def __init__(self, path):
        self.path = path
        self.asked = []
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        types = fakechaind.TYPES
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                n = struct.unpack(">I", conn.recv(4))[0]
                body = b""
                while len(body) < n:
                    body += conn.recv(n - len(body))
                u = msgpack.Unpacker(raw=False)
                u.feed(body)
                _, typ, rid, kind, params = list(u)
                assert typ == types["IPC_REPORT_QUERY"]
                self.asked.append((kind, json.loads(params)))
                answer = json.dumps({"address": json.loads(params)["address"],
                                     "erased": 3})
                out = b"".join(msgpack.packb(x) for x in [
                    fakechaind.IPC_VERSION, types["IPC_REPORT_QUERY_REPLY"],
                    rid, True, answer])
                conn.sendall(struct.pack(">I", len(out)) + out)

    def close(self):
        self.sock.close()


def test_erase_removes_local_alert_rows_and_lists_the_chain(world, tmp_path):
    c = world.connect()
    ip, who = "192.0.2.99", "0x" + "e5" * 20
    until = int(time.time()) + 3600
    assert ban(c, ip, until, address=who) == QUEUED
    other_ip = "192.0.2.100"
    assert ban(c, other_ip, until) == QUEUED
    assert alert(c, BANNED, "", "", who, who, "10 denials", until) == QUEUED
    c.close()
    wait_for(lambda: len([e for e in world.events(BANNED)
                          if e["name"] in (ip_hash(ip), "address")]) == 2,
             SYNC_S, "the Banned events")
    world.synced()

    def rows(col, value):
        with sqlite3.connect(str(world.db)) as db:
            return db.execute("SELECT count(*) FROM alerts WHERE %s = ?"
                              % col, (value,)).fetchone()[0]
    assert rows("ip", ip) == 1 and rows("address", who) == 2

    sockets = ["--wallet-socket", world.runtime / "wallet.sock",
               "--reportd-socket", tmp_path / "nobody.sock"]
    # An IP: chaind's rows go; reportd keeps no IPs and is not asked.
    r = ctl(["erase", ip, "--json"] + sockets)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    ch = out["chaind"]
    assert out["reportd"] is None
    assert ch["kind"] == "ip" and ch["subject"] == ip
    assert ch["removed"]["alert_rows"] == 1
    assert ch["ip_hashes"] == [ip_hash(ip)]
    (left,) = [x for x in ch["remains_on_chain"]
               if x["topic"] == ip_hash(ip)]
    assert left["action"] == "Banned" and left["tx"].startswith("0x")
    assert "keyed hash" in left["why"]
    assert rows("ip", ip) == 0 and rows("ip", other_ip) == 1

    # An address with reportd away: chaind erases, the command fails and
    # says reportd's records were not erased.
    r = ctl(["erase", who] + sockets)
    assert r.returncode == 1
    assert "reportd not reachable: its records were not erased" in r.stderr
    assert "removed 1 local alert row" in r.stdout
    assert "remains on the public chain" in r.stdout
    assert rows("address", who) == 0

    # With reportd there, both sides erase.
    fake = FakeReportdAdmin(tmp_path / "reportd-admin.sock")
    try:
        r = ctl(["erase", who.upper().replace("0X", "0x"), "--json",
                 "--wallet-socket", world.runtime / "wallet.sock",
                 "--reportd-socket", tmp_path / "reportd-admin.sock"])
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert fake.asked == [("erase", {"address": who})]
        assert out["reportd"] == {"address": who, "erased": 3}
        ch = out["chaind"]
        assert ch["removed"]["alert_rows"] == 0
        whys = {x["why"] for x in ch["remains_on_chain"]}
        assert "names the address" in whys
        assert ch["remains_total"] >= 2
        assert not ch["remains_truncated"]
    finally:
        fake.close()

    # Neither an address nor an IP.
    r = ctl(["erase", "bob"] + sockets)
    assert r.returncode == 2 and "neither an address" in r.stderr
    # The IPC refuses it too, with ok = false.
    kind, f = Ipc(world.runtime / "wallet.sock").request("IPC_ERASE", "bob")
    assert kind == "IPC_ERASE_REPLY" and f[0] is False
    assert "neither an address" in json.loads(f[1])["error"]


def test_human_output(world):
    r = ctl(["audit", "events", "--limit", "2", "--status-socket",
             world.status_sock])
    assert r.returncode == 0 and "more: --after" in r.stdout
    r = ctl(["audit", "status", "--status-socket", world.status_sock])
    assert r.returncode == 0 and "synced_block:" in r.stdout
    r = ctl(["audit", "--help"])
    assert r.returncode == 0
    for sub in ("who", "holders", "why", "events", "summaries", "alerts",
                "topics", "status"):
        assert sub in r.stdout
    assert BIN.exists()
