"""scripts/bench.sh --smoke runs end to end: connect_bench measures both
modes and prints sane RESULT lines, and the script leaves nothing behind."""

import os
import re
import subprocess

from conftest import BUILD, HOST, REPO, free_port

RESULT_RE = re.compile(
    r"^RESULT label=(\S+) n=(\d+) p50_us=([\d.]+) p90_us=([\d.]+) "
    r"p99_us=([\d.]+) max_us=([\d.]+)$")


def test_bench_smoke():
    r = subprocess.run([str(REPO / "scripts" / "bench.sh"), "--smoke"],
                       env=dict(os.environ, FLYTRAP_BUILD=str(BUILD)),
                       capture_output=True, text=True, timeout=60,
                       start_new_session=True)
    assert r.returncode == 0, r.stdout + r.stderr
    results = {}
    for line in r.stdout.splitlines():
        m = RESULT_RE.match(line)
        if m:
            results[m.group(1)] = [float(x) for x in m.groups()[1:]]
    assert set(results) == {"direct", "proxyd"}, r.stdout
    for label, (n, p50, p90, p99, mx) in results.items():
        assert n == 50, label
        # Positive, ordered, and below the client's own 5 s I/O limit.
        assert 0 < p50 <= p90 <= p99 <= mx < 5e6, (label, p50, p90, p99, mx)
    assert re.search(r"^ratio\s+[\d.]+x\s+[\d.]+x$", r.stdout, re.M), r.stdout


def bench(*args):
    return subprocess.run([str(BUILD / "bench" / "connect_bench")]
                          + [str(a) for a in args], capture_output=True,
                          text=True, timeout=30)


def test_connect_bench_v311_through_proxyd(flytrap, keys):
    r = bench("--host", HOST, "--port", flytrap.proxy_port, "--count", 20,
              "--key", keys[0].path, "--realm", flytrap.realm, "--v311",
              "--label", "v311")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^RESULT label=v311 n=20 ", r.stdout, re.M), r.stdout


def test_connect_bench_fails_on_refusal(flytrap, keys):
    # A token for another realm (v3.1.1, so the username pins the address):
    # the benchmark must fail rather than time refusals.
    r = bench("--host", HOST, "--port", flytrap.proxy_port, "--count", 3,
              "--key", keys[0].path, "--realm", "another-realm", "--v311")
    assert r.returncode == 1
    assert "refused" in r.stderr, r.stderr
    assert "RESULT" not in r.stdout


def test_connect_bench_fails_without_listener():
    r = bench("--host", HOST, "--port", free_port(), "--count", 1)
    assert r.returncode == 1
    assert "connect failed" in r.stderr, r.stderr
