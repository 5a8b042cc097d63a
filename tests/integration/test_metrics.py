#!/usr/bin/python3
# test_metrics.py — the HTTP surface with curl: GET /health, GET /metrics in
# Prometheus text format (per partition: log end offset, high watermark, lake
# frontier, lag, records tiered and dead-lettered; per topic: commits, bytes
# written, last commit time; per Kafka API: requests and bytes), the values
# checked against what was produced; and hostile requests (404/405/413/431,
# garbage, a silent connection closed by the idle timeout, many connections).
import json
import re
import socket
import subprocess
import time

from confluent_kafka import Producer

from braidtest import Broker, create_topic, free_port, tap


def curl(port, path, *extra):
    r = subprocess.run(["curl", "-s", "-i", "--max-time", "10"] + list(extra) + ["http://127.0.0.1:%d%s" % (port, path)],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    raw = r.stdout.decode("utf-8", "replace")
    head, _, body = raw.partition("\r\n\r\n")
    m = re.match(r"HTTP/1\.1 (\d+)", head)
    return (int(m.group(1)) if m else None), head, body


def parse_metrics(body):
    """{(name, frozenset(labels)): value}; also checks the text format line by line."""
    out, bad = {}, []
    for line in body.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (-?[0-9.e+]+)$', line)
        if not m:
            bad.append(line)
            continue
        labels = frozenset(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out, bad


def metric(ms, name, **labels):
    return ms.get((name, frozenset((k, str(v)) for k, v in labels.items())))


def raw(port, data, read_timeout=3.0):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.settimeout(read_timeout)
    try:
        if data:
            s.sendall(data)
        got = b""
        while True:
            try:
                c = s.recv(65536)
            except socket.timeout:
                return got, False
            except ConnectionResetError:
                return got, True
            if not c:
                return got, True
            got += c
    finally:
        s.close()


def main():
    hport = free_port()
    b = Broker("--http", "127.0.0.1:%d" % hport)
    try:
        st, head, body = curl(hport, "/health")
        tap.ok(st == 200 and body.strip() == "ok", "GET /health answers 200 ok", head)

        topic, parts, n, bad = "events", 3, 3000, 30
        err, msg = create_topic(b.port, topic, parts, {"braid.lake.mode": "json",
                                                       "braid.lake.commit.interval.ms": "200"})
        tap.eq(err, 0, "create json topic (%s)" % msg)
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5, "log_level": 0})
        for i in range(n):
            v = b"not json" if i % (n // bad) == 0 else json.dumps({"id": i, "name": "n%d" % i}).encode()
            p.produce(topic, value=v, partition=i % parts)
        tap.eq(p.flush(30), 0, "produced %d records (%d not JSON)" % (n, bad))

        deadline, ms = time.time() + 60, {}
        while time.time() < deadline:
            st, head, body = curl(hport, "/metrics")
            ms, badlines = parse_metrics(body)
            fr = [metric(ms, "braid_lake_frontier", topic=topic, partition=q) for q in range(parts)]
            if all(f == n // parts for f in fr):
                break
            time.sleep(0.2)
        tap.ok(st == 200 and "text/plain; version=0.0.4" in head, "GET /metrics answers Prometheus text", head)
        tap.eq(badlines, [], "every sample line parses")
        tap.ok("# TYPE braid_lake_lag_records gauge" in body and "# TYPE braid_kafka_requests_total counter" in body,
               "HELP/TYPE lines present")
        ends = [metric(ms, "braid_log_end_offset", topic=topic, partition=q) for q in range(parts)]
        tap.eq(ends, [n // parts] * parts, "log end offset per partition")
        tap.eq([metric(ms, "braid_log_high_watermark", topic=topic, partition=q) for q in range(parts)],
               [n // parts] * parts, "high watermark per partition")
        tap.eq([metric(ms, "braid_lake_frontier", topic=topic, partition=q) for q in range(parts)],
               [n // parts] * parts, "lake frontier reaches the log end")
        tap.eq([metric(ms, "braid_lake_lag_records", topic=topic, partition=q) for q in range(parts)],
               [0] * parts, "lag is 0 once tiered")
        tiered = sum(metric(ms, "braid_lake_records_tiered_total", topic=topic, partition=q) or 0 for q in range(parts))
        dead = sum(metric(ms, "braid_lake_records_dead_lettered_total", topic=topic, partition=q) or 0
                   for q in range(parts))
        tap.eq((tiered, dead), (n - bad, bad), "records tiered + dead-lettered per partition add up")
        commits = metric(ms, "braid_lake_commits_total", topic=topic) or 0
        tap.ok(commits >= 1, "commits counted (%s)" % commits)
        tap.ok((metric(ms, "braid_lake_bytes_written_total", topic=topic) or 0) > 1000, "bytes written counted")
        last = metric(ms, "braid_lake_last_commit_timestamp_seconds", topic=topic) or 0
        tap.ok(abs(last - time.time()) < 120, "last commit time is recent (%s)" % last)
        preq = metric(ms, "braid_kafka_requests_total", api="Produce") or 0
        pin = metric(ms, "braid_kafka_request_bytes_total", api="Produce") or 0
        tap.ok(preq >= 1 and pin > n * 10, "produce requests (%d) and bytes (%d) counted" % (preq, pin))
        tap.ok(metric(ms, "braid_kafka_requests_total", api="Metadata") is not None, "other APIs listed once used")
        dlq = "%s.dlq" % topic
        tap.eq(metric(ms, "braid_log_end_offset", topic=dlq, partition=0), bad, "the DLQ topic's end offset")

        # a fetch shows up in the fetch counters
        subprocess.run(["kcat", "-b", b.bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        ms, _ = parse_metrics(curl(hport, "/metrics")[2])
        tap.ok((metric(ms, "braid_kafka_requests_total", api="Fetch") or 0) >= 1 and
               (metric(ms, "braid_kafka_response_bytes_total", api="Fetch") or 0) > (n // parts) * 10,
               "fetch requests and response bytes counted")

        # HEAD, errors
        st, head, body = curl(hport, "/metrics", "-I")
        tap.ok(st == 200 and body == "", "HEAD /metrics: headers only")
        tap.eq(curl(hport, "/nope")[0], 404, "unknown path: 404")
        st, head, _ = curl(hport, "/metrics", "-X", "DELETE")
        tap.ok(st == 405 and "Allow: GET, HEAD" in head, "other method: 405 with Allow")
        tap.eq(curl(hport, "/metrics", "--data", "x=1")[0], 413, "a request body: 413")
        got, closed = raw(hport, b"GET /health HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        tap.ok(got.startswith(b"HTTP/1.1 431") and closed, "oversized head: 431, closed", got[:80])
        got, closed = raw(hport, b"\x00\x01garbage\r\n\r\n")
        tap.ok(got.startswith(b"HTTP/1.1 400") and closed, "garbage: 400, closed", got[:80])
        got, closed = raw(hport, b"GET /health HTTP/2.0\r\n\r\n")
        tap.ok(got.startswith(b"HTTP/1.1 505"), "HTTP/2.0 request line: 505", got[:80])
        got, closed = raw(hport, b"GET /health HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        tap.ok(got.startswith(b"HTTP/1.1 400"), "conflicting Content-Length: 400", got[:80])
        got, closed = raw(hport, b"GET /health HTTP/1.0\n\n")
        tap.ok(got.startswith(b"HTTP/1.1 200") and closed, "bare LF line ends accepted", got[:80])
        # a client that sends half a request and waits is cut off by the idle timeout (10 s)
        t0 = time.time()
        got, closed = raw(hport, b"GET /hea", read_timeout=20)
        tap.ok(closed and got == b"" and 5 < time.time() - t0 < 19,
               "a stalled request is closed by the idle timeout (%.1f s)" % (time.time() - t0))
        # many connections at once: the server stays up and answers afterwards
        socks = []
        for _ in range(300):
            try:
                socks.append(socket.create_connection(("127.0.0.1", hport), 2))
            except OSError:
                break
        for s in socks:
            s.close()
        tap.eq(curl(hport, "/health")[0], 200, "still serving after %d idle connections" % len(socks))
        tap.ok(b.running(), "broker still running")
    finally:
        b.close()

    # the default port taken by someone else: braid serves on without HTTP;
    # an explicit --http that cannot bind fails the start
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    bport = busy.getsockname()[1]
    b2 = Broker("--http", "127.0.0.1:%d" % bport, start=False)
    try:
        started = True
        try:
            b2.start(timeout=5)
        except Exception:  # noqa: BLE001 — expected: the process exits
            started = False
        tap.ok(not started or not b2.running(), "explicit --http on a taken port fails the start")
    finally:
        b2.close()
        busy.close()


if __name__ == "__main__":
    tap.run("metrics", main)
    tap.finish()
