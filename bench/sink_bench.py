#!/usr/bin/python3
# sink_bench.py — what a view's sink_table costs (src/sql/sink.c), against the
# same view without one, in the same run, alternating.
#
#   bench/sink_bench.py [N]        (default 200000; RUNS=3 medians)
#
# N records {"id","name","city","score"} are produced with librdkafka to the
# topics of a keyless table t and an upsert table u (braid serve), then the
# server stops. Per run, each a `braid sql --data` session (its open — the
# tables loaded from lake + log — is in every figure alike):
#   plain      CREATE MATERIALIZED VIEW over t (N rows), no sink      (the peer)
#   create     the same view WITH (sink_table = new table): + the first commit of N rows
#   reconcile  the same view and table again: + reading the N rows back and diffing
#   update     a session that opens u under a view of u with a sink_table (reconcile:
#              N rows read back and diffed) and runs one UPDATE (copy-on-write of the
#              one bucket it touches, ~N/16 rows) (the peer: the same without a sink)
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
from confluent_kafka import Producer  # noqa: E402


def sql(data, text):
    t = time.time()
    p = subprocess.run([BRAID, "sql", "--data", data, "-c", text], capture_output=True, text=True)
    if p.returncode or "ERROR" in p.stdout + p.stderr:
        raise SystemExit("braid sql failed: %s %s" % (p.stdout[-500:], p.stderr[-500:]))
    return time.time() - t


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    runs = int(os.environ.get("RUNS", "3"))
    tmp = tempfile.mkdtemp(prefix="braid-sink-bench-")
    data = os.path.join(tmp, "data")
    try:
        port, pg = free_port(), free_port()
        srv = subprocess.Popen([BRAID, "serve", "--data", data, "--kafka", "127.0.0.1:%d" % port,
                                "--pg", "127.0.0.1:%d" % pg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(pg), "-U", "b", "-d", "b", "-qc",
                        "CREATE TABLE t (id bigint, name text, city text, score bigint);"
                        "CREATE TABLE u (id bigint PRIMARY KEY, name text, city text, score bigint)"], check=True)
        p = Producer({"bootstrap.servers": "127.0.0.1:%d" % port, "linger.ms": 20, "log_level": 0,
                      "partitioner": "murmur2_random"})
        for i in range(n):
            v = json.dumps({"id": i, "name": "n%d" % i, "city": "c%d" % (i % 50), "score": i % 1000})
            for topic in ("t", "u"):
                while True:
                    try:
                        p.produce(topic, key=json.dumps({"id": i}) if topic == "u" else None, value=v)
                        break
                    except BufferError:
                        p.poll(0.05)
        p.flush(120)
        time.sleep(2)
        srv.terminate()
        srv.wait(60)
        view = "SELECT id, name, city, score FROM t"
        res = {"plain": [], "create": [], "reconcile": [], "update_plain": [], "update_sink": []}
        for r in range(runs):
            res["plain"].append(sql(data, "CREATE MATERIALIZED VIEW p AS %s; DROP VIEW p" % view))
            res["create"].append(sql(data, "CREATE MATERIALIZED VIEW s WITH (sink_table = 'b.s%d') AS %s; "
                                     "DROP VIEW s" % (r, view)))
            res["reconcile"].append(sql(data, "CREATE MATERIALIZED VIEW s WITH (sink_table = 'b.s%d') AS %s; "
                                        "DROP VIEW s" % (r, view)))
            # an upsert view with a sink table, kept; an UPDATE then rewrites it
            sql(data, "CREATE MATERIALIZED VIEW uv WITH (sink_table = 'b.u%d') AS SELECT * FROM u" % r)
            res["update_sink"].append(sql(data, "UPDATE u SET score = score + 1 WHERE id = 5"))
            sql(data, "DROP VIEW uv; CREATE MATERIALIZED VIEW uv AS SELECT * FROM u")
            res["update_plain"].append(sql(data, "UPDATE u SET score = score + 1 WHERE id = 5"))
            sql(data, "DROP VIEW uv")
        med = {k: statistics.median(v) for k, v in res.items()}
        print("sink_bench N=%d runs=%d (seconds per braid sql session, median)" % (n, runs))
        for k, v in res.items():
            print("  %-13s %7.2f   runs %s" % (k, med[k], " ".join("%.2f" % x for x in v)))
        def rate(d):
            return "%.0f rows/s" % (n / d) if d > 0.05 else "within the noise"
        print("  first commit of N rows: +%.2f s (%s); reconcile: +%.2f s (%s)" %
              (med["create"] - med["plain"], rate(med["create"] - med["plain"]),
               med["reconcile"] - med["plain"], rate(med["reconcile"] - med["plain"])))
        print("  copy-on-write commit of an N-row view after one UPDATE: +%.2f s" %
              (med["update_sink"] - med["update_plain"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
