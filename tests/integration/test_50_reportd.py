"""Accountability end to end, with nothing simulated: anvil and the
contract, chaind with a reporter wallet, mosquitto, authd, proxyd and
reportd with short periods (docs/AUDIT.md).

Covered: accesses to a sensitive topic become records at reportd, and
each period gets exactly one Summary per topic on-chain, naming the right
publishers and subscribers, with a SummaryRoot event carrying the Merkle
root; `flytrapctl audit prove` and `audit verify` accept a real record and
refuse an altered one and a forged one; reportd killed (-9) in the middle
of a period and chaind killed or frozen in the middle of a submission lose
no record and write no period twice (proxyd's figures against reportd's);
reportd away for a while: proxyd keeps the records and delivers them when
it is back; the wallet's `once:` idempotency rule.
"""

import json
import signal
import socket
import struct
import subprocess
import time

import msgpack
import pytest

import fakechaind
import mqttraw
from chainutil import ctl, ctl_json, ctl_ok
from conftest import BIN, Proc, unix_accepts, v5_token_props, wait_for
from test_30_chain_e2e import chain  # noqa: F401  (module fixture)

V5 = mqttraw.V5
PERIOD_S = 10
GRACE_S = 2
SUMMARY_ACTION = 7  # Action.Summary in docs/CONTRACT.md
NO_SUBSCRIBERS = 0x10
REPORT_QUERY = fakechaind.TYPES["IPC_REPORT_QUERY"]
REPORT_QUERY_REPLY = fakechaind.TYPES["IPC_REPORT_QUERY_REPLY"]
TX_SUBMIT = fakechaind.TYPES["IPC_TX_SUBMIT"]
TX_SUBMIT_REPLY = fakechaind.TYPES["IPC_TX_SUBMIT_REPLY"]
ETHERS = str(fakechaind.REPO / "node_modules" / "ethers")
# Long enough for a period to end, its grace to pass, reportd's start hold
# (grace + 6 s) and the wallet to mine the summaries.
SUMMARY_WAIT_S = PERIOD_S + GRACE_S + 30


# ---- IPC with reportd and chaind's wallet ----------------------------------


def ipc_request(path, msg_type, reply_type, *fields):
    """One request on a FlyTrap socket; returns the reply's fields."""
    body = b"".join(msgpack.packb(x) for x in
                    [fakechaind.IPC_VERSION, msg_type, 1] + list(fields))
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(path))
        s.sendall(struct.pack(">I", len(body)) + body)
        head = b""
        while len(head) < 4:
            head += s.recv(4 - len(head))
        n = struct.unpack(">I", head)[0]
        got = b""
        while len(got) < n:
            got += s.recv(n - len(got))
    u = msgpack.Unpacker(raw=False)
    u.feed(got)
    objs = list(u)
    assert objs[:3] == [fakechaind.IPC_VERSION, reply_type, 1], objs[:3]
    return objs[3:]


# ---- Reading the chain -------------------------------------------------------


def abi_strings_and_uints(data, layout):
    """Decodes event data whose head is `layout` ('s' string, 'u' uint)."""
    out = []
    for i, kind in enumerate(layout):
        word = int.from_bytes(data[32 * i:32 * i + 32], "big")
        if kind == "u":
            out.append(word)
        else:
            n = int.from_bytes(data[word:word + 32], "big")
            out.append(data[word + 32:word + 32 + n].decode())
    return out


def summaries(chain):
    """(Summary events, SummaryRoot events) of the contract, decoded."""
    logs = chain.rpc("eth_getLogs", {"address": chain.contract,
                                     "fromBlock": "0x0"})
    sums, roots = [], []
    for log in logs:
        data = bytes.fromhex(log["data"][2:])
        if len(log["topics"]) == 4 and int(log["topics"][3], 16) == \
                SUMMARY_ACTION:
            name, reason, _ = abi_strings_and_uints(data, "ssu")
            sums.append({"name": name, "reason": reason,
                         "tx": log["transactionHash"]})
        elif len(log["topics"]) == 2:
            name, start, end = abi_strings_and_uints(data, "suu")
            roots.append({"root": log["topics"][1], "name": name,
                          "start": start, "end": end,
                          "tx": log["transactionHash"]})
    return sums, roots


def reason_roles(reason):
    """'pub=a,b sub=c records=3' -> (['a', 'b'], ['c'], 3)."""
    parts = dict(p.split("=", 1) for p in reason.split(" "))
    pubs = [a for a in parts["pub"].split(",") if a]
    subs = [a for a in parts["sub"].split(",") if a]
    return pubs, subs, int(parts["records"])


# ---- One test's FlyTrap -------------------------------------------------------


class World:
    """ft's mosquitto, authd and proxyd, a chaind with a reporter wallet
    following `chain`, and reportd with periods of PERIOD_S seconds."""

    def __init__(self, ft, chain):
        self.ft = ft
        self.chain = chain
        self.runtime = ft.runtime_dir
        password = ft.dir / "password"
        password.write_text("wallet password\n")
        keystore = ft.dir / "wallet.json"
        self.wallet = ctl_json(["keystore", "create", "--out", keystore,
                                "--password-file", password])["address"]
        chain.fund(self.wallet)
        ctl_ok(["reporter", "add", self.wallet], chain.env())
        ft.broker_start()
        chaind = {"rpc_url": chain.url, "contract": chain.contract,
                  "start_block": chain.deploy_block,
                  "database": ft.dir / "chaind.db", "keystore": keystore,
                  "password_file": password, "poll_interval_ms": 100,
                  # Never two chainds on one port: no HTTP listener.
                  "http_listen": ""}
        reportd = {"database": ft.dir / "reportd.db",
                   "period_s": PERIOD_S, "grace_s": GRACE_S}
        raw = ""
        for name, sec in (("chaind", chaind), ("reportd", reportd)):
            raw += "[%s]\n" % name
            raw += "".join("%s = %s\n" % kv for kv in sec.items())
        ft.write_config(raw=raw)
        self.chaind = Proc("chaind", [BIN / "chaind", "-c", ft.config_path,
                                      "-d"], ft.dir / "chaind.log")
        self.reportd = Proc("reportd", [BIN / "reportd", "-c",
                                        ft.config_path, "-d"],
                            ft.dir / "reportd.log")
        self.chaind_start()
        ft.authd_start()
        self.reportd_start()
        ft.proxyd_start()
        wait_for(lambda: "connected to chaind" in ft.proxyd.log(), 10,
                 "proxyd to connect to chaind")

    # ---- processes

    def chaind_start(self):
        self.chaind.start()
        wait_for(lambda: self._alive(self.chaind)
                 and unix_accepts(self.runtime / "wallet.sock")
                 and unix_accepts(self.runtime / "chaind.sock"), 10,
                 "chaind's sockets")

    def reportd_start(self):
        self.reportd.start()
        wait_for(lambda: self._alive(self.reportd)
                 and unix_accepts(self.runtime / "reportd.sock")
                 and unix_accepts(self.runtime / "reportd-admin.sock"), 10,
                 "reportd's sockets")

    def _alive(self, p):
        if not p.alive():
            pytest.fail("%s exited with status %s:\n%s" % (
                p.name, p.popen.returncode, p.log()[-4000:]))
        return True

    def logs(self):
        return "\n".join("---- %s ----\n%s" % (p.name, p.log()[-15000:])
                         for p in (self.reportd, self.chaind))

    def stop(self):
        for p in (self.reportd, self.chaind):
            p.stop()

    # ---- reportd

    def query(self, kind, **params):
        ok, text = ipc_request(self.runtime / "reportd-admin.sock",
                               REPORT_QUERY, REPORT_QUERY_REPLY, kind,
                               json.dumps(params))
        answer = json.loads(text)
        assert ok, answer
        return answer

    def records(self, **filters):
        out, after = [], 0
        while True:
            page = self.query("records", after=after, limit=1000, **filters)
            out += page["records"]
            if page["next"] is None:
                return out
            after = page["next"]

    # ---- the chain

    def sensitive_topic(self, entry, publishers, subscribers):
        block = self.chain.topic_add(entry, "--sensitive")
        for k in publishers:
            block = self.chain.grant("pub", entry, k.address)["block"]
        for k in subscribers:
            block = self.chain.grant("sub", entry, k.address)["block"]
        wait_for(lambda: json.loads(ctl_ok(
            ["status", "--json", "--status-socket",
             self.runtime / "status.sock"]).stdout)["synced_block"] >= block,
            10, "chaind to sync")

    # ---- clients

    def connect(self, key, client_id):
        tok = self.ft.token(key, client_id)
        c = self.ft.raw(V5)
        c.send(mqttraw.connect(client_id, V5, 60,
                               props=v5_token_props(tok)))
        assert c.expect(mqttraw.CONNACK).reason == 0
        return c


@pytest.fixture
def world(request, ft, chain):
    made = []

    def make():
        w = World(ft, chain)
        made.append(w)
        request.node._flytrap_systems.append(w)
        return w
    yield make
    for w in made:
        w.stop()


class Client:
    """A raw session that counts what it did, for the record totals."""

    def __init__(self, world, key, client_id):
        self.conn = world.connect(key, client_id)
        self.pid = 0
        self.accesses = 0

    def subscribe(self, flt):
        self.pid += 1
        self.conn.send(mqttraw.subscribe(self.pid, [(flt, 0)]))
        ack = self.conn.expect(mqttraw.SUBACK)
        assert ack.reasons == [0], ack.reasons
        self.accesses += 1

    def publish(self, topic, n=1, payload=b"data"):
        for _ in range(n):
            self.pid += 1
            self.conn.send(mqttraw.publish(topic, payload, 1,
                                           packet_id=self.pid))
            ack = self.conn.expect(mqttraw.PUBACK)
            assert ack.reason in (0, NO_SUBSCRIBERS), ack
            self.accesses += 1

    def deliveries(self, n, timeout=10):
        topics = []
        for _ in range(n):
            p = self.conn.recv(timeout)
            assert p.type == mqttraw.PUBLISH, p
            topics.append(p.topic)
            self.accesses += 1
        return topics


def next_period(margin=0.3):
    """Sleeps until `margin` seconds into the next period; its start."""
    now = time.time()
    start = (int(now) // PERIOD_S + 1) * PERIOD_S
    time.sleep(start + margin - now)
    return start


def wait_summaries(chain, want, timeout=SUMMARY_WAIT_S):
    """Waits until every (name, period start) in want has a SummaryRoot;
    returns (Summary events, SummaryRoot events)."""
    def ready():
        sums, roots = summaries(chain)
        have = {(r["name"], r["start"]) for r in roots}
        return (sums, roots) if set(want) <= have else None
    return wait_for(ready, timeout, "summaries of %s" % sorted(want), 0.5)


def assert_written_once(sums, roots, names):
    """No (topic, period) has two SummaryRoots, no topic two Summaries in
    one transaction's worth: one Summary event per SummaryRoot."""
    mine = [r for r in roots if r["name"] in names]
    keys = [(r["name"], r["start"]) for r in mine]
    assert len(keys) == len(set(keys)), keys
    assert sorted(r["tx"] for r in mine) == sorted(
        s["tx"] for s in sums if s["name"] in names)


def proxyd_totals(ft):
    """proxyd's figures, logged when it stops."""
    ft.proxyd.stop()
    line = [l for l in ft.proxyd.log().splitlines()
            if "accesses of sensitive topics" in l][-1]
    words = line.split("report: ", 1)[1].replace(",", "").split()
    return {"accesses": int(words[0]), "stored": int(words[5]),
            "records": int(words[10]), "dropped": int(words[12]),
            "unsent": int(words[16])}


# ---- Tests --------------------------------------------------------------------


def test_one_summary_per_topic_per_period_and_proofs(ft, chain, world):
    w = world()
    a, b = ft.key(), ft.key()
    w.sensitive_topic("rep1/#", [a], [b])
    pub = Client(w, a, "rep1-pub")
    sub = Client(w, b, "rep1-sub")

    p1 = next_period()
    sub.subscribe("rep1/#")
    pub.publish("rep1/a", 3)
    assert sub.deliveries(3) == ["rep1/a"] * 3
    p2 = next_period()
    pub.publish("rep1/b", 2)
    assert sub.deliveries(2) == ["rep1/b"] * 2

    want = [("rep1/#", p1), ("rep1/a", p1), ("rep1/b", p2)]
    sums, roots = wait_summaries(chain, want)
    time.sleep(2)  # anything written twice would show by now
    sums, roots = summaries(chain)
    names = {"rep1/#", "rep1/a", "rep1/b"}
    assert_written_once(sums, roots, names)
    by_key = {(r["name"], r["start"]): r for r in roots
              if r["name"] in names}
    assert set(by_key) == set(want)
    for (name, start), r in by_key.items():
        assert r["end"] == start + PERIOD_S
    reasons = {s["name"]: reason_roles(s["reason"]) for s in sums
               if s["name"] in names}
    assert reasons["rep1/#"] == ([], [b.address], 1)
    for name in ("rep1/a", "rep1/b"):
        pubs, subs, n = reasons[name]
        assert (pubs, subs) == ([a.address], [b.address]), reasons[name]
        assert n >= 2  # publishes and deliveries are separate records
    assert "done; its transactions" in w.reportd.log()

    # The records at reportd, and their proofs.
    recs = w.records(address=a.address, topic="rep1/a")
    assert sum(r["count"] for r in recs) == 3
    assert all(r["action"] == 1 and r["period"] == p1 for r in recs)
    admin = ["--admin-socket", w.runtime / "reportd-admin.sock"]
    chain_opts = ["--rpc", chain.url, "--contract", chain.contract]
    out = ctl_ok(["audit", "prove", recs[0]["id"]] + admin)
    proof = json.loads(out.stdout)
    assert proof["root"] == by_key[("rep1/a", p1)]["root"]
    assert proof["record"]["address"] == a.address
    good = ft.dir / "proof.json"
    good.write_text(out.stdout)
    r = ctl(["audit", "verify", good] + chain_opts)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("valid: record %d is in the summary of "
                               "'rep1/a'" % recs[0]["id"]), r.stdout
    r = ctl(["audit", "verify", good, "--json"] + chain_opts)
    assert r.returncode == 0 and json.loads(r.stdout)["valid"] is True

    # Altered: one more access than there was.
    altered = json.loads(good.read_text())
    altered["record"]["count"] += 1
    bad = ft.dir / "altered.json"
    bad.write_text(json.dumps(altered))
    r = ctl(["audit", "verify", bad] + chain_opts)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.startswith("invalid:") and "altered" in r.stdout

    # Forged consistently (leaf and root recomputed for a record that
    # never was): the arithmetic holds, the chain knows no such root.
    forged = json.loads(good.read_text())
    forged["record"]["address"] = "0x" + "ee" * 20
    rec = forged["record"]
    text = "%s|%s|%d|%d|%d|%d|%d" % (
        rec["address"], rec["topic"], rec["action"], rec["first_ms"],
        rec["last_ms"], rec["count"], rec["bytes"])
    leaf = subprocess.run(
        ["node", "-e", "const {ethers}=require(%r);console.log(ethers."
         "keccak256(ethers.concat(['0x00',ethers.toUtf8Bytes(%r)])))"
         % (ETHERS, text)], capture_output=True, text=True, check=True,
        timeout=30).stdout.strip()
    forged.update(text=text, leaf=leaf, root=leaf, path=[])
    fake = ft.dir / "forged.json"
    fake.write_text(json.dumps(forged))
    r = ctl(["audit", "verify", fake] + chain_opts)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "no SummaryRoot event" in r.stdout, r.stdout

    # Erasing the subscriber keeps the publisher's proof good (the
    # erased records' leaves stay in the tree).
    assert w.query("erase", address=b.address)["erased"] >= 3
    assert w.records(address=b.address) == []
    out = ctl_ok(["audit", "prove", recs[0]["id"]] + admin)
    assert json.loads(out.stdout)["root"] == proof["root"]
    again = ft.dir / "again.json"
    again.write_text(out.stdout)
    r = ctl(["audit", "verify", again] + chain_opts)
    assert r.returncode == 0, r.stdout + r.stderr

    # A record not summarised yet has no proof.
    pub.publish("rep1/c")
    wait_for(lambda: w.records(topic="rep1/c"), 5, "the new record")
    r = ctl(["audit", "prove", w.records(topic="rep1/c")[0]["id"]] + admin)
    assert r.returncode == 1 and "not been summarised" in r.stderr, r.stderr


def test_crashes_lose_no_record_and_write_no_period_twice(ft, chain, world):
    w = world()
    a, b = ft.key(), ft.key()
    w.sensitive_topic("rep2/#", [a], [b])
    pub = Client(w, a, "rep2-pub")
    sub = Client(w, b, "rep2-sub")

    p1 = next_period()
    sub.subscribe("rep2/#")
    pub.publish("rep2/a", 4)
    sub.deliveries(4)
    wait_for(lambda: w.query("status")["records"] > 0, 5, "a first batch")
    pub.publish("rep2/a", 2)
    # reportd dies in the middle of the period (maybe with a batch in
    # flight); proxyd keeps the records.
    w.reportd.stop(sig=signal.SIGKILL)
    sub.deliveries(2)
    pub.publish("rep2/a", 4, payload=b"while reportd is dead")
    sub.deliveries(4)
    time.sleep(1.5)
    w.reportd_start()
    pub.publish("rep2/a", 4)
    sub.deliveries(4)

    # chaind frozen while reportd submits the period's first summary;
    # reportd dies before the answer; chaind queues the transaction all
    # the same. The restarted reportd submits it again: the same one.
    time.sleep(max(0, p1 + PERIOD_S - time.time() + 0.2))
    w.chaind.send_signal(signal.SIGSTOP)
    try:
        wait_for(lambda: "summary: submitted period %d" % p1
                 in w.reportd.log(), PERIOD_S + GRACE_S + 15,
                 "reportd to submit period %d" % p1)
        w.reportd.stop(sig=signal.SIGKILL)
    finally:
        w.chaind.send_signal(signal.SIGCONT)
    wait_for(lambda: "once:summary:%d:" % p1 in w.chaind.log(), 10,
             "chaind to queue the summary")
    w.reportd_start()

    # The next period: chaind killed in the middle of it, back later.
    pub.publish("rep2/b", 3)
    sub.deliveries(3)
    w.chaind.stop(sig=signal.SIGKILL)
    pub.publish("rep2/b", 2)  # cached permissions still serve
    sub.deliveries(2)
    time.sleep(2)
    w.chaind_start()

    # Every (topic, period) with records gets its summary, whichever
    # period the last accesses fell in on a slow machine.
    time.sleep(1.5)
    want = {(r["topic"], r["period"]) for r in w.records()}
    assert {("rep2/#", p1), ("rep2/a", p1)} <= want
    wait_summaries(chain, want)
    time.sleep(3)
    sums, roots = summaries(chain)
    names = {"rep2/#", "rep2/a", "rep2/b"}
    assert_written_once(sums, roots, names)
    assert "already" in w.chaind.log()  # the resubmission was recognised

    # Every access proxyd saw is at reportd, once.
    expected = pub.accesses + sub.accesses
    totals = proxyd_totals(ft)
    assert totals["accesses"] == expected, totals
    assert totals["stored"] == expected, totals
    assert totals["dropped"] == 0 and totals["unsent"] == 0, totals
    stored = sum(r["count"] for r in w.records(address=a.address)) + \
        sum(r["count"] for r in w.records(address=b.address))
    assert stored == expected
    status = w.query("status")
    assert status["accesses"] == expected
    assert status["late_records"] == 0


def test_reportd_away_proxyd_keeps_and_delivers(ft, chain, world):
    w = world()
    a, b = ft.key(), ft.key()
    w.sensitive_topic("rep3/#", [a], [b])
    pub = Client(w, a, "rep3-pub")
    sub = Client(w, b, "rep3-sub")
    sub.subscribe("rep3/#")
    w.reportd.stop()
    # Spread over seconds: many records, not one.
    for i in range(6):
        pub.publish("rep3/t%d" % (i % 2), 5)
        sub.deliveries(5)
        time.sleep(0.5)
    time.sleep(2)
    w.reportd_start()
    expected = pub.accesses + sub.accesses
    wait_for(lambda: w.query("status")["accesses"] == expected, 15,
             "reportd to get what proxyd kept")
    assert w.query("status")["since_start"]["batches_failed"] == 0
    totals = proxyd_totals(ft)
    assert totals["stored"] == expected and totals["unsent"] == 0, totals
    # Nothing wrote anything else meanwhile.
    assert w.records(topic="rep3/t0")[0]["action"] == 1


def test_wallet_once_purposes_are_idempotent(ft, chain, world):
    w = world()
    sock = w.runtime / "wallet.sock"
    abi = chain.artifact.parent / "FlyTrap.abi"
    script = ("const {ethers}=require(%r);const fs=require('fs');"
              "const i=new ethers.Interface(JSON.parse(fs.readFileSync(%r)));"
              "console.log(i.encodeFunctionData('logSummary', ['once/t', "
              "'pub= sub= records=0', '0x' + '11'.repeat(32), 10, 20]))"
              % (ETHERS, str(abi)))
    data = bytes.fromhex(subprocess.run(
        ["node", "-e", script], check=True, capture_output=True, text=True,
        timeout=30).stdout.strip()[2:])
    key = "once:summary:10:" + "ab" * 32

    def submit(purpose):
        return ipc_request(sock, TX_SUBMIT, TX_SUBMIT_REPLY, purpose,
                           data)[0]
    first = submit(key)
    assert first > 0
    assert submit(key) == first
    wait_for(lambda: "confirmed" in w.chaind.log(), 15, "the tx mined")
    assert submit(key) == first  # done: still the same transaction
    other = submit("plain purpose")
    assert other not in (0, first)
    assert submit("plain purpose") not in (0, first, other)
    wait_for(lambda: len([r for r in summaries(chain)[1]
                          if r["name"] == "once/t"]) == 3, 15,
             "three transactions mined")
