"""Fixtures for FlyTrap's end-to-end tests: a real mosquitto on a free port,
authd and proxyd from $FLYTRAP_BUILD/bin with a per-test configuration,
flytrapctl keys and tokens, paho clients; daemon logs are attached to the
report of a failing test and every process is killed at teardown.
"""

import atexit
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import mqttraw

REPO = Path(__file__).resolve().parents[2]
_build = Path(os.environ.get("FLYTRAP_BUILD", "build"))
BUILD = _build if _build.is_absolute() else REPO / _build
BIN = BUILD / "bin"
MOSQUITTO = "/usr/sbin/mosquitto"
ETHSIGN = REPO / "tests" / "tools" / "ethsign.js"
# The DB-IP Country Lite database `make deps` installs from npm.
GEOIP_DB = (REPO / "node_modules" / "@ip-location-db" / "dbip-country-mmdb"
            / "dbip-country.mmdb")
REALM = "flytrap-test-realm"
HOST = "127.0.0.1"

# Every child process any test started, so that none outlives the session
# even if a fixture's teardown never runs.
_ALL_PROCS = []


def _kill_all():
    for p in _ALL_PROCS:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass


def _on_sigterm(signum, frame):
    # Killed from outside (a CI timeout): atexit would not run.
    _kill_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


atexit.register(_kill_all)


def wait_for(pred, timeout, what, interval=0.01):
    """Polls pred() until it returns a true value (returned) or fails the
    test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            pytest.fail("timed out after %.1fs waiting for %s" % (
                timeout, what))
        time.sleep(interval)


def free_port():
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def tcp_accepts(port, host=HOST):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def unix_accepts(path):
    if not os.path.exists(path):
        return False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(0.2)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def rss_kb(pid):
    """VmRSS of a process in kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def run(argv, timeout=10, check=True, **kw):
    """Runs a short command; returns the CompletedProcess (text mode)."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d\nstdout: %s\nstderr: %s" % (
            argv, r.returncode, r.stdout, r.stderr))
    return r


def ethsign(keyfile, message):
    """The EIP-191 signature of message (str or bytes) by ethers."""
    if isinstance(message, bytes):
        args = [str(keyfile), "--hex", message.hex()]
    else:
        args = [str(keyfile), message]
    return run(["node", str(ETHSIGN)] + args).stdout.strip()


class Key:
    def __init__(self, path, address):
        self.path = Path(path)
        self.address = address

    def __repr__(self):
        return "<Key %s>" % self.address


def keygen(path):
    r = run([str(BIN / "flytrapctl"), "keygen", "--out", str(path)])
    return Key(path, r.stdout.strip().splitlines()[-1].strip())


def token(key, client_id=None, realm=REALM, at=None, static=False):
    """flytrapctl token --json, as a dict."""
    argv = [str(BIN / "flytrapctl"), "token", "--key", str(key.path),
            "--realm", realm, "--json"]
    if static:
        argv.append("--static")
    else:
        argv += ["--client-id", client_id]
    if at is not None:
        argv += ["--time", str(int(at))]
    return json.loads(run(argv).stdout)


def v5_token_props(tok):
    """CONNECT user properties of a timed token, for mqttraw.connect()."""
    return [(mqttraw.PROP_USER_PROPERTY, ("flytrap-sig", tok["signature"])),
            (mqttraw.PROP_USER_PROPERTY, ("flytrap-time", str(tok["time"])))]


class Proc:
    """A child process in its own process group, output to a log file."""

    def __init__(self, name, argv, log_path):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.popen = None
        self.expected_exit = False
        self.exit_status = None

    def start(self):
        with open(self.log_path, "ab") as log:
            log.write(("==== %s: %s\n" % (time.strftime("%H:%M:%S"),
                                         " ".join(self.argv))).encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        _ALL_PROCS.append(self.popen)
        self.expected_exit = False
        self.exit_status = None
        return self

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def send_signal(self, sig):
        if self.alive():
            self.popen.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Signals the process and reaps it; SIGKILLs the group after
        timeout. Returns the exit status (negative: killed by signal)."""
        if self.popen is None:
            return None
        self.expected_exit = True
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(sig)
            except OSError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever it started too.
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except OSError:
            pass
        if self.popen.poll() is None:
            self.popen.wait(5)
        self.exit_status = self.popen.returncode
        return self.exit_status

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class Paho:
    """A paho client (v5 or v3.1.1) driven from its own network thread, with
    a message queue and blocking helpers that all take timeouts."""

    def __init__(self, port, client_id, version=mqttraw.V5, username=None,
                 password=None, user_props=None, keepalive=30):
        self.port = port
        self.version = version
        self.client = paho.Client(
            client_id=client_id,
            protocol=paho.MQTTv5 if version == mqttraw.V5 else paho.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.user_props = user_props
        self.keepalive = keepalive
        self.connack = queue.Queue()
        self.disconnected = threading.Event()
        self.messages = queue.Queue()
        self.subacks = {}
        self.cond = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, client, userdata, flags, rc, properties=None):
        self.connack.put(rc.value if hasattr(rc, "value") else int(rc))

    def _on_disconnect(self, client, userdata, rc, properties=None):
        self.disconnected.set()
        self.connack.put(None)

    def _on_message(self, client, userdata, msg):
        self.messages.put(msg)

    def _on_subscribe(self, client, userdata, mid, granted, properties=None):
        with self.cond:
            self.subacks[mid] = [g.value if hasattr(g, "value") else g
                                 for g in granted]
            self.cond.notify_all()

    def connect(self, timeout=5.0):
        """Returns the CONNACK code (v5 reason / v3.1.1 return code), or
        None when the connection closed without a CONNACK."""
        props = None
        if self.version == mqttraw.V5:
            props = Properties(PacketTypes.CONNECT)
            if self.user_props:
                props.UserProperty = list(self.user_props)
        self.client.connect(HOST, self.port, keepalive=self.keepalive,
                            properties=props)
        self.client.loop_start()
        try:
            rc = self.connack.get(timeout=timeout)
        except queue.Empty:
            pytest.fail("paho: no CONNACK within %.1fs" % timeout)
        if rc != 0:
            # Stop paho's automatic reconnects (they would replay the token).
            self.client.loop_stop()
        return rc

    def subscribe(self, topic, qos=0, timeout=5.0):
        rc, mid = self.client.subscribe(topic, qos)
        assert rc == paho.MQTT_ERR_SUCCESS, rc
        with self.cond:
            ok = self.cond.wait_for(lambda: mid in self.subacks, timeout)
        assert ok, "paho: no SUBACK for %s" % topic
        return self.subacks[mid]

    def publish(self, topic, payload, qos=0, timeout=5.0):
        info = self.client.publish(topic, payload, qos)
        info.wait_for_publish(timeout)
        assert info.is_published(), "paho: publish to %s not completed" % topic

    def get(self, timeout=5.0):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            pytest.fail("paho: no message within %.1fs" % timeout)

    def get_nowait_all(self):
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def close(self):
        try:
            self.client.disconnect()
        except Exception:
            pass
        self.client.loop_stop()


class FlyTrap:
    """One test's world: a broker, authd, proxyd, keys and clients."""

    def __init__(self, request, tmp_path):
        self.request = request
        self.dir = Path(tmp_path)
        # Unix socket paths are short (108 bytes): keep the runtime dir
        # out of pytest's long tmp names.
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="ft-"))
        self.realm = REALM
        self.broker_port = free_port()
        self.proxy_port = free_port()
        self.broker = None
        self.authd = None
        self.proxyd = None
        self.config_path = None
        self.clients = []
        self.conns = []
        self.fakes = []
        self.chaind = None
        self._keys = 0

    # ---- broker -------------------------------------------------------

    def broker_start(self, lines=(), allow_anonymous=True):
        """Starts mosquitto on self.broker_port (extra config `lines`)."""
        conf = self.dir / "mosquitto.conf"
        text = [
            "listener %d %s" % (self.broker_port, HOST),
            "allow_anonymous %s" % ("true" if allow_anonymous else "false"),
            "persistence false",
            "log_dest stderr",
            "log_type all",
            "connection_messages true",
            # Run as whoever we are (as root mosquitto would drop to the
            # "mosquitto" user, which cannot read our temp files).
            "user %s" % _username(),
        ]
        text += list(lines)
        conf.write_text("\n".join(text) + "\n")
        self.broker = Proc("mosquitto", [MOSQUITTO, "-c", conf],
                           self.dir / "mosquitto.log").start()
        self._wait_tcp(self.broker, self.broker_port)
        return self.broker

    def broker_restart(self):
        self.broker.stop()
        self.broker.start()
        self._wait_tcp(self.broker, self.broker_port)

    def fake_broker(self, reason=0):
        fb = mqttraw.FakeBroker(self.broker_port, reason)
        self.fakes.append(fb)
        return fb

    # ---- FlyTrap ------------------------------------------------------

    def write_config(self, global_=None, proxyd=None, authd=None, raw=None):
        """Writes the INI file; dicts override the test defaults. raw, if
        given, is appended verbatim."""
        g = {"realm": self.realm, "runtime_dir": str(self.runtime_dir),
             "log_level": "debug"}
        p = {"listen": "%s:%d" % (HOST, self.proxy_port),
             "broker": "%s:%d" % (HOST, self.broker_port),
             "connect_timeout_ms": "2000", "auth_timeout_ms": "1000"}
        # Bans are off unless a test turns them on: most tests are refused
        # on purpose, again and again, from one loopback address.
        a = {"ban_threshold": "0", "address_ban_threshold": "0",
             "bans_file": str(self.dir / "bans.json"),
             "geoip_database": str(GEOIP_DB)}
        g.update(global_ or {})
        p.update(proxyd or {})
        a.update(authd or {})
        out = []
        for name, sec in (("global", g), ("proxyd", p), ("authd", a)):
            out.append("[%s]" % name)
            out += ["%s = %s" % (k, v) for k, v in sec.items()
                    if v is not None]
            out.append("")
        if raw:
            out.append(raw)
        self.config_path = self.dir / "flytrap.conf"
        self.config_path.write_text("\n".join(out))
        return self.config_path

    @property
    def authd_sock(self):
        return self.runtime_dir / "authd.sock"

    def authd_start(self):
        require_binary("authd")
        if self.authd is None:
            self.authd = Proc("authd", [BIN / "authd", "-c", self.config_path,
                                        "-d"], self.dir / "authd.log")
        self.authd.start()
        wait_for(lambda: self._check_alive(self.authd)
                 and unix_accepts(self.authd_sock), 5, "authd's socket")
        return self.authd

    def proxyd_start(self):
        require_binary("proxyd")
        if self.proxyd is None:
            self.proxyd = Proc("proxyd", [BIN / "proxyd", "-c",
                                          self.config_path, "-d"],
                               self.dir / "proxyd.log")
        self.proxyd.start()
        self._wait_tcp(self.proxyd, self.proxy_port)
        return self.proxyd

    def start(self, broker=True, broker_lines=(), allow_anonymous=True,
              chaind=True, **config):
        """Broker (unless False), config, authd, proxyd; ready to use.

        These tests are about authentication and relaying, so chaind is
        simulated and allows everything (chaind=False: no chaind at all,
        so proxyd denies, failing closed). Authorisation against the real
        contract, chaind and node is tested in test_30_chain_e2e.py.
        """
        if broker:
            self.broker_start(broker_lines, allow_anonymous)
        if chaind:
            import fakechaind
            self.chaind = fakechaind.FakeChaind(
                self.runtime_dir, default=fakechaind.ALLOW).start()
            self.fakes.append(self.chaind)
        self.write_config(**config)
        self.authd_start()
        self.proxyd_start()
        return self

    def _check_alive(self, proc):
        if not proc.alive():
            pytest.fail("%s exited with status %s during startup:\n%s" % (
                proc.name, proc.popen.returncode, proc.log()[-4000:]))
        return True

    def _wait_tcp(self, proc, port):
        wait_for(lambda: self._check_alive(proc) and tcp_accepts(port), 5,
                 "%s to listen on port %d" % (proc.name, port))

    # ---- keys, tokens, clients ---------------------------------------

    def key(self):
        self._keys += 1
        return keygen(self.dir / ("key%d" % self._keys))

    def token(self, key, client_id=None, **kw):
        kw.setdefault("realm", self.realm)
        return token(key, client_id, **kw)

    def raw(self, version=mqttraw.V5, port=None, **kw):
        c = mqttraw.Conn(HOST, port or self.proxy_port, version, **kw)
        self.conns.append(c)
        return c

    def raw_connect(self, key, client_id, version=mqttraw.V5, keep_alive=60,
                    at=None, rcvbuf=None, **kw):
        """A raw connection authenticated with a fresh timed token (signed
        for time `at`, default now); returns (conn, connack). Two tokens for
        one client id in the same second are the same token (RFC 6979), so
        the second is a replay unless `at` differs."""
        tok = self.token(key, client_id, at=at)
        c = self.raw(version, rcvbuf=rcvbuf)
        if version == mqttraw.V5:
            c.send(mqttraw.connect(client_id, version, keep_alive,
                                   props=v5_token_props(tok), **kw))
        else:
            c.send(mqttraw.connect(client_id, version, keep_alive,
                                   username=tok["username"],
                                   password=tok["password"], **kw))
        return c, c.expect(mqttraw.CONNACK)

    def paho(self, key, client_id, version=mqttraw.V5, connect=True,
             port=None, expect_rc=0, **kw):
        """A paho client carrying a fresh timed token (key may be None for
        no credentials); connected (asserting expect_rc) unless
        connect=False."""
        user_props = None
        username = password = None
        if key is not None:
            tok = self.token(key, client_id)
            if version == mqttraw.V5:
                user_props = [("flytrap-sig", tok["signature"]),
                              ("flytrap-time", str(tok["time"]))]
            else:
                username, password = tok["username"], tok["password"]
        c = Paho(port or self.proxy_port, client_id, version, username,
                 password, user_props, **kw)
        self.clients.append(c)
        if connect:
            rc = c.connect()
            assert rc == expect_rc, "paho CONNACK %r, wanted %r" % (
                rc, expect_rc)
        return c

    # ---- teardown and logs -------------------------------------------

    def procs(self):
        return [p for p in (self.proxyd, self.authd, self.broker) if p]

    def logs(self):
        out = []
        for p in self.procs():
            out.append("---- %s (%s) ----\n%s" % (p.name, p.log_path,
                                                  p.log()[-20000:]))
        return "\n".join(out)

    def teardown(self):
        for c in self.clients:
            c.close()
        for c in self.conns:
            c.close()
        crashed = []
        for p in self.procs():
            if (p.popen is not None and not p.expected_exit
                    and p.popen.poll() is not None):
                crashed.append("%s exited on its own with status %s" % (
                    p.name, p.popen.returncode))
            p.stop()
        for fb in self.fakes:
            fb.stop()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)
        return crashed


def _username():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


# ---- pytest wiring ----------------------------------------------------------


def pytest_configure(config):
    signal.signal(signal.SIGTERM, _on_sigterm)
    if not (BIN / "flytrapctl").exists():
        raise pytest.UsageError(
            "%s missing (run `make all`)" % (BIN / "flytrapctl"))


def require_binary(name):
    if not (BIN / name).exists():
        pytest.fail("%s missing (run `make all`)" % (BIN / name))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for system in getattr(item, "_flytrap_systems", ()):
            rep.sections.append(("FlyTrap logs (%s)" % rep.when,
                                 system.logs()))


@pytest.fixture
def ft(request, tmp_path):
    """An unstarted FlyTrap world; call ft.start(...) with config overrides.
    Fails the test if a daemon died on its own during it."""
    system = FlyTrap(request, tmp_path)
    request.node._flytrap_systems = [system]
    yield system
    crashed = system.teardown()
    if crashed:
        pytest.fail("; ".join(crashed))


@pytest.fixture
def flytrap(ft):
    """mosquitto + authd + proxyd with the default test configuration."""
    return ft.start()


@pytest.fixture(scope="session")
def keys(tmp_path_factory):
    """Two keys made by flytrapctl keygen, shared by the session."""
    d = tmp_path_factory.mktemp("keys")
    return [keygen(d / "a.key"), keygen(d / "b.key")]
