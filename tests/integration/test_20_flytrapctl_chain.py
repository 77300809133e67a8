"""flytrapctl's chain commands against a real anvil: deploy, topics, grants,
purchases, payments and reporters, with ethers (an independent client) as
the judge of what ended up on chain; readable errors and exit statuses;
environment defaults, keystores, legacy transactions, and `status` against
a stand-in for chaind's status socket."""

import io
import json
import os
import re
import socket
import struct
import threading
import time
from pathlib import Path

import msgpack
import pytest

from chainutil import (ANVIL_KEYS, FLYTRAPCTL, FOREVER, Anvil, RpcRelay,
                       check_keystore, contract_build_dir, countries_text,
                       ctl, ctl_json, ctl_ok, ethers_read, rpc, write_key)
from conftest import REPO

EU = ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR",
      "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO",
      "SE", "SI", "SK"]

VERBS = [["deploy"], ["topic"], ["topic", "add"], ["topic", "show"],
         ["topic", "list"], ["topic", "set"], ["grant"], ["revoke"], ["buy"],
         ["reporter"], ["withdraw"], ["keystore"], ["status"]]


class Chain:
    """One anvil with the contract deployed by flytrapctl, and key files:
    owner (contract and topic owner), alice and bob (funded), poor (none)."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.artifacts = contract_build_dir(self.tmp)
        self.abi = self.artifacts / "FlyTrap.abi"
        self.bin = self.artifacts / "FlyTrap.bin"
        self.anvil = Anvil().start()
        self.url = self.anvil.url
        names = ["owner", "alice", "bob", "carol"]
        self.key = {}
        self.addr = {}
        for name, (hexkey, address) in zip(names, ANVIL_KEYS):
            self.key[name] = write_key(self.tmp / (name + ".key"), hexkey)
            self.addr[name] = address
        self.key["poor"] = self.tmp / "poor.key"
        self.addr["poor"] = ctl_ok(["keygen", "--out", self.key["poor"]]) \
            .stdout.strip()
        self.fee = 1000
        out = ctl_json(["deploy", "--rpc", self.url, "--key",
                        self.key["owner"], "--artifact", self.bin, "--fee",
                        str(self.fee)])
        self.contract = out["address"]
        self.deploy_out = out

    def env(self, who="owner", **extra):
        e = {"FLYTRAP_RPC": self.url, "FLYTRAP_CONTRACT": self.contract,
             "FLYTRAP_KEY": self.key[who]}
        e.update(extra)
        return e

    def read(self, calls=(), chain=()):
        return ethers_read(self.url, self.abi, self.contract, calls, chain)

    def topic(self, name):
        """ethers' topic(name) as a dict."""
        (t,), _ = self.read([("topic", name)])
        return {"exists": t[0], "owner": t[1].lower(), "sensitive": t[2],
                "self_service": t[3], "pub_price": int(t[4]),
                "sub_price": int(t[5]), "period": int(t[6]),
                "countries": countries_text(t[7])}

    def access(self, name, who):
        (a,), _ = self.read([("access", name, who)])
        return {"exists": a[0], "pub": int(a[1]), "sub": int(a[2])}

    def block_time(self):
        return int(rpc(self.url, "eth_getBlockByNumber",
                       ["latest", False])["timestamp"], 16)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    c = Chain(tmp_path_factory.mktemp("chain"))
    yield c
    c.anvil.stop()


def add_topic(chain, name, *args, who="owner"):
    return ctl_json(["topic", "add", name] + list(args), chain.env(who))


def revert_of(r):
    """The custom error a failed run names ("revert: NotOwner() — ...")."""
    m = re.search(r"revert: (\w+\(\))", r.stderr)
    return m.group(1) if m else None


# ---- Usage -------------------------------------------------------------------


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_every_verb_has_help(verb):
    r = ctl(verb + ["--help"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: flytrapctl " + verb[0])
    assert r.stderr == ""


@pytest.mark.parametrize("argv", [
    ["deploy", "--no-such-option"],
    ["topic"], ["topic", "frobnicate"], ["topic", "add"],
    ["topic", "add", "a", "b"], ["topic", "set", "a"],
    ["grant", "pub", "t"], ["grant", "both", "t", ANVIL_KEYS[0][1],
                            "--reason", "r"],
    ["grant", "pub", "t", "0x1234", "--reason", "r"],
    ["grant", "pub", "t", ANVIL_KEYS[0][1]],
    ["grant", "pub", "t", ANVIL_KEYS[0][1], "--reason", "r", "--until",
     "1", "--for", "1"],
    ["buy", "pub"], ["buy", "pub", "t", "--for", "nobody"],
    ["reporter", "promote", ANVIL_KEYS[0][1]], ["reporter", "add", "0x00"],
    ["withdraw", "extra"], ["topic", "add", "t", "--pub-price", "1.5"],
    ["topic", "add", "t", "--countries", "DEU"],
    ["topic", "add", "t", "--pub-price", str(2**128)],
    ["topic", "set", "t", "--sensitive", "maybe"],
    ["deploy", "--timeout", "never"],
    ["keystore", "create"], ["status", "extra"],
], ids=lambda a: " ".join(a))
def test_usage_errors_exit_2(argv):
    r = ctl(argv, {"FLYTRAP_CONTRACT": ANVIL_KEYS[0][1]})
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("flytrapctl: ") or \
        "usage: flytrapctl " in r.stderr
    assert r.stdout == ""


# ---- Deploy ------------------------------------------------------------------


def test_deploy(chain):
    out = chain.deploy_out
    assert re.fullmatch(r"0x[0-9a-f]{40}", out["address"])
    assert out["owner"] == chain.addr["owner"]
    assert out["fee"] == str(chain.fee)
    assert out["block"] >= 1 and out["gas_used"] > 1_000_000
    (owner, fee), (code, receipt, tx) = chain.read(
        [("owner",), ("fee",)],
        [("getCode", chain.contract), ("getReceipt", out["tx"]),
         ("getTransaction", out["tx"])])
    assert owner.lower() == chain.addr["owner"]
    assert fee == str(chain.fee)
    assert len(code) > 1000
    assert receipt["status"] == 1
    assert receipt["contractAddress"].lower() == chain.contract
    assert int(receipt["gasUsed"]) == out["gas_used"]
    assert receipt["blockNumber"] == out["block"]
    # EIP-1559 on anvil: max fee = 2 * base fee of the block before + tip.
    _, (prev,) = chain.read(chain=[("getBlock", out["block"] - 1)])
    assert tx["type"] == 2
    assert int(tx["maxFeePerGas"]) == 2 * int(prev["baseFeePerGas"]) + \
        int(tx["maxPriorityFeePerGas"])
    # Estimate + 20 %: the limit is well above what was used.
    assert int(tx["gasLimit"]) >= out["gas_used"] * 1.15


def test_deploy_human_output_and_default_artifact(chain, tmp_path):
    """Without --artifact, deploy finds <bin>/../contracts/FlyTrap.bin (the
    Makefile's rule puts it there) or $FLYTRAP_ARTIFACT."""
    env = {"FLYTRAP_RPC": chain.url, "FLYTRAP_KEY": chain.key["carol"],
           "FLYTRAP_ARTIFACT": chain.bin}
    r = ctl_ok(["deploy"], env)
    address = r.stdout.strip()
    assert re.fullmatch(r"0x[0-9a-f]{40}", address)
    assert "export FLYTRAP_CONTRACT=" + address in r.stderr
    env.pop("FLYTRAP_ARTIFACT")
    default = FLYTRAPCTL.parent.parent / "contracts" / "FlyTrap.bin"
    r = ctl(["deploy"], env)
    if default.exists():
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 1
        assert "FlyTrap.bin" in r.stderr and "--artifact" in r.stderr
    bad = tmp_path / "bad.bin"
    bad.write_text("not hex\n")
    r = ctl(["deploy", "--artifact", bad], env)
    assert r.returncode == 1 and "not hex init code" in r.stderr


# ---- Topics ------------------------------------------------------------------


def test_topic_add_show_list(chain):
    before, _ = chain.read([("credit", chain.addr["owner"])])
    out = add_topic(chain, "plant/+/temp", "--sensitive", "--pub-price",
                    "100", "--sub-price", "2gwei", "--period", "1h",
                    "--countries", "de,FR")
    assert out["topic"] == "plant/+/temp" and out["fee"] == str(chain.fee)
    assert re.fullmatch(r"0x[0-9a-f]{64}", out["tx"])
    eu = add_topic(chain, "eu/#", "--eu")

    # ethers reads what flytrapctl wrote.
    t = chain.topic("plant/+/temp")
    assert t == {"exists": True, "owner": chain.addr["owner"],
                 "sensitive": True, "self_service": True, "pub_price": 100,
                 "sub_price": 2 * 10**9, "period": 3600,
                 "countries": ["DE", "FR"]}
    assert chain.topic("eu/#")["countries"] == EU
    # The creation fee was paid exactly, to the contract owner's credit.
    after, _ = chain.read([("credit", chain.addr["owner"])])
    assert int(after[0]) == int(before[0]) + 2 * chain.fee

    # flytrapctl reads it back the same way.
    show = ctl_json(["topic", "show", "plant/+/temp"], chain.env())
    assert show == {"name": "plant/+/temp", "owner": chain.addr["owner"],
                    "sensitive": True, "self_service": True,
                    "pub_price": "100", "sub_price": "2000000000",
                    "period": "3600", "countries": ["DE", "FR"],
                    "block": show["block"]}
    assert show["block"] >= eu["block"]
    assert ctl_json(["topic", "show", "eu/#"], chain.env())["countries"] \
        == EU
    human = ctl_ok(["topic", "show", "eu/#"], chain.env()).stdout
    assert re.search(r"countries\s+EU \(AT,BE,", human)
    assert re.search(r"sub price\s+0 wei \(free\)", human)

    listed = ctl_json(["topic", "list"], chain.env())
    names, _ = chain.read([("topicCount",)] + [
        ("topicNameAt", i) for i in range(listed["count"])])
    assert listed["count"] == int(names[0])
    assert listed["topics"] == names[1:]
    assert listed["topics"][-2:] == ["plant/+/temp", "eu/#"]
    assert ctl_ok(["topic", "list"], chain.env()).stdout.splitlines() == \
        listed["topics"]


def test_topic_add_twice_and_unknown_topic(chain):
    add_topic(chain, "twice")
    r = ctl(["topic", "add", "twice"], chain.env())
    assert r.returncode == 1
    assert "topic 'twice' exists already" in r.stderr
    for argv in (["topic", "show", "nope"],
                 ["topic", "set", "nope", "--sensitive", "yes"],
                 ["grant", "pub", "nope", chain.addr["bob"], "--reason", "x"],
                 ["revoke", "sub", "nope", chain.addr["bob"], "--reason",
                  "x"],
                 ["buy", "pub", "nope"]):
        r = ctl(argv, chain.env())
        assert r.returncode == 1, argv
        assert "unknown topic 'nope'" in r.stderr, r.stderr


def test_topic_set(chain):
    add_topic(chain, "settable", "--pub-price", "5", "--countries", "CH")
    out = ctl_json(["topic", "set", "settable", "--sensitive", "yes",
                    "--sub-price", "7", "--period", "30d", "--countries",
                    "EU", "--self-service", "closed"], chain.env())
    assert out["ok"] is True and out["unchanged"] == []
    assert [c["setting"] for c in out["changed"]] == [
        "prices", "period", "countries", "sensitive", "self_service"]
    assert all(re.fullmatch(r"0x[0-9a-f]{64}", c["tx"])
               for c in out["changed"])
    t = chain.topic("settable")
    assert t["sensitive"] is True and t["self_service"] is False
    assert (t["pub_price"], t["sub_price"]) == (5, 7)
    assert t["period"] == 30 * 86400
    assert t["countries"] == EU
    show = ctl_json(["topic", "show", "settable"], chain.env())
    assert show["countries"] == EU and show["self_service"] is False

    # Settings already so send nothing.
    out = ctl_json(["topic", "set", "settable", "--sensitive", "yes",
                    "--pub-price", "5", "--self-service", "open"],
                   chain.env())
    assert out["unchanged"] == ["prices", "sensitive"]
    assert [c["setting"] for c in out["changed"]] == ["self_service"]

    # Clearing the countries; human output; then transferring the entry.
    r = ctl_ok(["topic", "set", "settable", "--countries", "any",
                "--sensitive", "no"], chain.env())
    assert "countries: anywhere" in r.stdout and "sensitive: no" in r.stdout
    t = chain.topic("settable")
    assert t["countries"] == [] and t["sensitive"] is False
    out = ctl_json(["topic", "set", "settable", "--owner",
                    chain.addr["alice"]], chain.env())
    assert [c["setting"] for c in out["changed"]] == ["owner"]
    assert chain.topic("settable")["owner"] == chain.addr["alice"]
    # The old owner may no longer change it.
    r = ctl(["topic", "set", "settable", "--period", "1"], chain.env())
    assert r.returncode == 1
    assert "revert: NotTopicOwner() — you are not this topic's owner" in \
        r.stderr
    r = ctl(["topic", "set", "settable", "--period", "1", "--json"],
            chain.env())
    assert r.returncode == 1
    assert json.loads(r.stdout) == {"topic": "settable", "changed": [],
                                    "unchanged": [], "ok": False}


def test_bad_country_is_refused_before_sending(chain):
    r = ctl(["topic", "add", "badcc", "--countries", "DE,1X"], chain.env())
    assert r.returncode == 2
    assert "'1X' is not a country code" in r.stderr
    assert not chain.topic("badcc")["exists"]


# ---- Grants ------------------------------------------------------------------


def test_grant_and_revoke_by_owner(chain):
    add_topic(chain, "devices/#")
    bob, carol = chain.addr["bob"], chain.addr["carol"]
    g = ctl_json(["grant", "pub", "devices/#", bob, "--reason",
                  "installed by ops"], chain.env())
    assert g["expiry"] == str(FOREVER) and g["right"] == "pub"
    assert g["address"] == bob and g["reason"] == "installed by ops"
    now = chain.block_time()
    g = ctl_json(["grant", "sub", "devices/#", bob, "--reason", "trial",
                  "--for", "2h"], chain.env())
    sub_expiry = int(g["expiry"])
    assert now + 7200 <= sub_expiry <= now + 7200 + 60
    until = now + 86400 * 365
    ctl_ok(["grant", "sub", "devices/#", carol, "--reason", "contract",
            "--until", str(until)], chain.env())

    # ethers reads the rights flytrapctl wrote, expiries included.
    assert chain.access("devices/#", bob) == {
        "exists": True, "pub": FOREVER, "sub": sub_expiry}
    assert chain.access("devices/#", carol) == {
        "exists": True, "pub": 0, "sub": until}
    show = ctl_json(["topic", "show", "devices/#", "--who", bob],
                    chain.env())
    assert show["who"] == bob
    assert (show["pub_expiry"], show["sub_expiry"]) == (
        str(FOREVER), str(sub_expiry))
    assert show["pub_active"] is True and show["sub_active"] is True
    human = ctl_ok(["topic", "show", "devices/#", "--who", carol],
                   chain.env()).stdout
    assert re.search(r"publish\s+none", human)
    assert re.search(r"subscribe\s+until \d{4}-\d\d-\d\d .* \(%d\)" % until,
                     human)

    r = ctl_ok(["revoke", "pub", "devices/#", bob, "--reason", "stolen"],
               chain.env())
    assert r.stdout.startswith("revoked publish on 'devices/#' from " + bob)
    assert chain.access("devices/#", bob)["pub"] == 0
    assert chain.access("devices/#", bob)["sub"] == sub_expiry

    # The contract's own checks come back by name.
    r = ctl(["grant", "pub", "devices/#", bob, "--reason", "x", "--until",
             str(now - 10)], chain.env())
    assert r.returncode == 1 and revert_of(r) == "BadExpiry()"
    r = ctl(["grant", "pub", "devices/#", "0x" + "00" * 20, "--reason",
             "x"], chain.env())
    assert r.returncode == 1 and revert_of(r) == "BadAddress()"


def test_grant_by_non_owner_fails_with_decoded_error(chain):
    add_topic(chain, "owned/by/owner")
    for argv in (["grant", "pub", "owned/by/owner", chain.addr["bob"],
                  "--reason", "let me in"],
                 ["revoke", "sub", "owned/by/owner", chain.addr["bob"],
                  "--reason", "x"]):
        r = ctl(argv, chain.env("alice"))
        assert r.returncode == 1
        assert r.stderr.strip() == "flytrapctl: revert: NotTopicOwner() " \
            "— you are not this topic's owner"
        assert r.stdout == ""
    assert chain.access("owned/by/owner", chain.addr["bob"])["pub"] == 0


# ---- Purchases and payments -------------------------------------------------


def test_buy_exact_price_then_withdraw(chain):
    add_topic(chain, "paid/data", "--pub-price", "0.001ether",
              "--sub-price", "12345", "--period", "1d", who="alice")
    alice, bob = chain.addr["alice"], chain.addr["bob"]
    (before,), _ = chain.read([("credit", alice)])
    out = ctl_json(["buy", "sub", "paid/data"], chain.env("bob"))
    assert out["price"] == "12345" and out["address"] == bob
    _, (tx,) = chain.read(chain=[("getTransaction", out["tx"])])
    assert tx["value"] == "12345"
    now = chain.block_time()
    assert now + 86400 - 5 <= int(out["expiry"]) <= now + 86400
    assert chain.access("paid/data", bob)["sub"] == int(out["expiry"])
    out = ctl_json(["buy", "pub", "paid/data", "--for",
                    chain.addr["carol"]], chain.env("bob"))
    assert out["price"] == str(10**15) and out["address"] == \
        chain.addr["carol"]
    assert chain.access("paid/data", chain.addr["carol"])["pub"] > now

    (credit,), _ = chain.read([("credit", alice)])
    assert int(credit) == int(before) + 12345 + 10**15

    # withdraw pays the whole credit out to alice.
    _, (bal0,) = chain.read(chain=[("getBalance", alice)])
    w = ctl_json(["withdraw"], chain.env("alice"))
    assert w["amount"] == credit and w["to"] == alice
    (left,), (bal1, receipt) = chain.read(
        [("credit", alice)], [("getBalance", alice),
                              ("getReceipt", w["tx"])])
    assert left == "0"
    assert int(bal1) == int(bal0) + int(credit) - int(receipt["fee"])
    r = ctl(["withdraw"], chain.env("alice"))
    assert r.returncode == 1 and revert_of(r) == "NoCredit()"
    assert "nothing to withdraw" in r.stderr


def test_buy_free_topic(chain):
    add_topic(chain, "free/+")
    device = chain.addr["poor"]
    r = ctl_ok(["buy", "sub", "free/+", "--for", device], chain.env("bob"))
    assert "paid 0 wei" in r.stdout and "forever" in r.stdout
    assert chain.access("free/+", device) == {
        "exists": True, "pub": 0, "sub": FOREVER}
    r = ctl(["buy", "sub", "free/+", "--for", device], chain.env("bob"))
    assert r.returncode == 1 and revert_of(r) == "AlreadyGranted()"


def test_closed_self_service_refused(chain):
    add_topic(chain, "closed/shop", "--sub-price", "1")
    ctl_ok(["topic", "set", "closed/shop", "--self-service", "closed"],
           chain.env())
    r = ctl(["buy", "sub", "closed/shop"], chain.env("bob"))
    assert r.returncode == 1
    assert r.stderr.strip() == "flytrapctl: revert: SelfServiceClosed() " \
        "— the topic's owner has closed self-service purchase"
    assert chain.access("closed/shop", chain.addr["bob"])["sub"] == 0


def test_insufficient_funds(chain):
    add_topic(chain, "pricey", "--pub-price", "1ether")
    r = ctl(["buy", "pub", "pricey"], chain.env("poor"))
    assert r.returncode == 1
    assert "insufficient funds: %s has 0 wei" % chain.addr["poor"] in \
        r.stderr
    r = ctl(["topic", "add", "poor/topic"], chain.env("poor"))
    assert r.returncode == 1 and "insufficient funds" in r.stderr


# ---- Reporters ---------------------------------------------------------------


def test_reporter_add_remove(chain):
    who = chain.addr["carol"]
    out = ctl_json(["reporter", "add", who], chain.env())
    assert out["reporter"] is True and out["address"] == who
    assert chain.read([("isReporter", who)])[0] == [True]
    r = ctl_ok(["reporter", "remove", who], chain.env())
    assert r.stdout.startswith(who + " is no longer a reporter")
    assert chain.read([("isReporter", who)])[0] == [False]
    r = ctl(["reporter", "add", who], chain.env("bob"))
    assert r.returncode == 1
    assert r.stderr.strip() == "flytrapctl: revert: NotOwner() — you are " \
        "not the contract owner"


# ---- Keys and environment ---------------------------------------------------


def test_env_defaults(chain, tmp_path):
    """Every chain option defaults from its variable; options win."""
    env = chain.env()
    add_topic(chain, "env/topic")
    r = ctl_ok(["grant", "sub", "env/topic", chain.addr["bob"], "--reason",
                "env"], env)
    assert "granted subscribe on 'env/topic'" in r.stdout
    # The command line beats the environment.
    r = ctl(["topic", "list", "--rpc", "http://127.0.0.1:1"], env)
    assert r.returncode == 1
    assert "cannot reach the Ethereum node at http://127.0.0.1:1" in r.stderr
    r = ctl(["topic", "list"], dict(env, FLYTRAP_RPC="http://127.0.0.1:1"))
    assert r.returncode == 1 and "http://127.0.0.1:1" in r.stderr
    # Without FLYTRAP_RPC the default node is 127.0.0.1:8545.
    r = ctl(["topic", "list", "--help"], {})
    assert "default http://127.0.0.1:8545" in r.stdout
    r = ctl(["topic", "list"], {"FLYTRAP_RPC": chain.url})
    assert r.returncode == 2 and "no contract" in r.stderr
    r = ctl(["buy", "pub", "env/topic"], {"FLYTRAP_RPC": chain.url,
                                          "FLYTRAP_CONTRACT":
                                          chain.contract})
    assert r.returncode == 1 and "no key" in r.stderr
    # --key beats FLYTRAP_KEY: alice is not the owner.
    r = ctl(["revoke", "sub", "env/topic", chain.addr["bob"], "--reason",
             "x", "--key", chain.key["alice"]], env)
    assert revert_of(r) == "NotTopicOwner()"


def test_keystore_create_and_sign_with_it(chain, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("correct horse\n")
    ks = tmp_path / "owner.json"
    out = ctl_json(["keystore", "create", "--out", ks, "--key",
                    chain.key["owner"], "--password-file", pw])
    assert out == {"address": chain.addr["owner"]}
    assert (ks.stat().st_mode & 0o777) == 0o600
    key, address = check_keystore(ks, "correct horse")
    assert key == ANVIL_KEYS[0][0] and address == chain.addr["owner"]
    # Never over an existing file.
    r = ctl(["keystore", "create", "--out", ks, "--password-file", pw])
    assert r.returncode == 1 and "File exists" in r.stderr

    # A new key, the password from the environment.
    ks2 = tmp_path / "new.json"
    r = ctl_ok(["keystore", "create", "--out", ks2],
               {"FLYTRAP_KEYSTORE_PASSWORD": "pässwörd"})
    _, address = check_keystore(ks2, "pässwörd")
    assert address == r.stdout.strip()
    r = ctl(["keystore", "create", "--out", tmp_path / "x.json"])
    assert r.returncode == 2 and "no password" in r.stderr

    # Signing with a keystore: option and environment forms.
    add_topic(chain, "ks/topic")
    base = {"FLYTRAP_RPC": chain.url, "FLYTRAP_CONTRACT": chain.contract}
    ctl_ok(["grant", "pub", "ks/topic", chain.addr["bob"], "--reason", "ks",
            "--keystore", ks, "--password-file", pw], base)
    ctl_ok(["grant", "sub", "ks/topic", chain.addr["bob"], "--reason", "ks"],
           dict(base, FLYTRAP_KEYSTORE=ks,
                FLYTRAP_KEYSTORE_PASSWORD="correct horse"))
    assert chain.access("ks/topic", chain.addr["bob"])["sub"] == FOREVER
    r = ctl(["grant", "pub", "ks/topic", chain.addr["bob"], "--reason", "x",
             "--keystore", ks], dict(base, FLYTRAP_KEYSTORE_PASSWORD="no"))
    assert r.returncode == 1 and "wrong password" in r.stderr
    r = ctl(["grant", "pub", "ks/topic", chain.addr["bob"], "--reason", "x",
             "--keystore", ks, "--key", chain.key["owner"]], base)
    assert r.returncode == 1 and "not both" in r.stderr


# ---- Transactions and failures ----------------------------------------------


def test_legacy_transactions_without_base_fee(chain):
    """A node whose blocks have no baseFeePerGas gets legacy transactions
    priced at eth_gasPrice."""
    with RpcRelay(chain.url) as relay:
        out = ctl_json(["topic", "add", "legacy/topic"],
                       chain.env(FLYTRAP_RPC=relay.url))
        methods = list(relay.methods)
    assert "eth_gasPrice" in methods
    assert "eth_maxPriorityFeePerGas" not in methods
    _, (tx,) = chain.read(chain=[("getTransaction", out["tx"])])
    assert tx["type"] == 0 and tx["chainId"] == "31337"
    assert tx["value"] == str(chain.fee)
    assert chain.topic("legacy/topic")["exists"]


def test_node_and_contract_errors(chain):
    env = chain.env()
    r = ctl(["topic", "show", "x", "--contract", "0x" + "12" * 20], env)
    assert r.returncode == 1 and "no FlyTrap contract at 0x1212" in r.stderr
    r = ctl(["topic", "list", "--rpc", "ftp://example.org"], env)
    assert r.returncode == 1 and "bad node URL" in r.stderr
    r = ctl(["topic", "list", "--contract", "0x1234"], env)
    assert r.returncode == 2 and "is not an address" in r.stderr
    r = ctl(["buy", "pub", "x"], dict(env, FLYTRAP_KEY="/nonexistent"))
    assert r.returncode == 1 and "/nonexistent" in r.stderr


# ---- status ------------------------------------------------------------------


def _ipc_constants():
    """IPC_VERSION and the message type numbers, from common/ipc.h."""
    text = (REPO / "common" / "ipc.h").read_text()
    version = int(re.search(r"#define IPC_VERSION (\d+)", text).group(1))
    body = re.search(r"enum ipc_type \{(.*?)\};", text, re.S).group(1)
    types, n = {}, 0
    for line in body.splitlines():
        line = re.sub(r"/\*.*?\*/", "", line).strip().rstrip(",")
        m = re.fullmatch(r"(IPC_\w+)(?:\s*=\s*(\d+))?", line)
        if m:
            n = int(m.group(2)) if m.group(2) else n
            types[m.group(1)] = n
            n += 1
    return version, types


class FakeStatusSocket:
    """Answers one IPC_STATUS per connection as told; records requests."""

    def __init__(self, path, reply):
        self.version, self.types = _ipc_constants()
        self.path = str(path)
        self.reply = reply
        self.requests = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.sock.settimeout(10)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def frame(self, *objs):
        body = b"".join(msgpack.packb(o) for o in objs)
        return struct.pack(">I", len(body)) + body

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            head = conn.recv(4, socket.MSG_WAITALL)
            (n,) = struct.unpack(">I", head)
            body = conn.recv(n, socket.MSG_WAITALL)
            self.requests.append(list(msgpack.Unpacker(io.BytesIO(body))))
            version, _, rid = self.requests[-1][:3]
            conn.sendall(self.reply(self, rid))

    def close(self):
        self.sock.close()
        self.thread.join(5)
        os.unlink(self.path)


STATUS = {"node": "http://127.0.0.1:8545", "chain_id": 31337,
          "head_block": 12, "wallet": {"address": "0xabc", "reporter": True},
          "errors": []}


def test_status_prints_chaind_answer(tmp_path):
    path = tmp_path / "status.sock"

    def reply(fake, rid):
        # A push first (id 0): flytrapctl must skip it.
        return fake.frame(fake.version, fake.types["IPC_ACL_INVALIDATE"], 0,
                          "x") + \
            fake.frame(fake.version, fake.types["IPC_STATUS_REPLY"], rid,
                       json.dumps(STATUS))

    fake = FakeStatusSocket(path, reply)
    try:
        r = ctl(["status", "--json"], {"FLYTRAP_STATUS_SOCKET": path})
    finally:
        fake.close()
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == STATUS
    assert fake.requests == [[fake.version, fake.types["IPC_STATUS"], 1]]

    fake = FakeStatusSocket(path, reply)
    try:
        r = ctl(["status", "--status-socket", path])
    finally:
        fake.close()
    assert r.returncode == 0, r.stderr
    assert "chain_id: 31337" in r.stdout
    assert "wallet:\n  address: 0xabc\n  reporter: yes" in r.stdout


def test_status_error_reply_and_silence(tmp_path):
    path = tmp_path / "status.sock"
    fake = FakeStatusSocket(path, lambda f, rid: f.frame(
        f.version, f.types["IPC_ERROR_REPLY"], rid, 7, "not ready"))
    try:
        r = ctl(["status", "--status-socket", path])
    finally:
        fake.close()
    assert r.returncode == 1 and "not ready" in r.stderr

    # A socket that never answers: bounded by --timeout.
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(str(tmp_path / "silent.sock"))
    silent.listen(1)
    try:
        t0 = time.monotonic()
        r = ctl(["status", "--status-socket", tmp_path / "silent.sock",
                 "--timeout", "1"])
        assert time.monotonic() - t0 < 5
    finally:
        silent.close()
    assert r.returncode == 1 and "did not answer" in r.stderr


def test_status_without_socket(tmp_path):
    missing = tmp_path / "nothing.sock"
    r = ctl(["status"], {"FLYTRAP_STATUS_SOCKET": missing})
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith(
        "flytrapctl: status: cannot connect to chaind's status socket %s: "
        "No such file or directory" % missing)
    assert "is chaind running?" in r.stderr
    r = ctl(["status", "--status-socket", "/x" * 80])
    assert r.returncode == 1 and "File name too long" in r.stderr
