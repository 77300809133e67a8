"""The client's real address and country: PROXY protocol listeners and
GeoIP country rules, with real mosquitto, authd (the DB-IP database from
npm, or a database written by tests/tools/mmdbwrite.py) and proxyd, and a
simulated chaind that answers with the countries of the deciding entry.

Covered: v1 and v2 headers (with TLVs) give authd, the logs and the
country rules the client's address; a PROXY listener refuses connections
without a valid header, or from a source outside proxy_trusted; a plain
listener never trusts a header; malformed headers (truncated, wrong
signature, bad lengths, overrunning TLVs, bad addresses) close only their
own connection; an EU-only entry serves Germany and refuses the US on
publish, subscribe and delivery; unknown countries (private ranges) are
denied unless unknown_country = allow; a GeoLite2-schema database works
the same; the database is reloaded on SIGHUP without dropping a session.
"""

import signal
import socket
import struct
import subprocess
import time

import pytest

import fakechaind
import mqttraw
from conftest import (BIN, HOST, REPO, free_port, token, v5_token_props,
                      wait_for)
from fakechaind import ALLOW, DENY, PUBLISH, SUBSCRIBE

V5, V311 = mqttraw.V5, mqttraw.V311
NOT_AUTHORIZED = 0x87

# Public addresses whose country the shipped DB-IP database gives (checked
# by tests/unit/test_geoip.c too): large, stable operators.
DE_IP = "194.25.2.129"
US_IP = "8.8.8.8"
FR_IP = "193.252.19.3"
PRIVATE_IP = "10.1.2.3"

EU = ("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO "
      "SK SI ES SE").split()
EU_CODES = "".join(EU)

MMDBWRITE = REPO / "tests" / "tools" / "mmdbwrite.py"


# ---- PROXY headers ----------------------------------------------------------

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v1(src, dst="127.0.0.1", sport=40000, dport=1883):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport,
                                          dport)).encode()


def proxy_v2(src, dst="127.0.0.1", sport=40000, dport=1883, tlvs=b"",
             command=0x21):
    if ":" in src:
        fam = 0x21
        addrs = (socket.inet_pton(socket.AF_INET6, src)
                 + socket.inet_pton(socket.AF_INET6, dst))
    else:
        fam = 0x11
        addrs = socket.inet_aton(src) + socket.inet_aton(dst)
    block = addrs + struct.pack("!HH", sport, dport) + tlvs
    return V2_SIG + bytes([command, fam]) + struct.pack("!H", len(block)) \
        + block


def tlv(kind, value):
    return bytes([kind]) + struct.pack("!H", len(value)) + value


# ---- the world --------------------------------------------------------------


class GeoWorld:
    """mosquitto, a fake chaind, authd and proxyd with a plain listener
    (ft.proxy_port) and a PROXY listener (self.pport)."""

    def __init__(self, ft, proxyd=None, authd=None, default=ALLOW):
        self.ft = ft
        self.pport = free_port()
        ft.broker_start()
        self.chaind = fakechaind.FakeChaind(ft.runtime_dir, default).start()
        ft.fakes.append(self.chaind)
        p = {"proxy_listen": "%s:%d" % (HOST, self.pport)}
        p.update(proxyd or {})
        ft.write_config(proxyd=p, authd=authd)
        ft.authd_start()
        ft.proxyd_start()
        self.chaind.wait_connections(1)

    def connect(self, key, client_id, header=None, port=None, version=V5,
                expect=0):
        """A raw client with a fresh token, behind `header` (bytes sent
        first) on the PROXY listener; asserts the CONNACK code."""
        c = self.ft.raw(version, port=port or self.pport)
        tok = token(key, client_id, realm=self.ft.realm)
        if header:
            c.send(header)
        if version == V5:
            c.send(mqttraw.connect(client_id, version, 60,
                                   props=v5_token_props(tok)))
        else:
            c.send(mqttraw.connect(client_id, version, 60,
                                   username=tok["username"],
                                   password=tok["password"]))
        ack = c.expect(mqttraw.CONNACK)
        assert ack.reason == expect, "CONNACK 0x%02x, wanted 0x%02x" % (
            ack.reason, expect)
        return c

    def publish(self, c, topic, pid):
        """The PUBACK reason; Mosquitto's 0x10 (no matching subscribers)
        counts as success."""
        c.send(mqttraw.publish(topic, b"x", 1, packet_id=pid,
                               version=c.version))
        ack = c.expect(mqttraw.PUBACK)
        assert ack.packet_id == pid
        return 0 if ack.reason == 0x10 else ack.reason

    def subscribe(self, c, topic, pid):
        c.send(mqttraw.subscribe(pid, [(topic, 1)], version=c.version))
        ack = c.expect(mqttraw.SUBACK)
        return ack.reasons[0]


def alive(c, pid=1):
    """The session still answers a PINGREQ."""
    c.send(mqttraw.pingreq())
    return c.expect(mqttraw.PINGRESP) is not None


# ---- PROXY protocol ---------------------------------------------------------


@pytest.mark.parametrize("make", [proxy_v1, proxy_v2], ids=["v1", "v2"])
def test_header_gives_the_client_address(ft, make):
    w = GeoWorld(ft)
    k = ft.key()
    c = w.connect(k, "via-lb", make("203.0.113.77"))
    assert alive(c)
    log = ft.authd.log()
    assert "peer 203.0.113.77 client 'via-lb'" in log
    assert "peer 127.0.0.1 client 'via-lb'" not in log


def test_v2_with_tlvs_and_ipv6(ft):
    w = GeoWorld(ft)
    k = ft.key()
    tlvs = tlv(0x01, b"mqtt") + tlv(0x02, b"broker.example") + \
        tlv(0x04, b"")
    c = w.connect(k, "v6-client", proxy_v2("2001:db8::5", "2001:db8::1",
                                           tlvs=tlvs))
    assert alive(c)
    assert "peer 2001:db8::5 client 'v6-client'" in ft.authd.log()


def test_v2_local_command_keeps_the_socket_address(ft):
    """LOCAL is the balancer speaking for itself (health checks)."""
    w = GeoWorld(ft)
    k = ft.key()
    c = w.connect(k, "local", proxy_v2("203.0.113.9", command=0x20))
    assert alive(c)
    assert "peer 127.0.0.1 client 'local'" in ft.authd.log()


def test_proxy_listener_requires_a_header(ft):
    w = GeoWorld(ft)
    k = ft.key()
    c = ft.raw(V5, port=w.pport)
    c.send(mqttraw.connect("no-header", V5, 60,
                           props=v5_token_props(token(k, "no-header",
                                                      realm=ft.realm))))
    assert c.recv_until_closed(5) == []
    assert "client 'no-header'" not in ft.authd.log()


def test_plain_listener_never_trusts_a_header(ft):
    GeoWorld(ft)
    k = ft.key()
    c = ft.raw(V5)
    c.send(proxy_v1("203.0.113.66"))
    c.send(mqttraw.connect("sneaky", V5, 60,
                           props=v5_token_props(token(k, "sneaky",
                                                      realm=ft.realm))))
    seen = c.recv_until_closed(5)
    assert all(p.type != mqttraw.CONNACK or p.reason != 0 for p in seen)
    assert "203.0.113.66" not in ft.authd.log()


def test_untrusted_source_is_closed_at_once(ft):
    w = GeoWorld(ft, proxyd={"proxy_trusted": "127.0.0.2, 192.0.2.0/24"})
    c = ft.raw(V5, port=w.pport)
    c.send(proxy_v1("203.0.113.5"))
    assert c.recv_until_closed(5) == []
    wait_for(lambda: "not a trusted load balancer" in ft.proxyd.log(), 5,
             "proxyd to log the untrusted source")
    assert "203.0.113.5" not in ft.authd.log()


def test_trusted_source_range(ft):
    """A balancer inside a trusted range is believed."""
    w = GeoWorld(ft, proxyd={"proxy_trusted": "127.0.0.0/8"})
    c = w.connect(ft.key(), "ranged", proxy_v1("198.51.100.20"))
    assert alive(c)
    assert "peer 198.51.100.20 client 'ranged'" in ft.authd.log()


def test_version_restricted_listener(ft):
    w = GeoWorld(ft, proxyd={"proxy_protocol": "v2"})
    c = ft.raw(V5, port=w.pport)
    c.send(proxy_v1("203.0.113.8"))
    assert c.recv_until_closed(5) == []
    assert alive(w.connect(ft.key(), "v2only", proxy_v2("203.0.113.8")))


MALFORMED = [
    ("wrong signature", b"PROXZ TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
    ("v1 bad address", b"PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n"),
    ("v1 v6 text as TCP4", b"PROXY TCP4 2001:db8::1 5.6.7.8 1 2\r\n"),
    ("v1 port out of range", b"PROXY TCP4 1.2.3.4 5.6.7.8 70000 2\r\n"),
    ("v1 double space", b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
    ("v1 LF only", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"),
    ("v1 too long", b"PROXY TCP4 " + b"1" * 120 + b"\r\n"),
    ("v2 bad version", V2_SIG + bytes([0x31, 0x11, 0, 12]) + bytes(12)),
    ("v2 bad command", V2_SIG + bytes([0x2F, 0x11, 0, 12]) + bytes(12)),
    ("v2 UDP", V2_SIG + bytes([0x21, 0x12, 0, 12]) + bytes(12)),
    ("v2 block shorter than the addresses",
     V2_SIG + bytes([0x21, 0x11, 0, 8]) + bytes(8)),
    ("v2 TLV overruns the block",
     V2_SIG + bytes([0x21, 0x11, 0, 15]) + bytes(12) + b"\x01\x00\x09"),
    ("v2 truncated TLV header",
     V2_SIG + bytes([0x21, 0x11, 0, 14]) + bytes(12) + b"\x01\x00"),
    ("v2 length over the bound",
     V2_SIG + bytes([0x21, 0x11, 0xff, 0xff]) + bytes(12)),
]


def test_malformed_headers_close_only_their_connection(ft):
    w = GeoWorld(ft)
    k = ft.key()
    good = w.connect(k, "bystander", proxy_v2("203.0.113.1"))
    for name, header in MALFORMED:
        c = ft.raw(V5, port=w.pport)
        c.send(header + mqttraw.connect("bad", V5, 60))
        assert c.recv_until_closed(5) == [], name
        assert alive(good), name
    assert ft.proxyd.alive()
    assert "client 'bad'" not in ft.authd.log()
    # A truncated header is waited for until the CONNECT deadline only.
    c = ft.raw(V5, port=w.pport)
    c.send(proxy_v2("203.0.113.2")[:20])
    t0 = time.monotonic()
    assert c.recv_until_closed(5) == []
    assert time.monotonic() - t0 < 4
    assert alive(good)


# ---- Countries --------------------------------------------------------------


def eu_rules(chaind, entry="eu/#"):
    chaind.set_rules([
        fakechaind.Rule(PUBLISH, entry, ALLOW, countries=EU_CODES),
        fakechaind.Rule(SUBSCRIBE, entry, ALLOW, countries=EU_CODES),
        fakechaind.Rule(PUBLISH, "open/#", ALLOW),
        fakechaind.Rule(SUBSCRIBE, "open/#", ALLOW),
    ], default=DENY)


def test_eu_topic_serves_germany_and_refuses_the_us(ft):
    """Scenario #1 of the original design, with the shipped DB-IP data."""
    w = GeoWorld(ft)
    eu_rules(w.chaind)
    k_de, k_us = ft.key(), ft.key()
    de = w.connect(k_de, "de", proxy_v2(DE_IP))
    us = w.connect(k_us, "us", proxy_v2(US_IP))
    fr = w.connect(ft.key(), "fr", proxy_v1(FR_IP))

    assert w.subscribe(de, "eu/sensors/#", 1) == 1
    assert w.subscribe(us, "eu/sensors/#", 1) == NOT_AUTHORIZED
    assert w.publish(fr, "eu/sensors/t", 2) == 0
    got = de.expect(mqttraw.PUBLISH)
    assert got.topic == "eu/sensors/t"
    assert w.publish(us, "eu/sensors/t", 3) == NOT_AUTHORIZED
    # Unrestricted topics are open to both.
    assert w.publish(us, "open/x", 4) == 0
    # Each wrong-country refusal was reported to authd, which asked
    # chaind for a WrongCountry alert naming the country, not the IP.
    wait_for(lambda: len([a for a in w.chaind.alerts if a[0] == 5]) >= 1,
             5, "a WrongCountry alert")
    alerts = [a for a in w.chaind.alerts if a[0] == 5]
    action, ip, ip_hash, subject, address, reason, until = alerts[0]
    assert ip == US_IP and ip_hash.startswith("ip-hmac:")
    assert subject.startswith("eu/sensors")
    assert address == k_us.address.lower()
    assert "country=US" in reason
    assert US_IP not in ip_hash


def test_delivery_is_refused_to_the_wrong_country(ft):
    """A US client subscribed through an unrestricted entry does not get
    what is published on a restricted topic it matches."""
    w = GeoWorld(ft)
    w.chaind.set_rules([
        fakechaind.Rule(SUBSCRIBE, "geo/eu/#", ALLOW, countries=EU_CODES),
        fakechaind.Rule(SUBSCRIBE, "geo/#", ALLOW),
        fakechaind.Rule(PUBLISH, "geo/#", ALLOW),
    ], default=DENY)
    us = w.connect(ft.key(), "us-sub", proxy_v2(US_IP))
    de = w.connect(ft.key(), "de-sub", proxy_v2(DE_IP))
    assert w.subscribe(us, "geo/#", 1) == 1
    assert w.subscribe(de, "geo/#", 1) == 1
    pub = w.connect(ft.key(), "pub", proxy_v2(DE_IP))
    assert w.publish(pub, "geo/eu/secret", 2) == 0
    assert w.publish(pub, "geo/world/open", 3) == 0
    assert de.expect(mqttraw.PUBLISH).topic == "geo/eu/secret"
    assert de.expect(mqttraw.PUBLISH).topic == "geo/world/open"
    assert us.expect(mqttraw.PUBLISH).topic == "geo/world/open"
    assert alive(us)


@pytest.mark.parametrize("rule", ["deny", "allow"])
def test_unknown_country_rule(ft, rule):
    w = GeoWorld(ft, proxyd={"unknown_country": rule})
    eu_rules(w.chaind)
    lan = w.connect(ft.key(), "lan", proxy_v2(PRIVATE_IP))
    loop = w.connect(ft.key(), "loop", port=ft.proxy_port)
    want = 0 if rule == "allow" else NOT_AUTHORIZED
    assert w.publish(lan, "eu/x", 1) == want
    assert w.publish(loop, "eu/x", 2) == want
    # Unrestricted entries do not care.
    assert w.publish(lan, "open/x", 3) == 0


def test_unknown_country_value_is_a_config_error(ft):
    path = ft.write_config(proxyd={"unknown_country": "maybe"})
    out = subprocess.run([str(BIN / "proxyd"), "-c", str(path)],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 1
    assert "unknown_country" in out.stderr and "deny or allow" in out.stderr
    assert "%s:" % path in out.stderr


def write_mmdb(path, schema, *nets):
    subprocess.run(["/usr/bin/python3", str(MMDBWRITE), "--schema", schema,
                    str(path)] + ["%s=%s" % n for n in nets], check=True,
                   timeout=30)


def test_geolite2_schema_and_reload_on_sighup(ft, tmp_path):
    """A MaxMind-schema database works the same, and a replaced file is
    read on SIGHUP while sessions stay up."""
    db = tmp_path / "geo.mmdb"
    write_mmdb(db, "geoip2", ("198.51.100.0/24", "DE"),
               ("203.0.113.0/24", "US"))
    w = GeoWorld(ft, authd={"geoip_database": db})
    eu_rules(w.chaind)
    a = w.connect(ft.key(), "a", proxy_v2("198.51.100.10"))
    b = w.connect(ft.key(), "b", proxy_v2("203.0.113.10"))
    assert w.publish(a, "eu/x", 1) == 0
    assert w.publish(b, "eu/x", 2) == NOT_AUTHORIZED

    # The networks swap countries; sessions keep theirs, new ones get the
    # new answer.
    fresh = tmp_path / "geo2.mmdb"
    write_mmdb(fresh, "geoip2", ("198.51.100.0/24", "US"),
               ("203.0.113.0/24", "FR"))
    fresh.replace(db)
    ft.authd.send_signal(signal.SIGHUP)
    wait_for(lambda: "GeoIP database reloaded" in ft.authd.log(), 5,
             "authd to reload the database")
    c = w.connect(ft.key(), "c", proxy_v2("203.0.113.11"))
    assert w.publish(c, "eu/x", 3) == 0
    d = w.connect(ft.key(), "d", proxy_v2("198.51.100.11"))
    assert w.publish(d, "eu/x", 4) == NOT_AUTHORIZED
    assert alive(a) and alive(b)

    # A broken file on SIGHUP keeps the loaded one (files are replaced by
    # rename, as docs/DEFENCE.md says: the loaded one is memory-mapped).
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database")
    broken.replace(db)
    ft.authd.send_signal(signal.SIGHUP)
    wait_for(lambda: "GeoIP database not reloaded, keeping" in
             ft.authd.log(), 5, "authd to refuse the broken file")
    e = w.connect(ft.key(), "e", proxy_v2("203.0.113.12"))
    assert w.publish(e, "eu/x", 5) == 0
