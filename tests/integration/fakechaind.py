"""A stand-in for chaind, for component tests of proxyd (chaind is
simulated; the end-to-end tests against a real chain are elsewhere).

It listens on <runtime_dir>/chaind.sock and speaks FlyTrap's IPC framing
(docs/IPC.md): u32 big-endian length, then msgpack objects in sequence
[IPC_VERSION, type, id, fields...]. The version and the numbers of message
types, actions and verdicts are read from common/ipc.h and common/acl.h at
import time, so a change there cannot silently leave this file behind.

It answers IPC_ACL_CHECK from a rule table the test controls (first match
wins; an entry may contain ${address}; a subscription filter is judged by
coverage, a concrete topic by matching), can be told to hang or to answer
ACL_UNAVAILABLE or to answer late, pushes IPC_ACL_INVALIDATE, and records
every request it gets. Anything malformed that proxyd sends is recorded in
`errors` (tests assert it stays empty).
"""

import os
import re
import socket
import struct
import threading
import time
from pathlib import Path

import msgpack

REPO = Path(__file__).resolve().parents[2]


def _parse_enum(text, name):
    """{member: value} of a C enum `name` (explicit values or counting)."""
    m = re.search(r"enum %s \{(.*?)\};" % name, text, re.S)
    if m is None:
        raise RuntimeError("enum %s not found" % name)
    out = {}
    n = 0
    for line in m.group(1).splitlines():
        line = re.sub(r"/\*.*?\*/", "", line).strip().rstrip(",").strip()
        if not line or line.startswith("/*") or line.startswith("*"):
            continue
        mm = re.match(r"^([A-Z_0-9]+)(?:\s*=\s*(\d+))?$", line)
        if mm is None:
            raise RuntimeError("cannot parse enum %s line %r" % (name, line))
        if mm.group(2) is not None:
            n = int(mm.group(2))
        out[mm.group(1)] = n
        n += 1
    return out


def _constants():
    ipc_h = (REPO / "common" / "ipc.h").read_text()
    acl_h = (REPO / "common" / "acl.h").read_text()
    m = re.search(r"^#define IPC_VERSION (\d+)$", ipc_h, re.M)
    if m is None:
        raise RuntimeError("IPC_VERSION not found in common/ipc.h")
    return (int(m.group(1)), _parse_enum(ipc_h, "ipc_type"),
            _parse_enum(acl_h, "acl_action"), _parse_enum(acl_h, "acl_verdict"))


IPC_VERSION, TYPES, ACTIONS, VERDICTS = _constants()
ACL_CHECK = TYPES["IPC_ACL_CHECK"]
ACL_CHECK_REPLY = TYPES["IPC_ACL_CHECK_REPLY"]
ACL_INVALIDATE = TYPES["IPC_ACL_INVALIDATE"]
ALERT = TYPES["IPC_ALERT"]
ALERT_REPLY = TYPES["IPC_ALERT_REPLY"]
BAN_SYNC = TYPES["IPC_BAN_SYNC"]
BAN_SYNC_REPLY = TYPES["IPC_BAN_SYNC_REPLY"]
PUBLISH = ACTIONS["ACL_PUBLISH"]
SUBSCRIBE = ACTIONS["ACL_SUBSCRIBE"]
ALLOW = VERDICTS["ACL_ALLOW"]
DENY = VERDICTS["ACL_DENY"]
UNAVAILABLE = VERDICTS["ACL_UNAVAILABLE"]


# ---- Topic rules (as common/topic.c has them) ------------------------------


def _valid_filter(levels):
    for i, lv in enumerate(levels):
        if lv == "#":
            if i != len(levels) - 1:
                return False
        elif lv != "+" and ("+" in lv or "#" in lv):
            return False
    return True


def covers(entry, filt):
    """True when every topic `filt` matches is matched by `entry` (for a
    concrete topic: `entry` matches it)."""
    if not entry or not filt:
        return False
    e, f = entry.split("/"), filt.split("/")
    if not _valid_filter(e) or not _valid_filter(f):
        return False
    for i in range(len(e)):
        el = e[i]
        fl = f[i] if i < len(f) else None
        if el == "#":
            return not (i == 0 and fl not in (None, "+", "#")
                        and fl.startswith("$"))
        if fl is None:
            return False
        if fl == "#":
            no_parent = i == 0 or (i == 1 and f[0] == "")
            return no_parent and el == "+" and e[i + 1:] == ["#"]
        if fl == "+":
            if el != "+":
                return False
        elif el == "+":
            if i == 0 and fl.startswith("$"):
                return False
        elif el != fl:
            return False
    return len(f) == len(e)


class Rule:
    def __init__(self, action, entry, verdict, address=None, valid_until=0,
                 sensitive=False, countries=""):
        self.action = action
        self.entry = entry
        self.verdict = verdict
        self.address = address.lower() if address else None
        self.valid_until = valid_until
        self.sensitive = sensitive
        self.countries = countries

    def applies(self, address, action, topic):
        if self.action != action:
            return False
        if self.address is not None and self.address != address:
            return False
        return covers(self.entry.replace("${address}", address), topic)


def _peer_name(conn):
    """The command name of the process at the other end of a Unix socket."""
    try:
        cred = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                               struct.calcsize("3i"))
        pid = struct.unpack("3i", cred)[0]
        return Path("/proc/%d/comm" % pid).read_text().strip()
    except OSError:
        return ""


# ---- The server ------------------------------------------------------------


class FakeChaind:
    """Component-test stand-in for chaind; see the module docstring."""

    def __init__(self, runtime_dir, default=DENY):
        self.path = Path(runtime_dir) / "chaind.sock"
        self.default = default
        self.rules = []
        self.mode = "answer"  # or "hang", "unavailable"
        self.delay = 0.0
        self.requests = []  # (address, action, topic), in arrival order
        self.alerts = []  # IPC_ALERT fields from authd, in arrival order
        self.ban_syncs = 0
        self.held = []  # (conn, id) of requests left unanswered
        self.errors = []
        self.accepted = 0
        self.cond = threading.Condition()
        self.listener = None
        self.conns = []
        self.stopping = False

    # ---- life ------------------------------------------------------------

    def start(self):
        if self.path.exists():
            self.path.unlink()
        self.stopping = False
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(str(self.path))
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,),
                         daemon=True).start()
        return self

    def stop(self):
        """Closes the socket and every connection, as a dying chaind."""
        self.stopping = True
        if self.listener is not None:
            try:
                self.listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.listener.close()
            self.listener = None
        with self.cond:
            conns, self.conns = self.conns, []
            self.held = []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _accept(self, listener):
        while not self.stopping:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with self.cond:
                self.conns.append(conn)
                # authd connects too (alerts, ban sync): only proxyd's
                # connections are counted.
                if _peer_name(conn) != "authd":
                    self.accepted += 1
                self.cond.notify_all()
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    # ---- rules -----------------------------------------------------------

    def set_rules(self, rules, default=None):
        with self.cond:
            self.rules = list(rules)
            if default is not None:
                self.default = default

    def allow(self, action, entry, address=None, **kw):
        with self.cond:
            self.rules.append(Rule(action, entry, ALLOW, address, **kw))

    def deny(self, action, entry, address=None, **kw):
        with self.cond:
            self.rules.append(Rule(action, entry, DENY, address, **kw))

    def decide(self, address, action, topic):
        with self.cond:
            for r in self.rules:
                if r.applies(address, action, topic):
                    return (r.verdict, r.valid_until, r.sensitive,
                            r.countries)
            return (self.default, 0, False, "")

    # ---- what proxyd asked -----------------------------------------------

    def request_count(self):
        with self.cond:
            return len(self.requests)

    def requests_for(self, topic):
        with self.cond:
            return [r for r in self.requests if r[2] == topic]

    def wait_requests(self, n, timeout=5.0):
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.requests) >= n, timeout)
        assert ok, "fake chaind got %d requests, wanted %d" % (
            len(self.requests), n)

    def wait_connections(self, n=1, timeout=10.0):
        with self.cond:
            ok = self.cond.wait_for(lambda: self.accepted >= n, timeout)
        assert ok, "proxyd connected to the fake chaind %d times, wanted " \
            "%d" % (self.accepted, n)

    # ---- pushes and late answers -----------------------------------------

    def invalidate(self, address=""):
        """Pushes IPC_ACL_INVALIDATE to every connection."""
        frame = self._frame([IPC_VERSION, ACL_INVALIDATE, 0, address])
        with self.cond:
            conns = list(self.conns)
        for c in conns:
            try:
                c.sendall(frame)
            except OSError:
                pass

    def answer_held(self, answer=None):
        """Answers every request held while in "hang" mode: by the rules
        as they are now, or with `answer` (verdict, valid_until, sensitive,
        countries), e.g. a stale one."""
        with self.cond:
            held, self.held = self.held, []
        for conn, rid, question in held:
            self._reply(conn, rid, answer or self.decide(*question))

    # ---- wire ------------------------------------------------------------

    @staticmethod
    def _frame(objs):
        body = b"".join(msgpack.packb(o, use_bin_type=True) for o in objs)
        return struct.pack("!I", len(body)) + body

    def _send(self, conn, objs):
        try:
            conn.sendall(self._frame(objs))
        except OSError:
            pass

    def _reply(self, conn, rid, answer):
        verdict, valid_until, sensitive, countries = answer
        try:
            conn.sendall(self._frame([IPC_VERSION, ACL_CHECK_REPLY, rid,
                                      verdict, valid_until, sensitive,
                                      countries]))
        except OSError:
            pass

    def _error(self, what):
        with self.cond:
            self.errors.append(what)

    def _serve(self, conn):
        buf = b""
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
                while len(buf) >= 4:
                    (n,) = struct.unpack_from("!I", buf)
                    if len(buf) < 4 + n:
                        break
                    body, buf = buf[4:4 + n], buf[4 + n:]
                    self._handle(conn, body)
        except OSError:
            return

    def _handle(self, conn, body):
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(body)
        objs = list(unpacker)
        if len(objs) < 3 or objs[0] != IPC_VERSION:
            self._error("bad header %r" % (objs[:3],))
            return
        _, mtype, rid = objs[:3]
        fields = objs[3:]
        # authd's messages: alerts are recorded and acknowledged as
        # queued (0); there are never bans from other nodes.
        if mtype == ALERT and rid != 0 and len(fields) == 7:
            with self.cond:
                self.alerts.append(fields)
                self.cond.notify_all()
            self._send(conn, [IPC_VERSION, ALERT_REPLY, rid, 0])
            return
        if mtype == BAN_SYNC and rid != 0 and len(fields) == 1:
            with self.cond:
                self.ban_syncs += 1
            self._send(conn, [IPC_VERSION, BAN_SYNC_REPLY, rid, fields[0], 0])
            return
        if mtype != ACL_CHECK or rid == 0:
            self._error("unexpected message type %r id %r" % (mtype, rid))
            return
        if (len(fields) != 3 or not isinstance(fields[0], str)
                or not isinstance(fields[1], int)
                or isinstance(fields[1], bool)
                or not isinstance(fields[2], str)):
            self._error("malformed ACL_CHECK fields %r" % (fields,))
            return
        address, action, topic = fields
        if not re.fullmatch(r"0x[0-9a-f]{40}", address):
            self._error("address not 0x lowercase: %r" % address)
        if action not in (PUBLISH, SUBSCRIBE):
            self._error("unknown action %r" % action)
        question = (address, action, topic)
        with self.cond:
            self.requests.append(question)
            self.cond.notify_all()
            mode, delay = self.mode, self.delay
            if mode == "hang":
                self.held.append((conn, rid, question))
                return
        if mode == "unavailable":
            answer = (UNAVAILABLE, 0, False, "")
        else:
            answer = self.decide(*question)
        if delay > 0:
            time.sleep(delay)  # one connection: answers stay in order
        self._reply(conn, rid, answer)
