"""Back-pressure: a subscriber that stops reading while ~50 MB flow towards
it must not make proxyd buffer them (bounded RSS), must not stall other
sessions, and gets every message intact once it reads again."""

import struct
import threading
import time

import mqttraw
from conftest import rss_kb

MESSAGE = 64 * 1024
COUNT = 800  # 50 MiB
RSS_GROWTH_LIMIT_KB = 32 * 1024


def test_slow_subscriber_bounded_memory(ft, keys):
    ft.start(proxyd={"buffer_limit": "262144"})
    # A modest receive buffer set before connecting (shrinking it on a live
    # connection makes TCP itself crawl once reading resumes).
    slow, ack = ft.raw_connect(keys[0], "slow-sub", rcvbuf=65536)
    assert ack.reason == 0
    slow.send(mqttraw.subscribe(1, [("bp/data", 0)]))
    assert slow.expect(mqttraw.SUBACK).reasons == [0]
    pub, ack = ft.raw_connect(keys[1], "fast-pub")
    assert ack.reason == 0

    baseline = rss_kb(ft.proxyd.pid)
    peak = [baseline]
    sent = [0]
    failure = []
    filler = b"\xa5" * (MESSAGE - 8)

    def publish():
        try:
            pub.sock.settimeout(30)
            for i in range(COUNT):
                pub.send(mqttraw.publish("bp/data", struct.pack("!Q", i)
                                         + filler))
                sent[0] = i + 1
            # A round trip proves proxyd read all of it.
            pub.send(mqttraw.pingreq())
            pub.expect(mqttraw.PINGRESP, 30)
        except Exception as e:  # reported by the main thread
            failure.append(e)

    t = threading.Thread(target=publish, daemon=True)
    t.start()
    deadline = time.monotonic() + 60
    while t.is_alive() and time.monotonic() < deadline:
        peak[0] = max(peak[0], rss_kb(ft.proxyd.pid))
        time.sleep(0.02)
    t.join(1)
    assert not t.is_alive(), "publisher stuck after %d messages" % sent[0]
    assert not failure, "publisher failed after %d: %r" % (sent[0], failure)
    # Let the broker push what it will towards the stuck subscriber.
    end = time.monotonic() + 1
    while time.monotonic() < end:
        peak[0] = max(peak[0], rss_kb(ft.proxyd.pid))
        time.sleep(0.02)
    growth = peak[0] - baseline
    assert growth < RSS_GROWTH_LIMIT_KB, (
        "proxyd RSS grew by %d kB (baseline %d kB)" % (growth, baseline))

    # Another client is served normally while the subscriber is stuck.
    other_sub = ft.paho(keys[0], "other-sub")
    other_sub.subscribe("bp/other", 1)
    other_pub = ft.paho(keys[1], "other-pub")
    other_pub.publish("bp/other", b"not stuck", 1)
    assert other_sub.get().payload == b"not stuck"

    # The subscriber reads again: everything arrives, in order, intact.
    got = 0
    while got < COUNT:
        p = slow.recv(10)
        assert p.type == mqttraw.PUBLISH, "after %d messages: %r" % (got, p)
        assert p.topic == "bp/data"
        assert len(p.payload) == MESSAGE
        assert struct.unpack("!Q", p.payload[:8])[0] == got
        assert p.payload[8:] == filler
        got += 1
    assert rss_kb(ft.proxyd.pid) - baseline < RSS_GROWTH_LIMIT_KB
