"""scripts/bench.sh --smoke runs end to end on the real chain stack: every
measurement (CONNECT, warm PUBLISH -> PUBACK, publish -> delivery, cold
authorisation, CONNECT during a flood of forged tokens) prints a sane RESULT
line, every comparison a RATIO line, every flood a FLOOD line, and the
script leaves nothing behind. connect_bench, pub_bench and flood_bench on
their own: each mode through proxyd, failing rather than timing refusals,
and forged tokens refused only after the signature is recovered."""

import os
import re
import signal
import subprocess

from conftest import BUILD, HOST, REPO, free_port
from fakechaind import PUBLISH, SUBSCRIBE

RESULT_RE = re.compile(
    r"^RESULT bench=(\S+) label=(\S+) rounds=(\d+) n=(\d+) p50_us=([\d.]+) "
    r"p90_us=([\d.]+) p99_us=([\d.]+) max_us=([\d.]+)$")
RATIO_RE = re.compile(r"^RATIO bench=(\S+) of=(\S+) p50=([\d.]+) "
                      r"p99=([\d.]+)$")
FLOOD_RE = re.compile(
    r"^FLOOD label=(\S+) clients=(\d+) conns=(\d+) seconds=([\d.]+) "
    r"ended=(signal|time) attempts=(\d+) refused_86=(\d+) banned_8a=(\d+) "
    r"busy_89=(\d+) other=(\d+) accepted=(\d+) closed=(\d+) failed=(\d+) "
    r"timeout=(\d+) rate_per_s=(\d+)$", re.M)
FLOOD_OUTCOMES = ("refused_86", "banned_8a", "busy_89", "other", "accepted",
                  "closed", "failed", "timeout")

SMOKE_COUNT = 50
SMOKE_COLD = 5
SMOKE_FLOOD_CLIENTS = 10
# (bench, label): the samples each smoke measurement must have.
EXPECTED = {
    ("connect", "direct"): SMOKE_COUNT,
    ("connect", "proxyd"): SMOKE_COUNT,
    ("puback", "direct"): SMOKE_COUNT,
    ("puback", "proxyd"): SMOKE_COUNT,
    ("delivery", "direct"): SMOKE_COUNT,
    ("delivery", "proxyd"): SMOKE_COUNT,
    ("auth", "cold"): SMOKE_COLD,
    ("auth", "session-cold"): SMOKE_COLD,
    ("auth", "warm"): SMOKE_COLD,
    ("flood", "none"): SMOKE_COUNT,
    ("flood", "bans-on"): SMOKE_COUNT,
    ("flood", "bans-off"): SMOKE_COUNT,
}
EXPECTED_RATIOS = {
    ("connect", "proxyd/direct"),
    ("puback", "proxyd/direct"),
    ("delivery", "proxyd/direct"),
    ("auth", "cold/warm"),
    ("auth", "session-cold/warm"),
    ("flood", "bans-on/none"),
    ("flood", "bans-off/none"),
}
# The clients' own I/O limit: no sample can be slower.
IO_LIMIT_US = 5e6


def sane(values):
    """Positive, ordered percentiles below the clients' I/O limit."""
    p50, p90, p99, mx = values
    return 0 < p50 <= p90 <= p99 <= mx < IO_LIMIT_US


def floods_of(stdout):
    """{label: {field: number}} of the FLOOD lines; each label once."""
    out = {}
    for m in FLOOD_RE.finditer(stdout):
        label = m.group(1)
        assert label not in out, "two FLOOD lines for %s" % label
        f = dict(zip(("clients", "conns"), map(int, m.group(2, 3))))
        f["seconds"] = float(m.group(4))
        f["ended"] = m.group(5)
        f["attempts"] = int(m.group(6))
        f.update(zip(FLOOD_OUTCOMES, map(int, m.groups()[6:14])))
        f["rate_per_s"] = int(m.group(15))
        # Every attempt counted ended one of these ways.
        assert sum(f[k] for k in FLOOD_OUTCOMES) == f["attempts"], m.group(0)
        out[label] = f
    return out


def test_bench_smoke(tmp_path):
    p = subprocess.Popen([str(REPO / "scripts" / "bench.sh"), "--smoke"],
                         env=dict(os.environ, FLYTRAP_BUILD=str(BUILD),
                                  TMPDIR=str(tmp_path)),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=120)
    finally:
        # Nothing of the run's process group may outlive the script.
        try:
            os.killpg(p.pid, signal.SIGKILL)
            leftover = True
        except ProcessLookupError:
            leftover = False
        p.communicate()
    assert p.returncode == 0, stdout + stderr
    assert not leftover, "bench.sh left processes behind"
    assert list(tmp_path.iterdir()) == [], "bench.sh left files behind"

    results, ratios = {}, {}
    for line in stdout.splitlines():
        m = RESULT_RE.match(line)
        if m:
            key = (m.group(1), m.group(2))
            assert key not in results, "two RESULT lines for %s" % (key,)
            results[key] = (int(m.group(3)), int(m.group(4)),
                            [float(x) for x in m.groups()[4:]])
        m = RATIO_RE.match(line)
        if m:
            ratios[(m.group(1), m.group(2))] = (float(m.group(3)),
                                                float(m.group(4)))
    assert set(results) == set(EXPECTED), stdout
    for key, (rounds, n, values) in results.items():
        assert rounds == 1, key
        assert n == EXPECTED[key], (key, n)
        assert sane(values), (key, values)
    assert set(ratios) == EXPECTED_RATIOS, stdout
    for key, (p50, p99) in ratios.items():
        assert p50 > 0 and p99 > 0, (key, p50, p99)
    # The table shows every measurement and ratio in one place.
    assert re.search(r"^measurement \(median of 1 rounds\)", stdout, re.M)
    assert re.search(r"^\s+proxyd/direct\s+[\d.]+x\s+[\d.]+x$", stdout,
                     re.M), stdout
    assert re.search(r"^\s+bans-off/none\s+[\d.]+x\s+[\d.]+x$", stdout,
                     re.M), stdout

    # The attackers ran through each flooded measurement, were stopped by
    # the script, and none of their forged tokens got in. With bans on
    # their IPs were banned within the warm-up; with bans off every one
    # was refused as a bad token (or turned away while authd was busy).
    floods = floods_of(stdout)
    assert set(floods) == {"bans-on", "bans-off"}, stdout
    for label, f in floods.items():
        assert f["clients"] == SMOKE_FLOOD_CLIENTS, (label, f)
        assert f["ended"] == "signal", (label, f)
        assert f["attempts"] > 0 and f["accepted"] == 0, (label, f)
    assert floods["bans-on"]["banned_8a"] > 0, floods
    assert floods["bans-off"]["banned_8a"] == 0, floods
    assert floods["bans-off"]["refused_86"] > 0, floods


def bench(program, *args):
    return subprocess.run([str(BUILD / "bench" / program)]
                          + [str(a) for a in args], capture_output=True,
                          text=True, timeout=30)


def results_of(stdout):
    """{(bench, label): n} of the per-run RESULT lines (no rounds field)."""
    out = {}
    for m in re.finditer(r"^RESULT bench=(\S+) label=(\S+) n=(\d+) "
                         r"p50_us=([\d.]+) p90_us=([\d.]+) p99_us=([\d.]+) "
                         r"max_us=([\d.]+)$", stdout, re.M):
        assert sane([float(x) for x in m.groups()[3:]]), m.group(0)
        out[(m.group(1), m.group(2))] = int(m.group(3))
    return out


def test_connect_bench_v311_through_proxyd(flytrap, keys):
    r = bench("connect_bench", "--host", HOST, "--port", flytrap.proxy_port,
              "--count", 20, "--key", keys[0].path, "--realm",
              flytrap.realm, "--v311", "--label", "v311")
    assert r.returncode == 0, r.stderr
    assert results_of(r.stdout) == {("connect", "v311"): 20}, r.stdout


def test_connect_bench_fails_on_refusal(flytrap, keys):
    # A token for another realm (v3.1.1, so the username pins the address):
    # the benchmark must fail rather than time refusals.
    r = bench("connect_bench", "--host", HOST, "--port", flytrap.proxy_port,
              "--count", 3, "--key", keys[0].path, "--realm",
              "another-realm", "--v311")
    assert r.returncode == 1
    assert "refused" in r.stderr, r.stderr
    assert "RESULT" not in r.stdout


def test_connect_bench_fails_without_listener():
    r = bench("connect_bench", "--host", HOST, "--port", free_port(),
              "--count", 1)
    assert r.returncode == 1
    assert "connect failed" in r.stderr, r.stderr


def test_pub_bench_modes_through_proxyd(flytrap, keys):
    to = ["--host", HOST, "--port", flytrap.proxy_port, "--key",
          keys[0].path, "--realm", flytrap.realm]
    for extra in ([], ["--v311"]):
        r = bench("pub_bench", "--mode", "puback", *to, "--count", 20,
                  "--warmup", 5, "--label", "p", *extra)
        assert r.returncode == 0, r.stderr
        assert results_of(r.stdout) == {("puback", "p"): 20}, r.stdout
        for qos in (0, 1):
            r = bench("pub_bench", "--mode", "delivery", *to, "--count", 20,
                      "--warmup", 0, "--qos", qos, "--label", "d", *extra)
            assert r.returncode == 0, r.stderr
            assert results_of(r.stdout) == {("delivery", "d"): 20}, r.stdout
    # Every PUBLISH was asked about (or answered from proxyd's cache) as
    # the bench key's.
    assert {a for a, _, _ in flytrap.chaind.requests} == {keys[0].address}


def test_pub_bench_auth_mode(flytrap, keys, tmp_path):
    fresh = tmp_path / "fresh"
    fresh.write_text("%s\n%s\n" % (keys[1].path, keys[1].path))
    r = bench("pub_bench", "--mode", "auth", "--host", HOST, "--port",
              flytrap.proxy_port, "--key", keys[0].path, "--realm",
              flytrap.realm, "--keys", fresh, "--count", 2)
    assert r.returncode == 0, r.stderr
    assert results_of(r.stdout) == {("auth", "cold"): 2,
                                    ("auth", "session-cold"): 2,
                                    ("auth", "warm"): 2}, r.stdout
    # Too few keys in the list: an error, not a shorter run.
    r = bench("pub_bench", "--mode", "auth", "--host", HOST, "--port",
              flytrap.proxy_port, "--key", keys[0].path, "--realm",
              flytrap.realm, "--keys", fresh, "--count", 3)
    assert r.returncode == 1
    assert "fewer than 3 keys" in r.stderr, r.stderr


def test_pub_bench_fails_when_publish_refused(flytrap, keys):
    flytrap.chaind.deny(PUBLISH, "bench/#")
    r = bench("pub_bench", "--mode", "puback", "--host", HOST, "--port",
              flytrap.proxy_port, "--key", keys[0].path, "--realm",
              flytrap.realm, "--count", 3)
    assert r.returncode == 1
    assert "refused" in r.stderr, r.stderr
    assert "RESULT" not in r.stdout


def test_pub_bench_fails_when_subscription_refused(flytrap, keys):
    flytrap.chaind.deny(SUBSCRIBE, "bench/#")
    r = bench("pub_bench", "--mode", "delivery", "--host", HOST, "--port",
              flytrap.proxy_port, "--key", keys[0].path, "--realm",
              flytrap.realm, "--count", 3)
    assert r.returncode == 1
    assert "SUBSCRIBE" in r.stderr and "refused" in r.stderr, r.stderr
    assert "RESULT" not in r.stdout


def test_flood_bench_forged_tokens_cost_a_recovery(flytrap):
    # The test configuration has bans off: every forged token reaches the
    # signature check, and is refused there, not before it.
    r = bench("flood_bench", "--host", HOST, "--port", flytrap.proxy_port,
              "--realm", flytrap.realm, "--clients", 3, "--conns", 2,
              "--seconds", 1, "--label", "t")
    assert r.returncode == 0, r.stderr
    floods = floods_of(r.stdout)
    assert set(floods) == {"t"}, r.stdout
    f = floods["t"]
    assert (f["clients"], f["conns"], f["ended"]) == (3, 2, "time"), f
    assert f["accepted"] == 0 and f["banned_8a"] == 0, f
    assert f["refused_86"] > 0, f
    assert "signer is not the claimed address" in flytrap.authd.log()
    # Each attacker came from its own address, none from 127.0.0.1.
    log = flytrap.authd.log()
    peers = set(re.findall(r"peer (\S+) client 'flood-", log))
    assert peers == {"127.0.0.10", "127.0.0.11", "127.0.0.12"}, peers


def test_flood_bench_refuses_bad_sources():
    for base in ("127.0.0.1", "10.0.0.10", "127.255.255.250"):
        r = bench("flood_bench", "--port", free_port(), "--realm", "r",
                  "--source-base", base, "--clients", 10, "--seconds", 1)
        assert r.returncode == 2, (base, r.stdout, r.stderr)
        assert "127.0.0.0/8" in r.stderr, (base, r.stderr)


def test_pub_bench_fails_without_listener():
    r = bench("pub_bench", "--mode", "puback", "--host", HOST, "--port",
              free_port(), "--count", 1)
    assert r.returncode == 1
    assert "connect failed" in r.stderr, r.stderr
