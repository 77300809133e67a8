"""proxyd's bound on credential checks waiting at authd, per client IP and
in all, with a scripted authd that holds every token check until the test
releases it (component test: real proxyd and mosquitto, simulated authd and
chaind). Clients come from distinct loopback addresses (127.0.0.x).

Covered: one IP never has more than max_auth_pending_per_ip checks at
authd, the rest wait in proxyd (not refused) and are sent in turn as
answers come back; another IP is not held up by the first; the proxy-wide
bound max_auth_pending; a waiting client that gives up or runs out of time
leaves the queue cleanly; nothing is refused for waiting.
"""

import socket
import struct
import threading
import time
from pathlib import Path

import msgpack
import pytest

import fakechaind
import mqttraw
from conftest import HOST, token, v5_token_props, wait_for
from fakechaind import IPC_VERSION, TYPES

AUTH_TOKEN = TYPES["IPC_AUTH_TOKEN"]
AUTH_TOKEN_REPLY = TYPES["IPC_AUTH_TOKEN_REPLY"]
CONN_CHECK = TYPES["IPC_CONN_CHECK"]
CONN_CHECK_REPLY = TYPES["IPC_CONN_CHECK_REPLY"]
STRIKE = TYPES["IPC_STRIKE"]
STRIKE_REPLY = TYPES["IPC_STRIKE_REPLY"]
ADDRESS = "0x" + "ab" * 20


def frame(objs):
    body = b"".join(msgpack.packb(o, use_bin_type=True) for o in objs)
    return struct.pack("!I", len(body)) + body


class HoldingAuthd:
    """Answers IP checks at once and holds every AUTH_TOKEN until
    release() is called; records which peer asked, in order."""

    def __init__(self, runtime_dir):
        self.path = Path(runtime_dir) / "authd.sock"
        self.cond = threading.Condition()
        self.held = []  # (conn, id, peer)
        self.asked = []  # peers of every AUTH_TOKEN, in arrival order
        self.errors = []

    def start(self):
        if self.path.exists():
            self.path.unlink()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.listener.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self.listener.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        buf = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while len(buf) >= 4:
                (n,) = struct.unpack_from("!I", buf)
                if len(buf) < 4 + n:
                    break
                body, buf = buf[4:4 + n], buf[4 + n:]
                u = msgpack.Unpacker(raw=False)
                u.feed(body)
                objs = list(u)
                self._handle(conn, objs)

    def _handle(self, conn, objs):
        _, mtype, rid = objs[:3]
        fields = objs[3:]
        if mtype == CONN_CHECK:
            conn.sendall(frame([IPC_VERSION, CONN_CHECK_REPLY, rid, 0, 0,
                                ""]))
        elif mtype == STRIKE:
            conn.sendall(frame([IPC_VERSION, STRIKE_REPLY, rid]))
        elif mtype == AUTH_TOKEN:
            with self.cond:
                self.held.append((conn, rid, fields[0]))
                self.asked.append(fields[0])
                self.cond.notify_all()
        else:
            with self.cond:
                self.errors.append(mtype)

    def held_by(self):
        with self.cond:
            return sorted(p for _, _, p in self.held)

    def wait_held(self, n, timeout=5):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.held) >= n,
                                      timeout), self.held
            time.sleep(0.2)  # nothing more arrives
            return sorted(p for _, _, p in self.held)

    def release(self, peer=None):
        """Answers the oldest held check (of `peer`) with AUTH_OK."""
        with self.cond:
            for i, (conn, rid, p) in enumerate(self.held):
                if peer is None or p == peer:
                    del self.held[i]
                    conn.sendall(frame([IPC_VERSION, AUTH_TOKEN_REPLY, rid,
                                        0, ADDRESS]))
                    return p
        raise AssertionError("nothing held for %r" % peer)


@pytest.fixture
def world(ft):
    def make(per_ip, total):
        ft.broker_start()
        chaind = fakechaind.FakeChaind(ft.runtime_dir,
                                       fakechaind.ALLOW).start()
        ft.fakes.append(chaind)
        authd = HoldingAuthd(ft.runtime_dir).start()
        ft.write_config(proxyd={"max_auth_pending_per_ip": per_ip,
                                "max_auth_pending": total,
                                "connect_timeout_ms": 4000,
                                "auth_timeout_ms": 8000})
        ft.proxyd_start()
        wait_for(lambda: "connected to authd" in ft.proxyd.log(), 5,
                 "proxyd to connect to the fake authd")
        return authd
    return make


def client(ft, source, cid):
    c = mqttraw.Conn(HOST, ft.proxy_port, source=source)
    ft.conns.append(c)
    tok = token(ft.key() if not hasattr(ft, "_qkey") else ft._qkey, cid,
                realm=ft.realm)
    c.send(mqttraw.connect(cid, mqttraw.V5, 60, props=v5_token_props(tok)))
    return c


def test_one_ip_waits_its_turn_and_others_pass(ft, world):
    authd = world(per_ip=2, total=100)
    ft._qkey = ft.key()
    a = [client(ft, "127.0.0.2", "a%d" % i) for i in range(6)]
    b = client(ft, "127.0.0.3", "b")
    assert authd.wait_held(3) == ["127.0.0.2", "127.0.0.2", "127.0.0.3"]
    # b's check went out although a's four others wait.
    authd.release("127.0.0.3")
    assert b.expect(mqttraw.CONNACK).reason == 0
    # Each answer to a lets exactly one more of a's through.
    for _ in range(4):
        authd.release("127.0.0.2")
        assert authd.wait_held(2) == ["127.0.0.2", "127.0.0.2"]
    authd.release("127.0.0.2")
    authd.release("127.0.0.2")
    for c in a:
        assert c.expect(mqttraw.CONNACK).reason == 0
    assert authd.asked.count("127.0.0.2") == 6
    assert not authd.errors


def test_proxy_wide_bound(ft, world):
    authd = world(per_ip=2, total=3)
    ft._qkey = ft.key()
    cs = [client(ft, "127.0.0.%d" % (10 + i), "c%d" % i) for i in range(5)]
    assert len(authd.wait_held(3)) == 3
    for _ in range(5):
        authd.release()
        time.sleep(0.1)
        assert len(authd.held) <= 3
    for c in cs:
        assert c.expect(mqttraw.CONNACK).reason == 0


def test_waiting_clients_that_leave_or_time_out(ft, world):
    authd = world(per_ip=1, total=100)
    ft._qkey = ft.key()
    first = client(ft, "127.0.0.2", "first")
    leaver = client(ft, "127.0.0.2", "leaver")
    late = client(ft, "127.0.0.2", "late")
    assert authd.wait_held(1) == ["127.0.0.2"]
    leaver.close()
    time.sleep(0.3)
    authd.release()
    assert first.expect(mqttraw.CONNACK).reason == 0
    # The leaver's turn is skipped: late is next.
    assert authd.wait_held(1) == ["127.0.0.2"]
    # Held past the CONNECT deadline: refused 0x88, the slot is freed.
    seen = late.recv_until_closed(8)
    assert [p.reason for p in seen if p.type == mqttraw.CONNACK] == [0x88]
    again = client(ft, "127.0.0.2", "again")
    # Held: late's check (proxyd gave up on it) and again's.
    assert authd.wait_held(2) == ["127.0.0.2", "127.0.0.2"]
    authd.release()
    authd.release()
    assert again.expect(mqttraw.CONNACK).reason == 0
    assert authd.asked.count("127.0.0.2") == 3  # never the leaver's
    assert ft.proxyd.alive()
