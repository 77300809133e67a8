"""chaind's wallet, end to end: a real anvil, the real contract, chaind with
a keystore. Transactions handed to chaind are signed, sent, confirmed and
recorded; a crash between signing and mining neither loses one nor reuses
a nonce; a transaction the contract would refuse is reported and costs no
nonce."""
import json
import signal
import socket
import struct
import subprocess
import time

import msgpack
import pytest

import fakechaind
from chainutil import Anvil, contract_build_dir, ctl_json, ctl_ok, rpc
from conftest import BUILD, Proc, unix_accepts, wait_for

ETHERS = str(fakechaind.REPO / "node_modules" / "ethers")
TX_SUBMIT = fakechaind.TYPES["IPC_TX_SUBMIT"]
TX_SUBMIT_REPLY = fakechaind.TYPES["IPC_TX_SUBMIT_REPLY"]
BANNED = 6  # Action.Banned in docs/CONTRACT.md
ADD_PUB = 1


def calldata(abi_path, fn, *args):
    """Call data made by ethers, an implementation independent of ours."""
    script = ("const {ethers}=require(%r);const fs=require('fs');"
              "const i=new ethers.Interface(JSON.parse(fs.readFileSync(%r)));"
              "console.log(i.encodeFunctionData(%r, JSON.parse(%r)))"
              % (ETHERS, str(abi_path), fn, json.dumps(list(args))))
    out = subprocess.run(["node", "-e", script], check=True,
                         capture_output=True, text=True, timeout=30)
    return bytes.fromhex(out.stdout.strip()[2:])


def submit(sock_path, purpose, data):
    """IPC_TX_SUBMIT over chaind's wallet socket; returns the queued id."""
    body = b"".join(msgpack.packb(x) for x in
                    [fakechaind.IPC_VERSION, TX_SUBMIT, 1, purpose, data])
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock_path))
        s.sendall(struct.pack(">I", len(body)) + body)
        n = struct.unpack(">I", s.recv(4))[0]
        got = b""
        while len(got) < n:
            got += s.recv(n - len(got))
    u = msgpack.Unpacker(raw=False)
    u.feed(got)
    objs = list(u)
    assert objs[:3] == [fakechaind.IPC_VERSION, TX_SUBMIT_REPLY, 1]
    return objs[3]


class World:
    def __init__(self, tmp):
        self.tmp = tmp
        self.artifacts = contract_build_dir(tmp)
        self.anvil = Anvil().start()
        self.owner_key = tmp / "owner.key"
        owner = ctl_ok(["keygen", "--out", self.owner_key]).stdout.strip()
        rpc(self.anvil.url, "anvil_setBalance", [owner, hex(10 ** 21)])
        self.env = {"FLYTRAP_RPC": self.anvil.url,
                    "FLYTRAP_KEY": self.owner_key}
        out = ctl_json(["deploy", "--artifact",
                        self.artifacts / "FlyTrap.bin"], self.env)
        self.contract = out["address"]
        self.env["FLYTRAP_CONTRACT"] = self.contract
        # chaind's wallet: a keystore, funded, made a reporter.
        self.password = tmp / "password"
        self.password.write_text("wallet password\n")
        self.keystore = tmp / "wallet.json"
        self.wallet = ctl_json(["keystore", "create", "--out", self.keystore,
                                "--password-file", self.password])["address"]
        rpc(self.anvil.url, "anvil_setBalance", [self.wallet, hex(10 ** 20)])
        ctl_ok(["reporter", "add", self.wallet], self.env)
        self.runtime = tmp / "run"
        self.runtime.mkdir()
        self.conf = tmp / "flytrap.conf"
        self.conf.write_text(
            "[global]\nrealm = test\nruntime_dir = %s\n"
            "[chaind]\nrpc_url = %s\ncontract = %s\ndatabase = %s\n"
            "keystore = %s\npassword_file = %s\npoll_interval_ms = 100\n"
            "http_listen =\n"
            % (self.runtime, self.anvil.url, self.contract, tmp / "c.db",
               self.keystore, self.password))
        self.chaind = None
        self.runs = 0

    def chaind_start(self):
        self.runs += 1
        self.chaind = Proc("chaind", [str(BUILD / "bin" / "chaind"), "-c",
                                      str(self.conf), "-d"],
                           self.tmp / ("chaind-%d.log" % self.runs))
        self.chaind.start()
        # A killed chaind leaves its socket files behind: wait until the
        # new one accepts on them.
        wait_for(lambda: self.chaind.alive()
                 and unix_accepts(self.runtime / "wallet.sock")
                 and unix_accepts(self.runtime / "status.sock"), 10,
                 "chaind's wallet and status sockets")
        return self.chaind

    def nonce(self):
        return int(rpc(self.anvil.url, "eth_getTransactionCount",
                       [self.wallet, "latest"]), 16)

    def alerts(self):
        """Banned events on the chain, read with eth_getLogs directly."""
        logs = rpc(self.anvil.url, "eth_getLogs",
                   [{"address": self.contract, "fromBlock": "0x0"}])
        return [l for l in logs if len(l["topics"]) == 4 and
                int(l["topics"][3], 16) == BANNED]

    def pending(self):
        out = subprocess.run(
            [str(BUILD / "bin" / "flytrapctl"), "status", "--json",
             "--status-socket", str(self.runtime / "status.sock")],
            capture_output=True, text=True, timeout=10)
        return json.loads(out.stdout)["pending_transactions"]


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    yield w
    if w.chaind is not None:
        w.chaind.stop()
    w.anvil.stop()


def alert(world, target, reason):
    return calldata(world.artifacts / "FlyTrap.abi", "logAlert", BANNED,
                    target, "", reason)


def test_submitted_alert_is_mined_once(world):
    world.chaind_start()
    target = "0x" + "ab" * 20
    assert submit(world.runtime / "wallet.sock", "alert",
                  alert(world, target, "ban-test")) > 0
    wait_for(lambda: len(world.alerts()) == 1, 15, "the alert on-chain")
    wait_for(lambda: world.pending() == 0, 10, "chaind to confirm it")
    assert world.nonce() == 1
    assert ("0x" + "00" * 12 + "ab" * 20) == world.alerts()[0]["topics"][2]
    time.sleep(0.5)
    assert len(world.alerts()) == 1


def test_crash_after_submit_loses_nothing_reuses_no_nonce(world):
    chaind = world.chaind_start()
    for i in range(3):
        assert submit(world.runtime / "wallet.sock", "alert",
                      alert(world, "0x" + "%040x" % (i + 1), "c%d" % i)) > 0
    chaind.stop(sig=signal.SIGKILL)
    world.chaind_start()
    wait_for(lambda: len(world.alerts()) == 3, 20, "three alerts on-chain")
    wait_for(lambda: world.pending() == 0, 10, "chaind to confirm them")
    # Exactly three transactions from the wallet: none lost, none twice.
    assert world.nonce() == 3
    reasons = sorted(l["data"] for l in world.alerts())
    assert len(set(reasons)) == 3


def test_refused_transaction_costs_no_nonce(world):
    world.chaind_start()
    # AddPub is no alert: the contract refuses it (BadAction).
    bad = calldata(world.artifacts / "FlyTrap.abi", "logAlert", ADD_PUB,
                   "0x" + "cd" * 20, "", "not an alert")
    assert submit(world.runtime / "wallet.sock", "bad", bad) > 0
    wait_for(lambda: "refused by the node" in world.chaind.log(), 10,
             "chaind to report the refusal")
    assert world.pending() == 0
    assert world.nonce() == 0
    # The wallet still works afterwards, with the nonce the refusal spared.
    assert submit(world.runtime / "wallet.sock", "alert",
                  alert(world, "0x" + "ef" * 20, "after")) > 0
    wait_for(lambda: len(world.alerts()) == 1, 15, "the alert on-chain")
    assert world.nonce() == 1
