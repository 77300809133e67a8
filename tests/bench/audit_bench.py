#!/usr/bin/env python3
"""Latency of chaind's audit queries over a long chain.

Lets chaind create its database (so the schema is chaind's own), fills it
with a synthetic chain of --events contract events (grants, purchases,
revocations, summaries with their roots, alerts, setting changes, over
--topics entries and --addresses addresses, one block every 12 s), starts
chaind on it (with no node: the queries read only the database), and times
each kind of question through IPC_AUDIT_QUERY on status.sock, as flytrapctl
asks it. Prints p50, p99 and max per query shape, and one BENCH line.

    FLYTRAP_BUILD=build tests/bench/audit_bench.py [--events 100000]
"""
import argparse
import os
import random
import signal
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import json
from pathlib import Path

import msgpack

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import fakechaind  # noqa: E402  (IPC_VERSION and message types)

TYPES = fakechaind.TYPES
ZERO = "0x" + "00" * 20
START_TIME = 1_700_000_000
BLOCK_S = 12
PERIOD_S = 1800


def addr(i):
    return "0x%040x" % (0xA0000 + i)


class Status:
    """One connection to chaind's status socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(str(path))
        self.rid = 0

    def _recv(self, n):
        got = b""
        while len(got) < n:
            part = self.sock.recv(n - len(got))
            if not part:
                raise ConnectionError("chaind closed the connection")
            got += part
        return got

    def query(self, kind, params):
        self.rid += 1
        body = b"".join(msgpack.packb(x) for x in [
            fakechaind.IPC_VERSION, TYPES["IPC_AUDIT_QUERY"], self.rid,
            kind, json.dumps(params)])
        self.sock.sendall(struct.pack(">I", len(body)) + body)
        n = struct.unpack(">I", self._recv(4))[0]
        u = msgpack.Unpacker(raw=False)
        u.feed(self._recv(n))
        _, typ, rid, ok, text = list(u)
        assert typ == TYPES["IPC_AUDIT_QUERY_REPLY"] and rid == self.rid
        answer = json.loads(text)
        if not ok:
            raise RuntimeError("%s %r: %s" % (kind, params, answer["error"]))
        return answer


def start_chaind(build, tmp, db):
    runtime = tmp / "run"
    runtime.mkdir(exist_ok=True)
    conf = tmp / "flytrap.conf"
    conf.write_text(
        "[global]\nrealm = bench\nruntime_dir = %s\n"
        "[chaind]\nrpc_url = http://127.0.0.1:9\ncontract = 0x%s\n"
        "database = %s\npoll_interval_ms = 60000\nhttp_listen =\n"
        % (runtime, "42" * 20, db))
    log = open(tmp / "chaind.log", "ab")
    p = subprocess.Popen([str(build / "bin" / "chaind"), "-c", str(conf),
                          "-d"], stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    sock = runtime / "status.sock"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if p.poll() is not None:
            sys.exit("chaind exited: see %s" % (tmp / "chaind.log"))
        try:
            return p, Status(sock)
        except OSError:
            time.sleep(0.05)
    p.kill()
    sys.exit("chaind did not open its status socket")


def stop_chaind(p):
    os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(5)


def fill(db, n_events, n_topics, n_addresses, rng):
    """A synthetic chain in chain order (ids and times grow together)."""
    con = sqlite3.connect(str(db))
    topics = ["bench/site%d/#" % i if i % 3 == 0 else
              "bench/site%d/line%d" % (i // 3, i % 3) for i in range(n_topics)]
    owner = addr(n_addresses + 1)
    events, roots, expiry = [], [], []
    block, t, eid = 1, START_TIME, 0

    def emit(action, source, target, name, reason, log_index=0):
        nonlocal eid
        eid += 1
        events.append((eid, block, log_index, "0x%064x" % eid, t, action,
                       source, target, name, reason))
        return eid

    for name in topics:
        emit(0, owner, owner, name, "")
        block += 1
        t += BLOCK_S
    next_summary = START_TIME + PERIOD_S
    while eid < n_events:
        r = rng.random()
        name = rng.choice(topics)
        who = addr(rng.randrange(n_addresses))
        if t >= next_summary:
            # A period's summaries: Summary, then SummaryRoot in the tx.
            for name in rng.sample(topics, min(8, len(topics))):
                pubs = sorted(addr(rng.randrange(n_addresses))
                              for _ in range(3))
                subs = sorted(addr(rng.randrange(n_addresses))
                              for _ in range(5))
                sid = emit(7, owner, ZERO, name, "pub=%s sub=%s records=%d"
                           % (",".join(pubs), ",".join(subs),
                              rng.randrange(1, 500)))
                roots.append((block, 1, "0x%064x" % sid, sid,
                              "0x%064x" % rng.getrandbits(256), name,
                              next_summary - PERIOD_S, next_summary))
                block += 1
            next_summary += PERIOD_S
        elif r < 0.45:
            paid = rng.random() < 0.3
            gid = emit(rng.choice((1, 2)), who if paid else owner, who, name,
                       "paid:%d" % rng.randrange(1, 10**6) if paid
                       else "granted by hand")
            expiry.append((gid, (t + 86400 * 30) if paid else -1))
        elif r < 0.6:
            emit(rng.choice((3, 4)), owner, who, name, "revoked")
        elif r < 0.75:
            emit(6, owner, who if rng.random() < 0.5 else ZERO,
                 "ip-hmac:%064x" % rng.getrandbits(256),
                 "until=%d 3 failed logins" % (t + 300))
        elif r < 0.85:
            emit(5, owner, who, name, "country=US ip-hmac:%064x publish"
                 % rng.getrandbits(256))
        else:
            emit(8, owner, owner, name, "prices")
        block += 1
        t += BLOCK_S
    con.executemany("INSERT INTO events(rowid, block, log_index, tx_hash, "
                    "time, action, source, target, name, reason) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?)", events)
    con.executemany("INSERT INTO summary_roots(block, log_index, tx_hash, "
                    "event_id, root, name, period_start, period_end) "
                    "VALUES(?,?,?,?,?,?,?,?)", roots)
    con.executemany("INSERT INTO grant_expiry(event_id, expiry) "
                    "VALUES(?, ?)", expiry)
    con.executemany("INSERT INTO topics(name, block) VALUES(?, ?)",
                    [(n, i + 1) for i, n in enumerate(topics)])
    con.executemany("INSERT INTO topic_details(name, stale, present, "
                    "sensitive, self_service, pub_price, sub_price, period, "
                    "countries, block) VALUES(?, 0, 1, 1, 1, '0', '0', 0, "
                    "'', 1)", [(n,) for n in topics])
    con.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
                    [("synced", block), ("synced_time", t),
                     ("summary_span", PERIOD_S)])
    con.commit()
    con.close()
    return topics, t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--topics", type=int, default=300)
    ap.add_argument("--addresses", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    build = Path(os.environ.get("FLYTRAP_BUILD", "build"))
    build = build if build.is_absolute() else REPO / build
    rng = random.Random(args.seed)

    with tempfile.TemporaryDirectory(prefix="flytrap-audit-bench-") as d:
        tmp = Path(d)
        db = tmp / "chaind.db"
        p, st = start_chaind(build, tmp, db)  # creates the schema
        st.sock.close()
        stop_chaind(p)
        t0 = time.monotonic()
        topics, end = fill(db, args.events, args.topics, args.addresses, rng)
        print("filled %d events in %.1f s (chain of %.1f days)"
              % (args.events, time.monotonic() - t0,
                 (end - START_TIME) / 86400))
        p, st = start_chaind(build, tmp, db)
        try:
            assert st.query("status", {})["events"] >= args.events
            span = end - START_TIME

            def some_time():
                return START_TIME + rng.randrange(span)

            def some_topic():
                return rng.choice(topics)

            def some_address():
                return addr(rng.randrange(args.addresses))

            def concrete(entry):
                return entry.replace("#", "x/y")

            mid = st.query("events", {"from": START_TIME + span // 2,
                                      "limit": 1})["events"][0]["id"]
            shapes = [
                ("events, 1 h time range", "events",
                 lambda: (lambda f: {"from": f, "to": f + 3600})(
                     some_time())),
                ("events, 1 day, by action", "events",
                 lambda: (lambda f: {"from": f, "to": f + 86400,
                                     "action": "AddPub,AddSub"})(
                     some_time())),
                ("events by topic", "events",
                 lambda: {"topic": some_topic()}),
                ("events by topic, 1 day", "events",
                 lambda: (lambda f: {"topic": some_topic(), "from": f,
                                     "to": f + 86400})(some_time())),
                ("events by address", "events",
                 lambda: {"address": some_address()}),
                ("events by address + topic", "events",
                 lambda: {"address": some_address(), "topic": some_topic()}),
                ("events, deep page (after)", "events",
                 lambda: {"after": mid + rng.randrange(1000)}),
                ("holders at a time", "holders",
                 lambda: {"topic": some_topic(), "at": some_time()}),
                ("holders now", "holders", lambda: {"topic": some_topic()}),
                ("why address + topic", "why",
                 lambda: {"address": some_address(),
                          "topic": concrete(some_topic())}),
                ("summaries by topic", "summaries",
                 lambda: {"topic": some_topic()}),
                ("who, 1 day", "who",
                 lambda: (lambda f: {"topic": some_topic(), "from": f,
                                     "to": f + 86400})(some_time())),
                ("alerts, 1 day", "alerts",
                 lambda: (lambda f: {"from": f, "to": f + 86400})(
                     some_time())),
                ("topics (first page)", "topics", lambda: {}),
                ("status", "status", lambda: {}),
            ]
            print("%-30s %9s %9s %9s %7s" % ("query (limit 100)", "p50 ms",
                                              "p99 ms", "max ms", "items"))
            worst = 0.0
            for label, kind, make in shapes:
                times, items = [], []
                for _ in range(args.runs):
                    params = make()
                    t1 = time.perf_counter()
                    a = st.query(kind, params)
                    times.append((time.perf_counter() - t1) * 1000)
                    lists = [v for v in a.values() if isinstance(v, list)]
                    items.append(len(lists[0]) if lists else 1)
                times.sort()
                p50 = statistics.median(times)
                p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
                worst = max(worst, p99)
                print("%-30s %9.2f %9.2f %9.2f %7.0f" % (
                    label, p50, p99, times[-1], statistics.mean(items)))
            print("BENCH audit events=%d worst_p99_ms=%.2f" % (
                args.events, worst))
        finally:
            st.sock.close()
            stop_chaind(p)


if __name__ == "__main__":
    main()
