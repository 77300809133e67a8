"""Bans (docs/IPC.md, "Bans, countries and alerts"), with real daemons.

authd alone, spoken to as proxyd and flytrapctl speak to it: manual bans
through `flytrapctl ban/unban/bans/authd-status`, precise answers to bad
subjects, the bans file across restarts (and a corrupt one), connection
checks with the attempt rate and countries (a GeoIP database reloaded on
SIGHUP), strikes that ban IPs and addresses, ban notices, alerts to chaind,
bans learnt from the chain, and authd without chaind.

Then end to end through proxyd and a real Mosquitto: three refused
credentials earn a ban (CONNACK 0x8A / 5) that costs authd no signature
check, ends by itself, and is not earned when a success comes between;
manual range bans refuse new connections and close live sessions; a key
that keeps asking for what it may not have is banned wherever it is.

Every client is on loopback: a test that bans an IP connects from its own
127.0.x.y source address, so no ban falls on another client.
"""

import hashlib
import hmac
import json
import os
import signal
import socket
import stat
import struct
import sys
import time

import msgpack
import pytest

import fakechaind
import mqttraw
from conftest import BIN, REPO, Proc, run, wait_for
from test_02_refused import flip, timed_connect

sys.path.insert(0, str(REPO / "tests" / "tools"))
import mmdbwrite  # noqa: E402

V5, V311 = mqttraw.V5, mqttraw.V311
BANNED = {V5: 0x8A, V311: 5}
BAD_CREDENTIALS = {V5: 0x86, V311: 4}
NOT_AUTHORIZED = 0x87

IPC_VERSION = fakechaind.IPC_VERSION
TYPES = fakechaind.TYPES
PUBLISH, SUBSCRIBE = fakechaind.PUBLISH, fakechaind.SUBSCRIBE

# enum auth_result, enum conn_verdict, enum alert_action (common/auth.h).
AUTH_OK, AUTH_BAD_SIGNATURE, AUTH_BANNED = 0, 2, 8
CONN_OK, CONN_BANNED, CONN_DROP = 0, 1, 2
ALERT_WRONG_COUNTRY, ALERT_BANNED = 5, 6

IP_KEY = b"flytrap test key for the IP hashes, 40 b"


def ip_hash(ip, key=IP_KEY):
    return "ip-hmac:" + hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()


# ---- flytrapctl -------------------------------------------------------------


def ctl(ft, *args, env=None):
    """flytrapctl with authd's admin socket in the environment."""
    e = dict(os.environ)
    e.pop("FLYTRAP_CONFIG", None)
    e["FLYTRAP_AUTHD_ADMIN_SOCKET"] = str(ft.runtime_dir / "authd-admin.sock")
    e.update(env or {})
    return run([str(BIN / "flytrapctl")] + [str(a) for a in args],
               check=False, env=e)


def ctl_ok(ft, *args):
    r = ctl(ft, *args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def ban_list(ft):
    return json.loads(ctl_ok(ft, "bans", "--json"))


def status(ft):
    return json.loads(ctl_ok(ft, "authd-status"))


# ---- authd.sock, spoken as proxyd speaks it ----------------------------------


class AuthdIPC:
    """A client of authd.sock: requests by type name and fields, replies
    as (type name, fields); pushes (id 0) are kept in `pushes`."""

    NAMES = {v: k for k, v in TYPES.items()}

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(str(path))
        self.buf = b""
        self.next_id = 1
        self.pushes = []

    def close(self):
        self.sock.close()

    def _frame(self, timeout):
        self.sock.settimeout(timeout)
        while len(self.buf) < 4 or len(self.buf) < 4 + struct.unpack_from(
                "!I", self.buf)[0]:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("authd closed the connection")
            self.buf += data
        (n,) = struct.unpack_from("!I", self.buf)
        body, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        u = msgpack.Unpacker(raw=False)
        u.feed(body)
        objs = list(u)
        assert objs[0] == IPC_VERSION, objs
        return self.NAMES[objs[1]], objs[2], objs[3:]

    def request(self, name, *fields):
        rid = self.next_id
        self.next_id += 1
        body = b"".join(msgpack.packb(o, use_bin_type=True)
                        for o in [IPC_VERSION, TYPES[name], rid] + list(
                            fields))
        self.sock.sendall(struct.pack("!I", len(body)) + body)
        while True:
            mtype, mid, rest = self._frame(5)
            if mid == 0:
                self.pushes.append((mtype, rest))
                continue
            assert mid == rid, (mid, rid)
            return mtype, rest

    def wait_push(self, subject, timeout=5.0):
        """Waits for IPC_BAN_NOTICE(subject)."""
        deadline = time.monotonic() + timeout
        while ("IPC_BAN_NOTICE", [subject]) not in self.pushes:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail("no IPC_BAN_NOTICE %s; pushes %r" % (
                    subject, self.pushes))
            try:
                mtype, mid, rest = self._frame(left)
            except socket.timeout:
                continue
            assert mid == 0, "unexpected reply %s" % mtype
            self.pushes.append((mtype, rest))

    def conn_check(self, ip):
        mtype, fields = self.request("IPC_CONN_CHECK", ip)
        assert mtype == "IPC_CONN_CHECK_REPLY"
        return tuple(fields)

    def strike(self, ip, address="", action=PUBLISH, topic="t",
               wrong_country=False, country=""):
        mtype, fields = self.request("IPC_STRIKE", ip, address, action,
                                     topic, wrong_country, country)
        assert (mtype, fields) == ("IPC_STRIKE_REPLY", [])

    def token(self, ip, tok, client_id, address, good=True):
        """IPC_AUTH_TOKEN as v3.1.1 credentials; (verdict, address)."""
        sig = tok["signature"] if good else flip(tok["signature"], 7)
        password = ("%s:%s" % (tok["time"], sig)).encode()
        mtype, fields = self.request("IPC_AUTH_TOKEN", ip, client_id, True,
                                     address, True, password, "", "", "")
        assert mtype == "IPC_AUTH_TOKEN_REPLY"
        return tuple(fields)


def authd_only(ft, chaind=True, chaind_class=None, **authd):
    """A fake chaind (unless chaind=False) and authd; no broker or proxyd.
    The IP hash key is IP_KEY."""
    key = ft.dir / "ip.key"
    key.write_bytes(IP_KEY)
    key.chmod(0o600)
    opts = {"ip_hash_key_file": str(key)}
    opts.update({k: str(v) for k, v in authd.items()})
    if chaind:
        cls = chaind_class or fakechaind.FakeChaind
        ft.chaind = cls(ft.runtime_dir, default=fakechaind.ALLOW).start()
        ft.fakes.append(ft.chaind)
    ft.write_config(authd=opts)
    ft.authd_start()
    ipc = AuthdIPC(ft.authd_sock)
    ft.request.addfinalizer(ipc.close)
    return ipc


def alerts(ft, n, timeout=5.0):
    """The first n alerts the fake chaind got (waits for them)."""
    wait_for(lambda: len(ft.chaind.alerts) >= n, timeout,
             "%d alerts at chaind" % n)
    return ft.chaind.alerts[:n]


# ---- Manual bans through flytrapctl -------------------------------------------


def test_manual_bans_listed_lifted_and_alerted(ft):
    authd_only(ft)
    t0 = time.time()
    out = ctl_ok(ft, "ban", "192.0.2.1", "--for", "1h", "--reason",
                 "port scan")
    assert out.startswith("banned 192.0.2.1 until 20"), out
    assert "until lifted" in ctl_ok(ft, "ban", "198.51.100.0/24")
    addr = "0xAB" + "00" * 19
    ctl_ok(ft, "ban", addr, "--for", "90s", "--reason", "stolen key")

    bans = {b["subject"]: b for b in ban_list(ft)}
    assert set(bans) == {"192.0.2.1", "198.51.100.0/24", addr.lower()}
    ip = bans["192.0.2.1"]
    assert (ip["kind"], ip["origin"], ip["reason"], ip["bans"]) == (
        "ip", "manual", "port scan", 1)
    assert abs(ip["until"] - (t0 + 3600)) < 5
    assert abs(ip["since"] - t0) < 5
    rng = bans["198.51.100.0/24"]
    assert (rng["kind"], rng["until"], rng["reason"]) == (
        "range", 0, "banned by the operator")
    assert bans[addr.lower()]["kind"] == "address"

    table = ctl_ok(ft, "bans")
    assert table.splitlines()[0].split() == [
        "SUBJECT", "KIND", "ORIGIN", "UNTIL", "REASON"]
    assert "until lifted" in table and "port scan" in table

    # Each went to chaind as a Banned alert: the IP in clear and hashed.
    got = {a[3]: a for a in alerts(ft, 3)}
    assert got["192.0.2.1"] == [ALERT_BANNED, "192.0.2.1",
                                ip_hash("192.0.2.1"), "192.0.2.1", "",
                                "port scan", ip["until"]]
    assert got["198.51.100.0/24"][:6] == [
        ALERT_BANNED, "", "", "198.51.100.0/24", "",
        "banned by the operator"]
    assert got["198.51.100.0/24"][6] == 0
    assert got[addr.lower()][4] == addr.lower()

    # Lifting: exactly the subject; an IP inside a range says so.
    assert ctl_ok(ft, "unban", "192.0.2.1").strip() == \
        "lifted the ban of 192.0.2.1"
    r = ctl(ft, "unban", "192.0.2.1")
    assert r.returncode == 1 and "192.0.2.1 is not banned" in r.stderr
    r = ctl(ft, "unban", "198.51.100.7")
    assert r.returncode == 1
    assert "banned by 198.51.100.0/24" in r.stderr, r.stderr

    st = status(ft)
    assert st["bans"] == {"auto": 0, "manual": 2, "chain": 0}
    assert st["bans_started"] == 3
    assert st["alerts_sent"] == 3 and st["alerts_unsent"] == 0
    assert st["alert_outcomes"]["queued"] == 3


@pytest.mark.parametrize("subject,message", [
    ("10.1.2.3/8", "has host bits set: the range containing it is "
     "10.0.0.0/8"),
    ("10.0.0.0/40", "the prefix length must be a number from 0 to 32"),
    ("0x1234", "is not an address: 0x and 40 hex digits"),
    ("example.com", "is neither an IP address, a CIDR range"),
    ("ip-hmac:" + "ab" * 32, "only comes from other nodes' alerts"),
])
def test_bad_subject_answered_clearly(ft, subject, message):
    authd_only(ft)
    r = ctl(ft, "ban", subject)
    assert r.returncode == 1, r
    assert r.stderr.startswith("flytrapctl: ban: "), r.stderr
    assert message in r.stderr, r.stderr
    assert ban_list(ft) == []


def test_ban_usage_errors(ft):
    authd_only(ft)
    for args in (["ban"], ["ban", "192.0.2.1", "--for", "5x"],
                 ["ban", "192.0.2.1", "--for", "0"],
                 ["ban", "192.0.2.1", "192.0.2.2"], ["unban"],
                 ["bans", "extra"], ["bans", "--nope"]):
        r = ctl(ft, *args)
        assert r.returncode == 2, (args, r.stderr)
    assert ban_list(ft) == []
    r = ctl(ft, "ban", "--help")
    assert r.returncode == 0 and "--for DURATION" in r.stdout


def test_flytrapctl_without_authd(ft):
    ft.write_config()
    r = ctl(ft, "bans")
    assert r.returncode == 1
    assert "cannot connect to authd's admin socket" in r.stderr
    assert "is authd running?" in r.stderr
    # Without the variable: <runtime_dir>/authd-admin.sock of --config.
    env = dict(os.environ)
    env.pop("FLYTRAP_AUTHD_ADMIN_SOCKET", None)
    env.pop("FLYTRAP_CONFIG", None)
    r = run([str(BIN / "flytrapctl"), "authd-status", "--config",
             str(ft.config_path)], check=False, env=env)
    assert r.returncode == 1
    assert str(ft.runtime_dir / "authd-admin.sock") in r.stderr
    r = run([str(BIN / "flytrapctl"), "bans", "--config",
             str(ft.dir / "missing.conf")], check=False, env=env)
    assert r.returncode == 1 and "missing.conf" in r.stderr
    # And once authd runs, the same --config finds it.
    ft.authd_start()
    r = run([str(BIN / "flytrapctl"), "authd-status", "--config",
             str(ft.config_path)], check=False, env=env)
    assert r.returncode == 0, r.stderr
    assert "signature_checks" in json.loads(r.stdout)


def test_authd_runs_without_chaind(ft):
    authd_only(ft, chaind=False)
    ctl_ok(ft, "ban", "192.0.2.77")
    st = status(ft)
    assert st["chaind_connected"] is False
    assert st["alerts_unsent"] == 1 and st["alerts_sent"] == 0
    assert "alert Banned about 192.0.2.77 not sent" in ft.authd.log()


# ---- The bans file ---------------------------------------------------------------


def test_bans_survive_a_restart(ft):
    ipc = authd_only(ft, ban_threshold=3)
    ctl_ok(ft, "ban", "192.0.2.9", "--for", "1h", "--reason", "kept")
    ctl_ok(ft, "ban", "192.0.2.10", "--for", "1s")
    ctl_ok(ft, "ban", "2001:db8::/32")
    for _ in range(3):
        ipc.strike("192.0.2.20")
    ipc.wait_push("192.0.2.20")
    before = {b["subject"]: b for b in ban_list(ft)}
    assert before["192.0.2.20"]["origin"] == "auto"
    assert before["192.0.2.20"]["reason"] == "3 failures: denied publish"

    path = ft.dir / "bans.json"
    wait_for(lambda: path.exists() and "192.0.2.20" in path.read_text(),
             3, "the automatic ban in the bans file")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved["version"] == 1 and len(saved["bans"]) == 4

    time.sleep(1.2)  # 192.0.2.10's ban is over
    ipc.close()
    ft.authd.stop()
    ft.authd_start()
    after = {b["subject"]: b for b in ban_list(ft)}
    assert set(after) == {"192.0.2.9", "2001:db8::/32", "192.0.2.20"}
    for s in after:
        assert after[s] == before[s]
    assert "3 bans in force" in ft.authd.log()
    # Enforced, and no new alerts for what was only loaded.
    ipc = AuthdIPC(ft.authd_sock)
    assert ipc.conn_check("192.0.2.9")[0] == CONN_BANNED
    assert ipc.conn_check("2001:db8:1::5")[0] == CONN_BANNED
    ipc.close()
    assert status(ft)["bans_started"] == 0


@pytest.mark.parametrize("content,message", [
    ("{\"version\": 1, \"bans\": [", "not valid JSON"),
    ("{\"version\": 1, \"bans\": [{\"subject\": \"10.1.2.3/8\", \"origin\":"
     " \"manual\", \"reason\": \"\", \"since\": 0, \"until\": 0,"
     " \"bans\": 1}]}", "has host bits set"),
])
def test_corrupt_bans_file_stops_authd(ft, content, message):
    path = ft.dir / "bans.json"
    path.write_text(content)
    ft.write_config()
    ft.authd = Proc("authd", [BIN / "authd", "-c", ft.config_path],
                    ft.dir / "authd.log").start()
    ft.authd.expected_exit = True
    assert ft.authd.popen.wait(5) == 1
    log = ft.authd.log()
    assert "bans file %s" % path in log and message in log, log


# ---- Connection checks and countries -------------------------------------------


def write_geoip(path, cc):
    mmdbwrite.write_database(str(path), [("8.8.8.0/24", cc)],
                             description="FlyTrap test %s" % cc)


def test_connection_checks_rate_and_countries(ft):
    db = ft.dir / "geo.mmdb"
    write_geoip(db, "DE")
    ipc = authd_only(ft, geoip_database=db, connect_rate=1, connect_burst=2)
    assert ipc.conn_check("8.8.8.8") == (CONN_OK, 0, "DE")
    assert ipc.conn_check("8.8.8.8") == (CONN_OK, 0, "DE")
    # Over the rate: dropped, whatever else.
    assert ipc.conn_check("8.8.8.8") == (CONN_DROP, 0, "")
    assert ipc.conn_check("127.0.0.1") == (CONN_OK, 0, "")
    assert ipc.conn_check("9.9.9.9") == (CONN_OK, 0, "")
    ctl_ok(ft, "ban", "203.0.113.0/24", "--for", "60")
    verdict, until, cc = ipc.conn_check("203.0.113.5")
    assert (verdict, cc) == (CONN_BANNED, "")
    assert abs(until - (time.time() + 60)) < 5

    # SIGHUP: a new database is taken, a broken one is not.
    write_geoip(db, "FR")
    ft.authd.send_signal(signal.SIGHUP)
    n = iter(range(10, 250))
    wait_for(lambda: ipc.conn_check("8.8.8.%d" % next(n))[2] == "FR", 5,
             "the reloaded GeoIP database", 0.1)
    # (Replaced by a rename, as installs do: authd maps the file it uses.)
    broken = ft.dir / "broken.mmdb"
    broken.write_bytes(b"not a database at all")
    os.replace(broken, db)
    ft.authd.send_signal(signal.SIGHUP)
    wait_for(lambda: "GeoIP database not reloaded" in ft.authd.log(), 5,
             "the failed reload in the log")
    assert ipc.conn_check("8.8.8.200")[2] == "FR"

    st = status(ft)
    assert st["geoip"] is not None and "built" in st["geoip"]
    assert st["conn_checks"] >= 7
    assert st["conn_dropped"] == 1 and st["conn_banned"] == 1


def test_geoip_database_missing_or_broken(ft):
    ipc = authd_only(ft, geoip_database=ft.dir / "absent.mmdb")
    assert "does not exist" in ft.authd.log()
    assert status(ft)["geoip"] is None
    assert ipc.conn_check("8.8.8.8") == (CONN_OK, 0, "")
    ipc.close()
    ft.authd.stop()

    broken = ft.dir / "broken.mmdb"
    broken.write_bytes(b"\0" * 100)
    ft.write_config(authd={"geoip_database": str(broken)})
    ft.authd = Proc("authd", [BIN / "authd", "-c", ft.config_path],
                    ft.dir / "authd2.log").start()
    ft.authd.expected_exit = True
    assert ft.authd.popen.wait(5) == 1
    assert str(broken) in ft.authd.log()


# ---- Failures, strikes, notices, alerts ------------------------------------------


def test_banned_ip_costs_no_signature_check(ft):
    ipc = authd_only(ft, ban_threshold=3)
    k = ft.key()
    ip = "192.0.2.60"
    for i in range(3):
        cid = "bad%d" % i
        assert ipc.token(ip, ft.token(k, cid), cid, k.address,
                         good=False) == (AUTH_BAD_SIGNATURE, "")
    ipc.wait_push(ip)
    checks = status(ft)["signature_checks"]
    assert checks >= 3
    assert ipc.token(ip, ft.token(k, "good"), "good", k.address) == (
        AUTH_BANNED, "")
    mtype, fields = ipc.request("IPC_AUTH_CHALLENGE", ip, "chal")
    assert (mtype, fields) == ("IPC_AUTH_CHALLENGE_REPLY",
                               [AUTH_BANNED, b""])
    st = status(ft)
    assert st["signature_checks"] == checks
    assert st["refused"]["banned"] == 2
    assert st["refused"]["bad-signature"] == 3
    # Another IP, the same key: welcome.
    assert ipc.token("192.0.2.61", ft.token(k, "other"), "other",
                     k.address) == (AUTH_OK, k.address.lower())
    # The alert: the IP in clear and hashed, why, until.
    (a,) = alerts(ft, 1)
    assert a[:5] == [ALERT_BANNED, ip, ip_hash(ip), ip, ""]
    assert a[5] == "3 failures: bad-signature"


def test_success_starts_the_count_over(ft):
    ipc = authd_only(ft, ban_threshold=3)
    k = ft.key()
    ip = "192.0.2.62"
    seq = [False, False, True, False, False]
    for i, good in enumerate(seq):
        cid = "c%d" % i
        verdict, _ = ipc.token(ip, ft.token(k, cid), cid, k.address, good)
        assert verdict == (AUTH_OK if good else AUTH_BAD_SIGNATURE)
    assert ipc.conn_check(ip)[0] == CONN_OK
    assert ban_list(ft) == []
    # One more makes three in a row.
    assert ipc.token(ip, ft.token(k, "c9"), "c9", k.address,
                     False)[0] == AUTH_BAD_SIGNATURE
    assert ipc.conn_check(ip)[0] == CONN_BANNED


def test_strikes_ban_ips_and_addresses(ft):
    ipc = authd_only(ft, ban_threshold=3, address_ban_threshold=2)
    k = ft.key()
    addr = k.address.lower()
    ipc.strike("192.0.2.30", addr, PUBLISH, "secret/a")
    assert ban_list(ft) == []
    # The same key from elsewhere: the address is what counts.
    ipc.strike("192.0.2.31", addr, SUBSCRIBE, "secret/#")
    ipc.wait_push(addr)
    (ban,) = ban_list(ft)
    assert (ban["subject"], ban["kind"], ban["origin"]) == (
        addr, "address", "auto")
    assert ban["reason"] == "2 denials: denied publish, denied subscribe"
    (a,) = alerts(ft, 1)
    assert a[:6] == [ALERT_BANNED, "192.0.2.31", ip_hash("192.0.2.31"),
                     addr, addr, ban["reason"]]
    assert a[6] == ban["until"]
    # It authenticates (one signature check) and is refused as banned.
    checks = status(ft)["signature_checks"]
    assert ipc.token("192.0.2.40", ft.token(k, "x"), "x", addr) == (
        AUTH_BANNED, "")
    assert status(ft)["signature_checks"] == checks + 1
    # Strikes before authentication count toward the IP only.
    for _ in range(3):
        ipc.strike("192.0.2.50")
    ipc.wait_push("192.0.2.50")
    assert ipc.conn_check("192.0.2.50")[0] == CONN_BANNED
    assert ipc.conn_check("192.0.2.30")[0] == CONN_OK
    st = status(ft)
    assert st["strikes"] == 5
    assert st["bans"]["auto"] == 2


def test_wrong_country_alert_once_an_hour(ft):
    ipc = authd_only(ft)
    k = ft.key()
    addr = k.address.lower()
    ipc.strike("8.8.8.8", addr, PUBLISH, "eu/only", True, "US")
    (a,) = alerts(ft, 1)
    assert a == [ALERT_WRONG_COUNTRY, "8.8.8.8", ip_hash("8.8.8.8"),
                 "eu/only", addr, "country=US publish", 0]
    ipc.strike("8.8.8.8", addr, PUBLISH, "eu/only", True, "US")
    ipc.strike("8.8.8.8", addr, SUBSCRIBE, "eu/#", True, "")
    alerts(ft, 2)
    time.sleep(0.3)
    assert len(ft.chaind.alerts) == 2
    assert ft.chaind.alerts[1][3:6] == ["eu/#", addr,
                                        "country=unknown subscribe"]


class ChainWithBans(fakechaind.FakeChaind):
    """The fake chaind, answering IPC_BAN_SYNC with `bans` once (cursor 0
    to len(bans))."""

    bans = []

    def _handle(self, conn, body):
        u = msgpack.Unpacker(raw=False)
        u.feed(body)
        objs = list(u)
        if objs[1] != fakechaind.BAN_SYNC:
            return super()._handle(conn, body)
        with self.cond:
            self.ban_syncs += 1
        items = self.bans if objs[3] == 0 else []
        reply = [IPC_VERSION, fakechaind.BAN_SYNC_REPLY, objs[2],
                 len(self.bans), len(items)]
        for it in items:
            reply += list(it)
        self._send(conn, reply)


def test_bans_from_the_chain(ft):
    now = int(time.time())
    reporter = "0x" + "11" * 20
    ChainWithBans.bans = [
        (ip_hash("192.0.2.70"), now + 60, "3 failures: bad-signature",
         reporter),
        ("198.51.100.0/25", now + 60, "by hand", reporter),
        ("0x" + "22" * 20, now + 60, "2 denials", reporter),
        ("192.0.2.71", now - 10, "over", reporter),
        ("not a subject", now + 60, "?", reporter),
    ]
    ipc = authd_only(ft, chaind_class=ChainWithBans)
    wait_for(lambda: len(ban_list(ft)) == 3, 5, "three chain bans")
    bans = {b["subject"]: b for b in ban_list(ft)}
    h = bans[ip_hash("192.0.2.70")]
    assert (h["kind"], h["origin"], h["until"]) == ("ip-hmac", "chain",
                                                    now + 60)
    assert h["reason"] == "3 failures: bad-signature (reported by %s)" % (
        reporter)
    assert bans["198.51.100.0/25"]["kind"] == "range"
    assert ipc.conn_check("192.0.2.70")[0] == CONN_BANNED
    assert ipc.conn_check("198.51.100.100")[0] == CONN_BANNED
    assert ipc.conn_check("198.51.100.200")[0] == CONN_OK
    assert ipc.conn_check("192.0.2.71")[0] == CONN_OK
    st = status(ft)
    assert st["bans"]["chain"] == 3 and st["chain_sync_cursor"] == 5
    # Not ours to alert about again; and not saved.
    time.sleep(0.3)
    assert ft.chaind.alerts == []
    assert "chain ban ignored" in ft.authd.log()


def test_chain_bans_off(ft):
    authd_only(ft, chain_bans="false")
    time.sleep(2.2)
    assert ft.chaind.ban_syncs == 0
    assert status(ft)["chain_bans"] is False


# ---- End to end through proxyd and Mosquitto --------------------------------------

_ids = iter(range(1000000))


def connect(ft, key, source, version=V5, good=True):
    """A raw connection from `source` with a fresh timed token (a flipped
    signature digit unless good); returns (conn, CONNACK reason)."""
    cid = "ban-test-%d" % next(_ids)
    tok = ft.token(key, cid)
    sig = tok["signature"] if good else flip(tok["signature"], 7)
    c = ft.raw(version, source=source)
    c.send(timed_connect(version, cid, sig, tok["time"],
                         with_username=True, address=key.address))
    return c, c.expect(mqttraw.CONNACK).reason


VERSIONS = pytest.mark.parametrize("version", [V5, V311],
                                   ids=["v5", "v311"])


@VERSIONS
def test_three_bad_tokens_then_banned(ft, version):
    ft.start(authd={"ban_threshold": "3", "ban_duration_s": "300"})
    k = ft.key()
    src = "127.0.%d.2" % version
    for _ in range(3):
        c, reason = connect(ft, k, src, version, good=False)
        assert reason == BAD_CREDENTIALS[version]
        c.close()
    wait_for(lambda: status(ft)["bans"]["auto"] == 1, 5, "the ban")
    checks = status(ft)["signature_checks"]
    c, reason = connect(ft, k, src, version)
    assert reason == BANNED[version]
    assert c.closed_within(3)
    st = status(ft)
    assert st["signature_checks"] == checks
    assert st["conn_banned"] >= 1
    # Elsewhere, the same key is welcome.
    c, reason = connect(ft, k, "127.0.0.1", version)
    assert reason == 0


def test_ban_ends_by_itself(ft):
    ft.start(authd={"ban_threshold": "3", "ban_duration_s": "2"})
    k = ft.key()
    src = "127.0.1.2"
    for _ in range(3):
        connect(ft, k, src, good=False)[0].close()
    c, reason = connect(ft, k, src)
    assert reason == BANNED[V5]
    c.close()
    t0 = time.monotonic()

    def welcome():
        c, reason = connect(ft, k, src)
        c.close()
        return reason == 0
    wait_for(welcome, 6, "the ban to end", 0.3)
    assert time.monotonic() - t0 > 1
    wait_for(lambda: "ban of 127.0.1.2 ended" in ft.authd.log(), 3,
             "the end in authd's log")


def test_success_between_failures_prevents_a_ban(ft):
    ft.start(authd={"ban_threshold": "3"})
    k = ft.key()
    src = "127.0.1.3"
    for good in (False, False, True, False, False):
        c, reason = connect(ft, k, src, good=good)
        assert reason == (0 if good else BAD_CREDENTIALS[V5])
        c.close()
    c, reason = connect(ft, k, src)
    assert reason == 0
    assert status(ft)["bans"]["auto"] == 0


def test_manual_range_ban_refuses_and_closes(ft):
    ft.start()
    k = ft.key()
    live, reason = connect(ft, k, "127.0.5.10")
    assert reason == 0
    bystander, reason = connect(ft, k, "127.0.0.1")
    assert reason == 0
    ctl_ok(ft, "ban", "127.0.5.0/24", "--reason", "test range")
    assert live.closed_within(3), "a session in the banned range lives on"
    c, reason = connect(ft, k, "127.0.5.11")
    assert reason == BANNED[V5]
    bystander.send(mqttraw.pingreq())
    bystander.expect(mqttraw.PINGRESP)
    ctl_ok(ft, "unban", "127.0.5.0/24")
    c, reason = connect(ft, k, "127.0.5.11")
    assert reason == 0


def test_address_ban_closes_live_sessions(ft):
    ft.start(authd={"address_ban_threshold": "2", "ban_threshold": "0"})
    ft.chaind.deny(PUBLISH, "secret/#")
    k = ft.key()
    s1, reason = connect(ft, k, "127.0.6.1")
    assert reason == 0
    s2, reason = connect(ft, k, "127.0.6.2")
    assert reason == 0
    for pid in (1, 2):
        s1.send(mqttraw.publish("secret/x", b"no", qos=1, packet_id=pid))
        ack = s1.expect(mqttraw.PUBACK)
        assert ack.reason == NOT_AUTHORIZED
    assert s1.closed_within(3) and s2.closed_within(3)
    c, reason = connect(ft, k, "127.0.6.3")
    assert reason == BANNED[V5]
    (ban,) = ban_list(ft)
    assert (ban["subject"], ban["origin"]) == (k.address.lower(), "auto")
