#!/usr/bin/python3
# seam_bench.py — what the seam buys when a session opens a data directory:
# a table rebuilt from the lake (Parquet, up to the frontier) vs the same table
# rebuilt from the log (JSON records), in the same run, alternating.
#
#   bench/seam_bench.py [N]        (default 200000; RUNS=5 medians)
#
# N records {"id","name","city","score"} are produced with librdkafka to the
# topic of a keyless table t and of an upsert table u (braid serve, tiering
# every 100 ms) until the lake frontier reaches the log end. Then, per run:
# `braid sql -c "SELECT count(*), sum(score) FROM t; ... FROM u"` with the lake
# in place (lake path) and with <data>/lake moved aside (log path: the table is
# read from offset 0, as before the seam). Both answers must be equal.
import json
import os
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
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402


def timed(args):
    t = time.time()
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit("%s failed: %s" % (args, p.stderr))
    timed.stderr = p.stderr
    return time.time() - t, p.stdout


def frontier(data, topic):
    p = subprocess.run([BRAID, "topic", "frontier", topic, "--data", data], capture_output=True, text=True)
    f = {}
    for line in p.stdout.splitlines()[1:]:
        if line and not line.startswith("#"):
            a, b = line.split("\t")
            f[int(a)] = int(b)
    return f


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    runs = int(os.environ.get("RUNS", "5"))
    tmp = tempfile.mkdtemp(prefix="braid-seam-bench-")
    data = os.path.join(tmp, "data")
    try:
        timed([BRAID, "sql", "--data", data, "-c",
               "CREATE TABLE t (id bigint, name text, city text, score bigint) WITH (commit_interval = '100 ms');"
               "CREATE TABLE u (id bigint PRIMARY KEY, name text, city text, score bigint) "
               "WITH (commit_interval = '100 ms')"])
        kport = free_port()
        proc = subprocess.Popen([BRAID, "serve", "--data", data, "--kafka", "127.0.0.1:%d" % kport,
                                 "--pg", "127.0.0.1:0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            p = Producer({"bootstrap.servers": "127.0.0.1:%d" % kport, "linger.ms": 20, "log_level": 0,
                          "partitioner": "murmur2_random"})
            for i in range(n):
                v = json.dumps({"id": i, "name": "n%d" % (i % 1000), "city": "c%d" % (i % 50), "score": i % 100},
                               separators=(",", ":"))
                for topic in ("t", "u"):
                    while True:
                        try:
                            p.produce(topic, key='{"id":%d}' % i if topic == "u" else None, value=v)
                            break
                        except BufferError:
                            p.poll(0.05)
            p.flush(60)
            deadline = time.time() + 300
            while time.time() < deadline and not (frontier(data, "t").get(0, 0) >= n and
                                                  frontier(data, "u").get(0, 0) >= n):
                time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait()
        q = [BRAID, "sql", "--data", data, "--format", "csv", "-c",
             "SELECT count(*), sum(score) FROM t", "-c", "SELECT count(*), sum(score) FROM u"]
        lake, log = [], []
        answers = set()
        for _ in range(runs):
            t, out = timed(q)
            lake.append(t)
            answers.add(out)
            if timed.stderr.count("read from the lake") != 2:
                raise SystemExit("the lake path was not taken by both tables:\n" + timed.stderr)
            os.rename(os.path.join(data, "lake"), os.path.join(tmp, "lake.aside"))
            t, out = timed(q)
            log.append(t)
            answers.add(out)
            os.rename(os.path.join(tmp, "lake.aside"), os.path.join(data, "lake"))
        if len(answers) != 1:
            raise SystemExit("answers differ: %r" % answers)
        ml, mg = statistics.median(lake), statistics.median(log)
        print("N=%d records per table, 2 tables (keyless t, upsert u), RUNS=%d" % (n, runs))
        print("answer: %s" % answers.pop().replace("\n", " "))
        print("open from lake + log: median %.2f s  runs %s" % (ml, " / ".join("%.2f" % x for x in lake)))
        print("open from log only:   median %.2f s  runs %s" % (mg, " / ".join("%.2f" % x for x in log)))
        print("ratio lake/log: %.2f" % (ml / mg))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
