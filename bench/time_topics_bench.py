#!/usr/bin/python3
# time_topics_bench.py — what event time costs a topic-backed table: the same N
# JSON records (3 partitions, out of order within the delay, 1 in 50 late)
# produced with librdkafka to a keyless table WITHOUT time options and to one
# WITH (event_time, watermark_delay, lateness = 'dead_letter'), each in its own
# data directory; then `braid sql --data D -c "SELECT count(*), sum(v) FROM t"`
# RUNS times per directory: process start + every record read from the log
# (and, for the timed table, judged by the tracker with its batch's append
# time; the late ones skipped) + the query. Medians and their ratio, measured
# in the same run (the untimed table is the peer).
#
#   bench/time_topics_bench.py [N]        (default 300000; RUNS=5 medians)
#
# Tiering is off (--no-tiering): the log path alone. The DLQ already holds the
# late records after the first open, so later opens scan it and write nothing.
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BRAID = os.path.join(ROOT, "build", "braid")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from braidtest import free_port  # noqa: E402
from confluent_kafka import Producer  # noqa: E402


def timed(args):
    t = time.time()
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit("%s failed: %s" % (args, p.stderr))
    return time.time() - t, p.stdout


def fill(data, opts, rows):
    timed([BRAID, "sql", "--data", data, "-c", "CREATE TABLE t (k text, ts bigint, v bigint) WITH (partitions = 3%s)"
           % opts])
    kport = free_port()
    proc = subprocess.Popen([BRAID, "serve", "--data", data, "--kafka", "127.0.0.1:%d" % kport, "--pg", "127.0.0.1:0",
                             "--no-tiering"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        p = Producer({"bootstrap.servers": "127.0.0.1:%d" % kport, "linger.ms": 20,
                      "queue.buffering.max.messages": 1000000, "log_level": 0})
        for i, (part, r) in enumerate(rows):
            p.produce("t", value=r, partition=part)
            if i % 100000 == 0:
                p.flush()
        p.flush()
        del p
    finally:
        proc.terminate()
        proc.wait()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300000
    runs = int(os.environ.get("RUNS", "5"))
    tmp = tempfile.mkdtemp(prefix="braid-time-bench-")
    try:
        rnd = random.Random(1)
        base = (int(time.time()) - 86400) * 1000000
        rows = []
        for i in range(n):
            ts = base + i * 1000 + rnd.randint(0, 500000) - (60000000 if i % 50 == 49 else 0)
            rows.append((i % 3, json.dumps({"k": "k%d" % (i % 100), "ts": ts, "v": i % 97}, separators=(",", ":"))))
        du, de = os.path.join(tmp, "plain"), os.path.join(tmp, "timed")
        fill(du, "", rows)
        fill(de, ", event_time = 'ts', watermark_delay = '1 second', lateness = 'dead_letter'", rows)
        q = "SELECT count(*), sum(v) FROM t"
        res = {}
        for name, d in (("plain", du), ("timed", de)):
            res[name] = []
        outs = {}
        for _ in range(runs):  # alternate, so both see the same machine load
            for name, d in (("plain", du), ("timed", de)):
                s, out = timed([BRAID, "sql", "--data", d, "--format", "csv", "-c", q])
                res[name].append(s)
                outs[name] = out.splitlines()[-1]
        late = n // 50
        if outs["plain"].split(",")[0] != str(n) or outs["timed"].split(",")[0] != str(n - late):
            raise SystemExit("answers %r (want %d rows without time, %d with)" % (outs, n, n - late))
        mp, mt = statistics.median(res["plain"]), statistics.median(res["timed"])
        print("records: %d in 3 partitions, %d late (dead-lettered), runs: %d" % (n, late, runs))
        print("braid sql open + count, no time options:   median %.2f s (%.0f records/s)  runs %s"
              % (mp, n / mp, " ".join("%.2f" % x for x in res["plain"])))
        print("braid sql open + count, event_time + DLQ:  median %.2f s (%.0f records/s)  runs %s"
              % (mt, n / mt, " ".join("%.2f" % x for x in res["timed"])))
        print("ratio timed/plain (time): %.2f" % (mt / mp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
