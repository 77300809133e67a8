"""chaind's HTTP server end to end: a real anvil with the FlyTrap contract,
topics, grants and a revocation made with flytrapctl, a Summary written
through chaind's own wallet, alerts sent to chaind as authd sends them,
and chaind serving the audit API, /metrics and the auditor's page
(web/) on a free port.

Covered: every API kind answers JSON (no-store), bad parameters are 400
with an error, unknown paths 404, other methods 405, path traversal and
hidden files are refused, the page carries its security headers, /metrics
is Prometheus text with chaind's figures and the counters daemons send
with IPC_METRICS (a malformed report drops the peer), a listen address in
use is a clear fatal error at start, and the page itself, driven in
headless Chromium by tests/web/auditor.js.
"""

import http.client
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse

import pytest

from chainutil import ctl_json, ctl_ok
from conftest import BIN, REPO, Proc, free_port, unix_accepts, wait_for
from test_30_chain_e2e import Chain
from test_31_chaind_wallet import calldata, submit
from test_32_alerts import (BANNED, QUEUED, WRONG_COUNTRY, Ipc, alert,
                            ip_hash)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AUDITOR_JS = REPO / "tests" / "web" / "auditor.js"
WEB_ROOT = REPO / "web"
SYNC_TIMEOUT_S = 20

TOPIC = "plant/line3/#"
OTHER_TOPIC = "plant/public"
GRANT_REASON = "line 3 vibration sensor"
REVOKE_REASON = "sensor replaced"
BAN_REASON = "5 denied requests"
PERIOD_S = 1800


def http_get(base, path, method="GET", headers=None):
    """(status, headers, body bytes) of one request, without following
    anything and without normalising the path (http.client sends it as
    given, so '..' reaches the server)."""
    host, port = base.split("//", 1)[1].rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def api(base, kind, **params):
    """GET /api/v1/<kind>?params: (status, parsed JSON)."""
    q = urllib.parse.urlencode(params)
    status, headers, body = http_get(
        base, "/api/v1/%s%s" % (kind, "?" + q if q else ""))
    assert headers["content-type"].startswith("application/json"), headers
    assert headers["cache-control"] == "no-store", headers
    return status, json.loads(body)


def api_ok(base, kind, **params):
    status, answer = api(base, kind, **params)
    assert status == 200, (kind, params, answer)
    return answer


_SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="'
    r'(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"')


def parse_prometheus(text):
    """The text exposition format, strictly: every sample's metric has
    HELP and TYPE lines before it, and a metric's samples are together.
    Returns {name: {"type", "help", "samples": [(labels dict, value)]}}."""
    metrics, order = {}, []
    for line in text.splitlines():
        if not line:
            continue
        m = re.match(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$", line)
        if m:
            entry = metrics.setdefault(m.group(2), {"samples": []})
            entry[m.group(1).lower()] = m.group(3)
            if m.group(1) == "TYPE":
                assert m.group(3) in ("counter", "gauge", "untyped"), line
            continue
        assert not line.startswith("#"), "stray comment: %r" % line
        m = _SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name = m.group(1)
        assert name in metrics and "type" in metrics[name] and \
            "help" in metrics[name], "%s has no HELP/TYPE" % name
        if not order or order[-1] != name:
            assert name not in order, "%s samples are split" % name
            order.append(name)
        labels = dict(_LABEL.findall(m.group(2) or ""))
        metrics[name]["samples"].append((labels, float(m.group(3))))
    return metrics


def sample(metrics, name, **labels):
    """The value of name's one sample whose labels include labels."""
    got = [v for ls, v in metrics[name]["samples"]
           if all(ls.get(k) == v2 for k, v2 in labels.items())]
    assert len(got) == 1, (name, labels, metrics.get(name))
    return got[0]


class Web:
    """The chain with the audit trail the tests read, and chaind with its
    wallet serving HTTP on a free port."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.chain = Chain(tmp)
        c = self.chain
        self.device = self._keygen("device")
        self.reader = self._keygen("reader")
        c.topic_add(TOPIC, "--sensitive")
        c.topic_add(OTHER_TOPIC)
        c.ctl("grant", "pub", TOPIC, self.device, "--reason", GRANT_REASON)
        c.ctl("grant", "sub", TOPIC, self.device, "--reason", GRANT_REASON)
        c.ctl("grant", "sub", TOPIC, self.reader, "--reason", "dashboard")
        c.ctl("revoke", "sub", TOPIC, self.device, "--reason", REVOKE_REASON)

        # chaind's wallet: a funded reporter, as scripts/demo.sh makes it.
        self.password = tmp / "wallet.password"
        self.password.write_text("web test wallet\n")
        self.keystore = tmp / "wallet.json"
        self.wallet = ctl_json(["keystore", "create", "--out", self.keystore,
                                "--password-file", self.password])["address"]
        c.fund(self.wallet)
        ctl_ok(["reporter", "add", self.wallet], c.env())

        self.runtime = tmp / "run"
        self.runtime.mkdir()
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.conf = self.write_config(tmp / "flytrap.conf", self.port)
        self.chaind = Proc("chaind", [BIN / "chaind", "-c", self.conf, "-d"],
                           tmp / "chaind.log").start()
        wait_for(lambda: self._alive() and
                 unix_accepts(self.runtime / "wallet.sock") and
                 self._http_up(), 10, "chaind's sockets and HTTP port")

        # A summary of the last whole period, through chaind's wallet as
        # reportd writes it (docs/AUDIT.md).
        now = int(time.time())
        self.period_end = now // PERIOD_S * PERIOD_S
        self.period_start = self.period_end - PERIOD_S
        self.summary_reason = "pub=%s sub=%s records=7" % (self.device,
                                                           self.reader)
        data = calldata(c.artifact.parent / "FlyTrap.abi", "logSummary",
                        TOPIC, self.summary_reason, "0x" + "5a" * 32,
                        self.period_start, self.period_end)
        assert submit(self.runtime / "wallet.sock",
                      "once:summary:%d:web-test" % self.period_start,
                      data) > 0

        # Alerts as authd sends them: an address ban, a wrong country.
        self.ban_until = now + 3600
        conn = Ipc(self.runtime / "chaind.sock")
        try:
            assert alert(conn, BANNED, "", "", self.device, self.device,
                         BAN_REASON, self.ban_until) == QUEUED
            assert alert(conn, WRONG_COUNTRY, "198.51.100.7",
                         ip_hash("198.51.100.7"), TOPIC, self.reader,
                         "country=FR publish", 0) == QUEUED
        finally:
            conn.close()

        def settled():
            self._alive()
            st = api_ok(self.base, "status")
            summaries = api_ok(self.base, "summaries", topic=TOPIC)
            alerts = api_ok(self.base, "alerts")
            return (st["pending_transactions"] == 0
                    if "pending_transactions" in st else True) and \
                self.wallet_pending() == 0 and \
                self.device in json.dumps(summaries) and \
                BAN_REASON in json.dumps(alerts) and \
                "country=FR" in json.dumps(alerts)
        wait_for(settled, SYNC_TIMEOUT_S, "chaind to store the summary and "
                 "the alerts", 0.1)

    def _keygen(self, name):
        return ctl_ok(["keygen", "--out", self.tmp / ("%s.key" % name)]
                      ).stdout.strip().splitlines()[-1].strip()

    def write_config(self, path, port):
        c = self.chain
        path.write_text(
            "[global]\nrealm = web-test\nruntime_dir = %s\n"
            "[chaind]\nrpc_url = %s\ncontract = %s\nstart_block = %d\n"
            "database = %s\nkeystore = %s\npassword_file = %s\n"
            "poll_interval_ms = 100\nhttp_listen = 127.0.0.1:%d\n"
            "web_root = %s\n"
            % (self.runtime, c.url, c.contract, c.deploy_block,
               self.tmp / "chaind.db", self.keystore, self.password, port,
               WEB_ROOT))
        return path

    def _alive(self):
        if not self.chaind.alive():
            pytest.fail("chaind exited with status %s:\n%s" % (
                self.chaind.popen.returncode, self.chaind.log()[-4000:]))
        return True

    def _http_up(self):
        try:
            return http_get(self.base, "/metrics")[0] == 200
        except OSError:
            return False

    def wallet_pending(self):
        m = parse_prometheus(http_get(self.base, "/metrics")[2].decode())
        return sample(m, "flytrap_pending_transactions")

    def stop(self):
        self.chaind.stop()
        self.chain.stop()


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    w = Web(tmp_path_factory.mktemp("web"))
    yield w
    w.stop()


# ---- the API ----------------------------------------------------------------


def test_status_names_the_node_without_its_path(web):
    st = api_ok(web.base, "status")
    assert st["contract"] == web.chain.contract
    assert st["chain_id"] == 31337
    # The node's URL, reduced to scheme, host and port.
    assert st["node"] == web.chain.url


def test_topics_holders_and_why(web):
    topics = api_ok(web.base, "topics")
    assert TOPIC in json.dumps(topics) and OTHER_TOPIC in json.dumps(topics)
    holders = api_ok(web.base, "holders", topic=TOPIC)
    text = json.dumps(holders)
    assert web.device in text and GRANT_REASON in text
    assert web.reader in text and "dashboard" in text
    why = api_ok(web.base, "why", address=web.device, topic="plant/line3/x")
    assert REVOKE_REASON in json.dumps(why)


def test_events_by_address_show_grant_and_revocation(web):
    ev = api_ok(web.base, "events", address=web.device)
    text = json.dumps(ev)
    for word in ("AddPub", "AddSub", "RevokeSub", GRANT_REASON,
                 REVOKE_REASON):
        assert word in text, (word, ev)
    # An empty parameter is as good as none (HTML forms send them).
    assert api_ok(web.base, "events", address=web.device, topic="") == ev


def test_summaries_and_alerts(web):
    s = api_ok(web.base, "summaries", topic=TOPIC)
    assert web.device in json.dumps(s) and web.reader in json.dumps(s)
    a = api_ok(web.base, "alerts", action="Banned")
    assert BAN_REASON in json.dumps(a)
    assert "country=FR" not in json.dumps(a)
    who = api_ok(web.base, "who", topic=TOPIC, **{
        "from": web.period_start, "to": web.period_end})
    assert web.device in json.dumps(who)


def test_bad_parameters_are_400_with_an_error(web):
    for params in ({"limit": "0"}, {"limit": "many"}, {"from": "yesterday"}):
        status, answer = api(web.base, "events", **params)
        assert status == 400, (params, answer)
        assert isinstance(answer.get("error"), str) and answer["error"]
    status, answer = api(web.base, "holders")  # no topic
    assert status == 400 and answer["error"]
    # A parameter given twice is refused by the server itself.
    status, headers, body = http_get(
        web.base, "/api/v1/events?limit=5&limit=6")
    assert status == 400 and "twice" in json.loads(body)["error"]
    # Bytes that are not UTF-8, in a name or a value, or cut in the
    # middle of a character by the error message, are a 400 too.
    long_name = "%C3%A9" * 40
    for query in ("%FF=1", "topic=%FF",
                  "%s=1&%s=2" % (long_name, long_name)):
        status, headers, body = http_get(web.base, "/api/v1/events?" + query)
        assert status == 400, query
        assert json.loads(body)["error"], query
    web._alive()


def test_unknown_paths_are_404(web):
    for path in ("/api/v1/nothing", "/api/v1/", "/api/v2/status", "/api",
                 "/nothing.html", "/app", "/index.html/"):
        status, headers, body = http_get(web.base, path)
        assert status == 404, path
    status, headers, body = http_get(web.base, "/api/v1/erase")
    assert status == 404 and json.loads(body) == {"error": "not found"}


def test_other_methods_are_405(web):
    for method, path in (("POST", "/api/v1/status"), ("PUT", "/index.html"),
                         ("DELETE", "/metrics")):
        status, headers, body = http_get(web.base, path, method=method)
        assert status == 405, (method, path)
        assert headers["allow"] == "GET, HEAD"
    status, headers, body = http_get(web.base, "/", method="HEAD")
    assert status == 200 and body == b""


def test_path_traversal_and_hidden_files_are_refused(web):
    secret = web.tmp / "secret.html"
    secret.write_text("do not serve\n")
    for path in ("/../secret.html", "/%2e%2e/secret.html",
                 "/..%2fsecret.html", "/./index.html", "//index.html",
                 "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                 "/.hidden.html", "/index.html%00.js", "/web/../index.html"):
        status, headers, body = http_get(web.base, path)
        assert status == 404, (path, status)
        assert b"do not serve" not in body and b"root:" not in body


def test_page_files_and_security_headers(web):
    for path, ctype in (("/", "text/html"), ("/index.html", "text/html"),
                        ("/app.js", "text/javascript"),
                        ("/app.css", "text/css")):
        status, headers, body = http_get(web.base, path)
        assert status == 200, path
        assert headers["content-type"].startswith(ctype), headers
        assert headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in headers["content-security-policy"]
        assert body == (WEB_ROOT / (path.strip("/") or "index.html")
                        ).read_bytes()
    # The page only uses what the policy allows: no inline script or
    # style, nothing from elsewhere.
    html = (WEB_ROOT / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "style=" not in html and "<style" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)


# ---- /metrics ---------------------------------------------------------------


def test_metrics_are_prometheus_text(web):
    status, headers, body = http_get(web.base, "/metrics")
    assert status == 200
    assert headers["content-type"].startswith("text/plain; version=0.0.4")
    m = parse_prometheus(body.decode())
    for name in ("flytrap_chain_head", "flytrap_chain_synced",
                 "flytrap_chain_lag_blocks", "flytrap_acl_cache_hit_ratio",
                 "flytrap_pending_transactions", "flytrap_events_total",
                 "flytrap_alerts_total", "flytrap_summaries_written_total"):
        assert name in m, name
    assert m["flytrap_events_total"]["type"] == "counter"
    assert m["flytrap_chain_head"]["type"] == "gauge"
    head = web.chain.head()
    assert sample(m, "flytrap_chain_head") <= head
    wait_for(lambda: sample(parse_prometheus(http_get(
        web.base, "/metrics")[2].decode()), "flytrap_chain_synced") >= head,
        SYNC_TIMEOUT_S, "chaind to reach the head")
    assert sample(m, "flytrap_alerts_total", outcome="queued") == 2
    assert sample(m, "flytrap_alerts_total", outcome="duplicate") == 0
    assert sample(m, "flytrap_summaries_written_total") == 1
    # AddTopic x2, AddPub, AddSub x2, RevokeSub, AddReporter, Summary,
    # Banned, WrongCountry.
    assert sample(m, "flytrap_events_total") >= 10


def test_metrics_from_daemons(web):
    conn = Ipc(web.runtime / "chaind.sock")
    try:
        kind, fields = conn.request(
            "IPC_METRICS", "proxyd", "p-1",
            json.dumps({"sessions": 3, "connections_total": 10,
                        "denials_total": {"publish": 2, "subscribe": 1},
                        "a_counter_from_the_future": 1}))
        assert (kind, fields) == ("IPC_METRICS_REPLY", [])
        kind, fields = conn.request(
            "IPC_METRICS", "authd", "a-1",
            json.dumps({"auth_total": {"ok": 12, "bad_signature": 4},
                        "bans_active": {"auto": 1, "chain": 2},
                        "strikes_total": 5}))
        assert kind == "IPC_METRICS_REPLY"
        # A second report of an instance replaces its first.
        kind, fields = conn.request(
            "IPC_METRICS", "proxyd", "p-1",
            json.dumps({"sessions": 4, "connections_total": 11,
                        "denials_total": {"publish": 2, "subscribe": 1}}))
        m = parse_prometheus(http_get(web.base, "/metrics")[2].decode())
        assert sample(m, "flytrap_sessions", instance="p-1") == 4
        assert sample(m, "flytrap_sessions", daemon="proxyd") == 4
        assert sample(m, "flytrap_denials_total", action="publish") == 2
        assert sample(m, "flytrap_auth_total", verdict="bad_signature",
                      instance="a-1") == 4
        assert sample(m, "flytrap_bans_active", origin="chain") == 2
        assert m["flytrap_auth_total"]["type"] == "counter"
        assert m["flytrap_bans_active"]["type"] == "gauge"
        assert "flytrap_a_counter_from_the_future" not in m
        assert sample(m, "flytrap_instances_reporting") == 2
        assert "sends counters this chaind does not know" in web.chaind.log()

        # Malformed: a counter that is not a number drops the peer.
        conn.send("IPC_METRICS", "proxyd", "p-1",
                  json.dumps({"sessions": "many"}))
        assert conn.closed_by_peer()
    finally:
        conn.close()
    wait_for(lambda: "malformed IPC_METRICS" in web.chaind.log(), 5,
             "the log line")
    for bad in (["proxyd", "p 1", "{}"], ["Proxyd", "p", "{}"],
                ["proxyd", "p", "[]"], ["proxyd", "p", "{"], ["proxyd", "p"]):
        conn = Ipc(web.runtime / "chaind.sock")
        try:
            conn.send("IPC_METRICS", *bad)
            assert conn.closed_by_peer(), bad
        finally:
            conn.close()
    # The last good report still stands.
    m = parse_prometheus(http_get(web.base, "/metrics")[2].decode())
    assert sample(m, "flytrap_sessions", instance="p-1") == 4


def test_http_listen_in_use_is_fatal_at_start(web, tmp_path):
    conf = tmp_path / "second.conf"
    text = web.conf.read_text().replace(
        "runtime_dir = %s" % web.runtime, "runtime_dir = %s" % tmp_path)
    text = text.replace("database = %s" % (web.tmp / "chaind.db"),
                        "database = %s" % (tmp_path / "c.db"))
    conf.write_text(text)
    r = subprocess.run([str(BIN / "chaind"), "-c", str(conf)],
                       capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    assert ("[chaind] http_listen 127.0.0.1:%d: Address already in use"
            % web.port) in r.stderr, r.stderr
    assert not (tmp_path / "chaind.sock").exists()
    conf.write_text(text.replace("http_listen = 127.0.0.1:%d" % web.port,
                                 "http_listen = localhost"))
    r = subprocess.run([str(BIN / "chaind"), "-c", str(conf)],
                       capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    assert r.returncode != 0 and "http_listen 'localhost'" in r.stderr


# ---- the page, in a browser -------------------------------------------------


def test_auditor_page_in_chromium(web):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("no Chromium at %s: run `make deps`" % CHROMIUM)
    expect = {
        "chromium": CHROMIUM,
        "contract": web.chain.contract,
        "chainId": 31337,
        "nodeHost": web.chain.url.split("//", 1)[1],
        "topic": TOPIC,
        "publisher": web.device,
        "grantReason": GRANT_REASON,
        "revokeReason": REVOKE_REASON,
        "periodStart": web.period_start,
        "periodEnd": web.period_end,
        "subscriber": web.reader,
        "banned": web.device,
        "banReason": BAN_REASON,
    }
    r = subprocess.run(["node", str(AUDITOR_JS), web.base + "/",
                        json.dumps(expect)],
                       capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL, cwd=str(REPO))
    assert r.returncode == 0, "auditor.js failed:\n%s\n%s" % (r.stdout,
                                                             r.stderr)
    assert "auditor page: all checks passed" in r.stdout, r.stdout
