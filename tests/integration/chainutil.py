"""Helpers for the flytrapctl chain tests: a private anvil on a free port
(bounded start and stop), the compiled contract, anvil's funded test keys,
flytrapctl runs, ethers reads of the same chain (tests/integration/
ethers_read.js), and a JSON-RPC relay that can hide EIP-1559 from
flytrapctl.
"""

import http.server
import json
import os
import signal
import socketserver
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from conftest import BIN, BUILD, REPO, _ALL_PROCS, free_port

ANVIL = REPO / "node_modules" / ".bin" / "anvil"
ETHERS_READ = Path(__file__).resolve().parent / "ethers_read.js"
TX_VECTORS = REPO / "tests" / "tools" / "tx-vectors.js"
FLYTRAPCTL = BIN / "flytrapctl"

# anvil's accounts 0-3 (the standard test mnemonic): private key, address.
ANVIL_KEYS = [
    ("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
     "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"),
    ("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
     "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"),
    ("0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
     "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"),
    ("0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
     "0x90f79bf6eb2c4f870365e785982e1f101e93b906"),
]

FOREVER = 2**64 - 1
ANVIL_START_S = 20
ANVIL_STOP_S = 5
BUILD_TIMEOUT_S = 180


def rpc(url, method, params=(), timeout=5):
    """One JSON-RPC call; returns the result or raises on an error."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                       "params": list(params)}).encode()
    req = urllib.request.Request(url, body,
                                 {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        answer = json.loads(r.read())
    if "error" in answer:
        raise RuntimeError("%s: %s" % (method, answer["error"]))
    return answer["result"]


class Anvil:
    """A private anvil on a free loopback port, in its own process group."""

    def __init__(self, extra_args=()):
        self.port = None
        self.url = None
        self.proc = None
        self.extra_args = list(extra_args)

    def start(self):
        for _ in range(3):
            self.port = free_port()
            self.url = "http://127.0.0.1:%d" % self.port
            self.proc = subprocess.Popen(
                [str(ANVIL), "--port", str(self.port), "--host",
                 "127.0.0.1", "--silent"] + self.extra_args,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, start_new_session=True)
            _ALL_PROCS.append(self.proc)
            deadline = time.monotonic() + ANVIL_START_S
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    rpc(self.url, "eth_chainId", timeout=1)
                    return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError("anvil did not start")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(ANVIL_STOP_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(ANVIL_STOP_S)


def contract_build_dir(tmp_root):
    """A directory with FlyTrap.abi and FlyTrap.bin: the build's (made by
    the Makefile), else contracts/build.sh into a temporary directory."""
    built = BUILD / "contracts"
    if (built / "FlyTrap.bin").exists() and (built / "FlyTrap.abi").exists():
        return built
    out = Path(tmp_root) / "contracts"
    subprocess.run([str(REPO / "contracts" / "build.sh"), str(out)],
                   check=True, timeout=BUILD_TIMEOUT_S)
    return out


def write_key(path, hexkey):
    path = Path(path)
    path.write_text(hexkey + "\n")
    path.chmod(0o600)
    return path


def clean_env(**extra):
    """The environment without any FLYTRAP_* variable, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("FLYTRAP_")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def ctl(args, env=None, timeout=60):
    """Runs flytrapctl with a clean environment (plus env); returns the
    CompletedProcess, whatever its exit status."""
    return subprocess.run([str(FLYTRAPCTL)] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout,
                          env=clean_env(**(env or {})),
                          stdin=subprocess.DEVNULL)


def ctl_ok(args, env=None, timeout=60):
    r = ctl(args, env, timeout)
    assert r.returncode == 0, "flytrapctl %s exited %d\nstdout: %s\n" \
        "stderr: %s" % (" ".join(map(str, args)), r.returncode, r.stdout,
                        r.stderr)
    return r


def ctl_json(args, env=None, timeout=60):
    """flytrapctl ARGS --json, parsed."""
    r = ctl_ok(list(args) + ["--json"], env, timeout)
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1, r.stdout
    return json.loads(lines[0])


def ethers_read(url, abi, contract, calls=(), chain=()):
    """ethers' view of the chain: (call results, chain results)."""
    req = {"url": url, "abi": str(abi), "contract": contract,
           "calls": [list(c) for c in calls],
           "chain": [list(c) for c in chain]}
    r = subprocess.run(["node", str(ETHERS_READ), json.dumps(req)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    return out["calls"], out["chain"]


def countries_text(codes):
    """ethers' bytes2[] ("0x4445", ...) as ["DE", ...]."""
    return [bytes.fromhex(c[2:]).decode() for c in codes]


def check_keystore(path, password):
    """ethers' decryption of a keystore: (key, address)."""
    r = subprocess.run(["node", str(TX_VECTORS), "check-keystore", str(path),
                        "0x" + password.encode().hex()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    _, key, address = r.stdout.split()
    return key, address.lower()


class _RelayHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        req = json.loads(body)
        self.server.methods.append(req.get("method"))
        fwd = urllib.request.Request(self.server.upstream, body,
                                     {"content-type": "application/json"})
        with urllib.request.urlopen(fwd, timeout=10) as r:
            answer = json.loads(r.read())
        result = answer.get("result")
        if self.server.hide_base_fee and isinstance(result, dict):
            result.pop("baseFeePerGas", None)
        out = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


class RpcRelay:
    """An HTTP JSON-RPC relay to upstream that records the methods called
    and, with hide_base_fee, makes blocks look pre-London (no
    baseFeePerGas), so flytrapctl must send legacy transactions."""

    def __init__(self, upstream, hide_base_fee=True):
        self.server = socketserver.ThreadingTCPServer(
            ("127.0.0.1", 0), _RelayHandler)
        self.server.daemon_threads = True
        self.server.upstream = upstream
        self.server.hide_base_fee = hide_base_fee
        self.server.methods = []
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)

    @property
    def methods(self):
        return self.server.methods

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

