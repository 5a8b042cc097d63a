#!/usr/bin/python3
# tail_latency.py — tail latency of a view (issue 7): librdkafka (confluent_kafka)
# produces JSON records {"id","t0"} carrying their send time to the topic of table ev
# at a fixed rate; the materialized view SELECT id, t0 FROM ev has one SUBSCRIBE client
# (a minimal PostgreSQL wire client on a raw socket, in a thread of this process: one
# clock, time.monotonic_ns); latency = when the subscriber has the row minus t0.
# Path measured: produce -> append -> group commit (fsync) -> the commit's durable hook
# polls the tables -> the view steps -> the hub writes the delta to the socket.
# Peer in the same run: the produce acknowledgement (acks=all: the same fsync).
#
#   bench/tail_latency.py [rate events/s] [seconds] [--window] [--c]      (defaults 10000 5)
#
# --c: producer and subscriber are bench/subscribe_tail.c (librdkafka + a raw
# pgwire client in C, one process): at 100,000 events/s this Python process
# itself would be what the latency measures.
#
# --window (issue 6): the table has event time (event_time = 'ts', the send time
# in µs; watermark_delay 10 ms) and the view is a changelog TUMBLE count per 1 ms
# window carrying max(t0): every produce tick's events share t0 and one window,
# so latency = when the subscriber has the window's updated row minus t0.
import os
import socket
import struct
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from braidtest import Broker, free_port  # noqa: E402
from confluent_kafka import Producer  # noqa: E402


def now_us():
    return time.monotonic_ns() // 1000


def psql(port, sql):
    return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "bench", "-d", "braid", "-X", "-At",
                           "-c", sql], capture_output=True, text=True, timeout=60).stdout.strip()


class Subscriber(threading.Thread):
    """SUBSCRIBE over the simple query protocol; records (t_received - t0) per row."""

    def __init__(self, port, query):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port))
        params = b"user\0bench\0database\0braid\0\0"
        self.sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        self.buf = b""
        while True:  # until ReadyForQuery
            t, body = self.msg()
            if t == b"Z":
                break
        q = query.encode() + b"\0"
        self.sock.sendall(b"Q" + struct.pack("!i", 4 + len(q)) + q)
        self.lat, self.stop = [], False

    def msg(self):
        while len(self.buf) < 5:
            self.buf += self.sock.recv(1 << 20)
        t, n = self.buf[:1], struct.unpack("!i", self.buf[1:5])[0]
        while len(self.buf) < 1 + n:
            self.buf += self.sock.recv(1 << 20)
        body, self.buf = self.buf[5:1 + n], self.buf[1 + n:]
        return t, body

    def run(self):
        while not self.stop:
            data = self.sock.recv(1 << 20)
            if not data:
                return
            t = now_us()
            self.buf += data
            while len(self.buf) >= 5:
                n = struct.unpack("!i", self.buf[1:5])[0]
                if len(self.buf) < 1 + n:
                    break
                typ, body, self.buf = self.buf[:1], self.buf[5:1 + n], self.buf[1 + n:]
                if typ == b"d":  # CopyData: _frontier \t _weight \t id|window_start \t t0
                    for line in body.split(b"\n"):
                        f = line.split(b"\t")
                        if line and f[1] != b"-1":  # a window's retracted old row carries an old t0
                            self.lat.append(t - int(f[-1]))


def fmt(a):
    a = sorted(a)
    if not a:
        return "none"
    q = lambda p: a[min(len(a) - 1, int(p * len(a)))] / 1000  # noqa: E731
    return "p50 %.2f ms  p99 %.2f ms  max %.2f ms  (n=%d)" % (q(0.5), q(0.99), a[-1] / 1000, len(a))


def main():
    args = [a for a in sys.argv[1:] if a not in ("--window", "--c")]
    window = "--window" in sys.argv[1:]
    in_c = "--c" in sys.argv[1:]
    rate = int(args[0]) if len(args) > 0 else 10000
    seconds = float(args[1]) if len(args) > 1 else 5
    pg = free_port()
    b = Broker("--pg", "127.0.0.1:%d" % pg, "--no-tiering")
    try:
        if window:
            psql(pg, "CREATE TABLE ev (id bigint, t0 bigint, ts bigint) WITH (event_time = 'ts', "
                 "watermark_delay = '10 ms')")
            psql(pg, "CREATE MATERIALIZED VIEW ev_v AS SELECT window_start, count(*) AS n, max(t0) AS t0 "
                 "FROM TUMBLE(ev, ts, 1000) GROUP BY window_start, window_end")
        else:
            psql(pg, "CREATE TABLE ev (id bigint, t0 bigint)")
            psql(pg, "CREATE MATERIALIZED VIEW ev_v AS SELECT id, t0 FROM ev")
        if in_c:
            exe = os.path.join(ROOT, "build", "bench", "subscribe_tail")
            os.makedirs(os.path.dirname(exe), exist_ok=True)
            libs = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], capture_output=True,
                                  text=True).stdout.split()
            subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-o", exe,
                            os.path.join(ROOT, "bench", "subscribe_tail.c")] + libs + ["-lpthread"], check=True)
            r = subprocess.run([exe, "--brokers", b.bootstrap, "--topic", "ev", "--pg-port", str(pg), "--view",
                                "ev_v", "--rate", str(rate), "--seconds", str(seconds)], capture_output=True,
                               text=True, timeout=300)
            print("produce -> SUBSCRIBE client (C harness, %s)  %s" % ("window rows" if window else "rows",
                                                                      r.stdout.strip() or r.stderr.strip()))
            return
        sub = Subscriber(pg, "SUBSCRIBE ev_v WITH (snapshot = false)")
        sub.start()
        acks = []

        def on_ack(err, msg, t0):
            if not err:
                acks.append(now_us() - t0)
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "acks": "all", "log_level": 0,
                      "queue.buffering.max.messages": 1000000})
        total = int(rate * seconds)
        tick = 0.001  # send what is due every millisecond
        start = time.monotonic()
        i = 0
        while i < total:
            due = min(total, int((time.monotonic() - start) * rate) + 1)
            t0 = now_us()
            while i < due:
                v = b'{"id":%d,"t0":%d,"ts":%d}' % (i, t0, t0) if window else b'{"id":%d,"t0":%d}' % (i, t0)
                p.produce("ev", v, on_delivery=(lambda err, msg, t0=t0: on_ack(err, msg, t0)) if i % 100 == 0 else None)
                i += 1
            p.poll(0)
            time.sleep(tick)
        p.flush(60)
        took = time.monotonic() - start
        deadline = time.time() + 20
        want = int(seconds * 1000) * 9 // 10 if window else total  # about one window row per produce tick
        while len(sub.lat) < want and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5 if window else 0)
        what = "window rows" if window else "delivered"
        print("rate %d events/s, %.0f s (took %.1f s), %d/%d %s" % (rate, seconds, took, len(sub.lat),
                                                                   want if window else total, what))
        print("produce -> SUBSCRIBE client   %s" % fmt(sub.lat))
        print("produce ack, acks=all (peer)  %s" % fmt(acks))
        sub.stop = True
    finally:
        b.close()


if __name__ == "__main__":
    main()
