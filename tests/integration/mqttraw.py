"""A small raw-socket MQTT v3.1.1 / v5.0 encoder and decoder for the tests.

Written from the OASIS specifications, independently of FlyTrap's C codec, so
tests can build exactly the bytes they want (including broken ones) and see
exactly what proxyd answers: reason codes, AUTH exchanges, DISCONNECTs.
"""

import select
import socket
import struct
import threading
import time

V311 = 4
V5 = 5

CONNECT = 1
CONNACK = 2
PUBLISH = 3
PUBACK = 4
PUBREC = 5
PUBREL = 6
PUBCOMP = 7
SUBSCRIBE = 8
SUBACK = 9
UNSUBSCRIBE = 10
UNSUBACK = 11
PINGREQ = 12
PINGRESP = 13
DISCONNECT = 14
AUTH = 15

PACKET_NAMES = {
    1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
    6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK",
    10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP",
    14: "DISCONNECT", 15: "AUTH",
}

# ---- Properties ----------------------------------------------------------

PROP_PAYLOAD_FORMAT = 0x01
PROP_MESSAGE_EXPIRY = 0x02
PROP_CONTENT_TYPE = 0x03
PROP_RESPONSE_TOPIC = 0x08
PROP_CORRELATION_DATA = 0x09
PROP_SUBSCRIPTION_ID = 0x0B
PROP_SESSION_EXPIRY = 0x11
PROP_ASSIGNED_CLIENT_ID = 0x12
PROP_SERVER_KEEP_ALIVE = 0x13
PROP_AUTH_METHOD = 0x15
PROP_AUTH_DATA = 0x16
PROP_REQUEST_PROBLEM_INFO = 0x17
PROP_WILL_DELAY = 0x18
PROP_REQUEST_RESPONSE_INFO = 0x19
PROP_RESPONSE_INFO = 0x1A
PROP_SERVER_REFERENCE = 0x1C
PROP_REASON_STRING = 0x1F
PROP_RECEIVE_MAXIMUM = 0x21
PROP_TOPIC_ALIAS_MAXIMUM = 0x22
PROP_TOPIC_ALIAS = 0x23
PROP_MAXIMUM_QOS = 0x24
PROP_RETAIN_AVAILABLE = 0x25
PROP_USER_PROPERTY = 0x26
PROP_MAXIMUM_PACKET_SIZE = 0x27
PROP_WILDCARD_SUB_AVAILABLE = 0x28
PROP_SUBSCRIPTION_ID_AVAILABLE = 0x29
PROP_SHARED_SUB_AVAILABLE = 0x2A

_BYTE, _U16, _U32, _VARINT, _STR, _BIN, _PAIR = range(7)

PROP_TYPES = {
    0x01: _BYTE, 0x02: _U32, 0x03: _STR, 0x08: _STR, 0x09: _BIN,
    0x0B: _VARINT, 0x11: _U32, 0x12: _STR, 0x13: _U16, 0x15: _STR,
    0x16: _BIN, 0x17: _BYTE, 0x18: _U32, 0x19: _BYTE, 0x1A: _STR,
    0x1C: _STR, 0x1F: _STR, 0x21: _U16, 0x22: _U16, 0x23: _U16,
    0x24: _BYTE, 0x25: _BYTE, 0x26: _PAIR, 0x27: _U32, 0x28: _BYTE,
    0x29: _BYTE, 0x2A: _BYTE,
}


class MalformedPacket(Exception):
    """What this decoder could not parse (a test failure, not a result)."""


class ConnectionClosed(Exception):
    """The peer closed the connection (EOF or reset)."""


def encode_varint(n):
    if n < 0 or n > 268435455:
        raise ValueError("varint out of range")
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def decode_varint(buf, pos):
    """Returns (value, new_pos); raises MalformedPacket past 4 bytes."""
    mult = 1
    value = 0
    for i in range(4):
        if pos >= len(buf):
            raise MalformedPacket("truncated varint")
        b = buf[pos]
        pos += 1
        value += (b & 0x7F) * mult
        if not b & 0x80:
            return value, pos
        mult *= 128
    raise MalformedPacket("varint longer than 4 bytes")


def encode_str(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return struct.pack("!H", len(s)) + s


encode_bin = encode_str


def encode_props(props):
    """props: list of (id, value); user properties as (0x26, (name, value))."""
    body = bytearray()
    for pid, value in props or ():
        kind = PROP_TYPES[pid]
        body += encode_varint(pid)
        if kind == _BYTE:
            body += struct.pack("!B", value)
        elif kind == _U16:
            body += struct.pack("!H", value)
        elif kind == _U32:
            body += struct.pack("!I", value)
        elif kind == _VARINT:
            body += encode_varint(value)
        elif kind in (_STR, _BIN):
            body += encode_str(value)
        else:
            body += encode_str(value[0]) + encode_str(value[1])
    return encode_varint(len(body)) + bytes(body)


def decode_props(buf, pos):
    """Returns (list of (id, value), new_pos); strings come back as str."""
    length, pos = decode_varint(buf, pos)
    end = pos + length
    if end > len(buf):
        raise MalformedPacket("property length past end")
    props = []
    while pos < end:
        pid, pos = decode_varint(buf, pos)
        kind = PROP_TYPES.get(pid)
        if kind is None:
            raise MalformedPacket("unknown property 0x%02x" % pid)
        if kind == _BYTE:
            value = buf[pos]
            pos += 1
        elif kind == _U16:
            (value,) = struct.unpack_from("!H", buf, pos)
            pos += 2
        elif kind == _U32:
            (value,) = struct.unpack_from("!I", buf, pos)
            pos += 4
        elif kind == _VARINT:
            value, pos = decode_varint(buf, pos)
        elif kind == _STR:
            value, pos = _read_str(buf, pos)
        elif kind == _BIN:
            value, pos = _read_bin(buf, pos)
        else:
            name, pos = _read_str(buf, pos)
            val, pos = _read_str(buf, pos)
            value = (name, val)
        props.append((pid, value))
    if pos != end:
        raise MalformedPacket("property overran its block")
    return props, end


def _read_bin(buf, pos):
    if pos + 2 > len(buf):
        raise MalformedPacket("truncated length")
    (n,) = struct.unpack_from("!H", buf, pos)
    pos += 2
    if pos + n > len(buf):
        raise MalformedPacket("truncated string")
    return bytes(buf[pos:pos + n]), pos + n


def _read_str(buf, pos):
    raw, pos = _read_bin(buf, pos)
    try:
        return raw.decode("utf-8"), pos
    except UnicodeDecodeError as e:
        raise MalformedPacket("bad UTF-8") from e


def packet(ptype, flags, body):
    """A whole packet: fixed header with a minimal remaining length + body."""
    return bytes([(ptype << 4) | flags]) + encode_varint(len(body)) + body


# ---- Encoders ------------------------------------------------------------


def connect(client_id, version=V5, keep_alive=60, clean=True, username=None,
            password=None, props=None, will=None, proto_name="MQTT",
            flags_extra=0):
    """CONNECT. will = (topic, payload, qos, retain[, will_props])."""
    flags = 0x02 if clean else 0
    if username is not None:
        flags |= 0x80
    if password is not None:
        flags |= 0x40
    if will is not None:
        flags |= 0x04 | (will[2] << 3) | (0x20 if will[3] else 0)
    flags |= flags_extra
    vh = encode_str(proto_name) + bytes([version, flags])
    vh += struct.pack("!H", keep_alive)
    if version == V5:
        vh += encode_props(props)
    payload = encode_str(client_id)
    if will is not None:
        if version == V5:
            payload += encode_props(will[4] if len(will) > 4 else None)
        payload += encode_str(will[0]) + encode_bin(will[1])
    if username is not None:
        payload += encode_str(username)
    if password is not None:
        payload += encode_bin(password)
    return packet(CONNECT, 0, vh + payload)


def connack(reason=0, version=V5, session_present=False, props=None):
    body = bytes([1 if session_present else 0, reason])
    if version == V5:
        body += encode_props(props)
    return packet(CONNACK, 0, body)


def auth(reason=0x18, props=None):
    return packet(AUTH, 0, bytes([reason]) + encode_props(props))


def publish(topic, payload=b"", qos=0, packet_id=None, retain=False,
            dup=False, version=V5, props=None):
    if isinstance(payload, str):
        payload = payload.encode()
    flags = (qos << 1) | (1 if retain else 0) | (8 if dup else 0)
    body = encode_str(topic)
    if qos:
        body += struct.pack("!H", packet_id)
    if version == V5:
        body += encode_props(props)
    return packet(PUBLISH, flags, body + payload)


def ack(ptype, packet_id, reason=None, version=V5):
    """PUBACK, PUBREC, PUBREL (flags 2) or PUBCOMP."""
    body = struct.pack("!H", packet_id)
    if version == V5 and reason is not None:
        body += bytes([reason])
    return packet(ptype, 2 if ptype == PUBREL else 0, body)


def subscribe(packet_id, filters, version=V5, props=None):
    """filters: list of (filter, options byte) or of filter strings (QoS 0)."""
    body = struct.pack("!H", packet_id)
    if version == V5:
        body += encode_props(props)
    for f in filters:
        if isinstance(f, str):
            f = (f, 0)
        body += encode_str(f[0]) + bytes([f[1]])
    return packet(SUBSCRIBE, 2, body)


def pingreq():
    return bytes([PINGREQ << 4, 0])


def disconnect(reason=0, version=V5, props=None):
    if version != V5:
        return bytes([DISCONNECT << 4, 0])
    return packet(DISCONNECT, 0, bytes([reason]) + encode_props(props))


# ---- Decoding ------------------------------------------------------------


class Packet:
    """One decoded packet; fields depend on the type (see decode())."""

    def __init__(self, ptype, flags, body):
        self.type = ptype
        self.flags = flags
        self.body = body
        self.reason = None
        self.props = []
        self.session_present = None
        self.packet_id = None
        self.topic = None
        self.payload = None
        self.qos = None
        self.reasons = None
        self.connect = None

    @property
    def name(self):
        return PACKET_NAMES.get(self.type, "?")

    def prop(self, pid, default=None):
        for p, v in self.props:
            if p == pid:
                return v
        return default

    def user_props(self):
        return [v for p, v in self.props if p == PROP_USER_PROPERTY]

    def __repr__(self):
        extra = ""
        if self.reason is not None:
            extra += " reason=0x%02x" % self.reason
        if self.topic is not None:
            extra += " topic=%r" % self.topic
        if self.props:
            extra += " props=%r" % (self.props,)
        return "<%s%s>" % (self.name, extra)


def decode(ptype, flags, body, version=V5):
    """Decodes the packets a client (or our fake broker) receives."""
    p = Packet(ptype, flags, body)
    if ptype == CONNACK:
        if len(body) < 2:
            raise MalformedPacket("short CONNACK")
        p.session_present = bool(body[0] & 1)
        p.reason = body[1]
        if version == V5 and len(body) > 2:
            p.props, _ = decode_props(body, 2)
    elif ptype in (AUTH, DISCONNECT):
        p.reason = body[0] if body else 0
        if len(body) > 1:
            p.props, _ = decode_props(body, 1)
    elif ptype == PUBLISH:
        p.qos = (flags >> 1) & 3
        p.topic, pos = _read_str(body, 0)
        if p.qos:
            (p.packet_id,) = struct.unpack_from("!H", body, pos)
            pos += 2
        if version == V5:
            p.props, pos = decode_props(body, pos)
        p.payload = bytes(body[pos:])
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        (p.packet_id,) = struct.unpack_from("!H", body, 0)
        p.reason = body[2] if len(body) > 2 else 0
        if len(body) > 3:
            p.props, _ = decode_props(body, 3)
    elif ptype in (SUBACK, UNSUBACK):
        (p.packet_id,) = struct.unpack_from("!H", body, 0)
        pos = 2
        if version == V5:
            p.props, pos = decode_props(body, pos)
        p.reasons = list(body[pos:])
    elif ptype == CONNECT:
        p.connect = decode_connect(body)
    return p


def decode_connect(body):
    """Returns a dict describing a CONNECT body (for the fake broker)."""
    pos = 0
    proto, pos = _read_str(body, pos)
    version = body[pos]
    flags = body[pos + 1]
    (keep_alive,) = struct.unpack_from("!H", body, pos + 2)
    pos += 4
    c = {"proto": proto, "version": version, "flags": flags,
         "keep_alive": keep_alive, "props": [], "will": None,
         "username": None, "password": None}
    if version == V5:
        c["props"], pos = decode_props(body, pos)
    c["client_id"], pos = _read_str(body, pos)
    if flags & 0x04:
        will_props = []
        if version == V5:
            will_props, pos = decode_props(body, pos)
        topic, pos = _read_str(body, pos)
        payload, pos = _read_bin(body, pos)
        c["will"] = (topic, payload, (flags >> 3) & 3, bool(flags & 0x20),
                     will_props)
    if flags & 0x80:
        c["username"], pos = _read_str(body, pos)
    if flags & 0x40:
        c["password"], pos = _read_bin(body, pos)
    if pos != len(body):
        raise MalformedPacket("bytes after CONNECT payload")
    return c


class Conn:
    """A client socket with a receive buffer and packet-level reads."""

    def __init__(self, host, port, version=V5, timeout=5.0, rcvbuf=None,
                 source=None):
        """source: the local address to connect from (e.g. 127.0.0.2, so
        that tests of per-IP bans do not hit each other)."""
        self.version = version
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source is not None:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False

    @classmethod
    def from_socket(cls, sock, version=V5):
        self = cls.__new__(cls)
        self.version = version
        self.sock = sock
        self.buf = bytearray()
        self.eof = False
        return self

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self, deadline):
        """Reads more bytes; raises ConnectionClosed / TimeoutError."""
        if self.eof:
            raise ConnectionClosed("EOF")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no packet within the deadline")
        r, _, _ = select.select([self.sock], [], [], remaining)
        if not r:
            raise TimeoutError("no packet within the deadline")
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError) as e:
            self.eof = True
            raise ConnectionClosed(str(e)) from e
        if not data:
            self.eof = True
            raise ConnectionClosed("EOF")
        self.buf += data

    def recv_raw(self, timeout=5.0):
        """Returns (type, flags, body) of the next whole packet."""
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                try:
                    remaining, pos = decode_varint(self.buf, 1)
                except MalformedPacket:
                    if len(self.buf) < 5:
                        remaining = None
                    else:
                        raise
                if remaining is not None and len(self.buf) >= pos + remaining:
                    first = self.buf[0]
                    body = bytes(self.buf[pos:pos + remaining])
                    del self.buf[:pos + remaining]
                    return first >> 4, first & 0x0F, body
            self._fill(deadline)

    def recv(self, timeout=5.0):
        """The next packet, decoded for this connection's version."""
        ptype, flags, body = self.recv_raw(timeout)
        return decode(ptype, flags, body, self.version)

    def expect(self, ptype, timeout=5.0):
        p = self.recv(timeout)
        assert p.type == ptype, "expected %s, got %r" % (
            PACKET_NAMES[ptype], p)
        return p

    def recv_until_closed(self, timeout=5.0):
        """Reads until EOF; returns the packets seen. TimeoutError if the
        peer keeps the connection open past the timeout."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            try:
                seen.append(self.recv(max(0.0, deadline - time.monotonic())))
            except ConnectionClosed:
                return seen

    def closed_within(self, timeout):
        """True when the peer closes within timeout (packets are dropped)."""
        try:
            self.recv_until_closed(timeout)
            return True
        except TimeoutError:
            return False


class FakeBroker:
    """A one-port broker stand-in that records the CONNECTs it receives and
    accepts them all, to see exactly what proxyd forwards."""

    def __init__(self, port, reason=0):
        self.port = port
        self.reason = reason
        self.connects = []
        self.cond = threading.Condition()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)
        self.stopping = False
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            t.start()

    def _serve(self, sock):
        conn = Conn.from_socket(sock)
        self.conns.append(conn)
        try:
            ptype, flags, body = conn.recv_raw(10)
            if ptype != CONNECT:
                return
            c = decode_connect(body)
            with self.cond:
                self.connects.append(c)
                self.cond.notify_all()
            conn.send(connack(self.reason, c["version"]))
            while not self.stopping:
                ptype, flags, body = conn.recv_raw(3600)
                if ptype == PINGREQ:
                    conn.send(bytes([PINGRESP << 4, 0]))
                elif ptype == DISCONNECT:
                    return
        except (ConnectionClosed, TimeoutError, OSError, MalformedPacket):
            pass
        finally:
            conn.close()

    def wait_connect(self, n=1, timeout=5.0):
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.connects) >= n, timeout)
        assert ok, "fake broker saw %d CONNECTs, wanted %d" % (
            len(self.connects), n)
        return self.connects[n - 1]

    def stop(self):
        self.stopping = True
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.listener.close()
        except OSError:
            pass
        for c in self.conns:
            c.close()
