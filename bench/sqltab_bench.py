#!/usr/bin/python3
# sqltab_bench.py — tables on topics: what a `braid sql` session pays to open a
# data directory (every table read from its log, every view rebuilt), and what
# an INSERT ... SELECT of N rows costs (JSON records appended, fsynced, read
# back), beside DuckDB loading the same JSON lines and running the same
# GROUP BY in the same run.
#
#   bench/sqltab_bench.py [N]        (default 200000; RUNS=3 medians)
#
# braid: N records {"id","name","city","score"} produced with librdkafka to the
#   topic of an upsert table t (braid serve), then `braid sql -c "SELECT ...
#   FROM v"` where v = SELECT city, count(*), sum(score) FROM t GROUP BY city:
#   process start + log read + table and view rebuild + query.
# DuckDB: CREATE TABLE t AS SELECT * FROM read_json(<the same records>); then
#   the same GROUP BY (in-process, node @duckdb/node-api; startup excluded).
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


def timed(args):
    t = time.time()
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit("%s failed: %s" % (args, p.stderr))
    return time.time() - t, p.stdout


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    runs = int(os.environ.get("RUNS", "3"))
    tmp = tempfile.mkdtemp(prefix="braid-sqltab-bench-")
    data = os.path.join(tmp, "data")
    jl = os.path.join(tmp, "rows.jsonl")
    try:
        rows = [json.dumps({"id": i, "name": "n%d" % (i % 1000), "city": "c%d" % (i % 50), "score": i % 100},
                           separators=(",", ":")) for i in range(n)]
        with open(jl, "w") as f:
            f.write("\n".join(rows) + "\n")
        timed([BRAID, "sql", "--data", data, "-c",
               "CREATE TABLE t (id bigint PRIMARY KEY, name text, city text, score bigint);"
               "CREATE TABLE t2 (id bigint PRIMARY KEY, name text, city text, score bigint);"
               "CREATE MATERIALIZED VIEW v AS SELECT city, count(*) AS n, sum(score) AS s FROM t GROUP BY city"])
        kport = free_port()
        proc = subprocess.Popen([BRAID, "serve", "--data", data, "--kafka", "127.0.0.1:%d" % kport,
                                 "--pg", "127.0.0.1:0", "--no-tiering"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            p = Producer({"bootstrap.servers": "127.0.0.1:%d" % kport, "linger.ms": 20,
                          "partitioner": "murmur2_random", "queue.buffering.max.messages": 1000000})
            for i, r in enumerate(rows):
                p.produce("t", key='{"id":%d}' % i, value=r)
                if i % 100000 == 0:
                    p.flush()
            p.flush()
            del p  # before the server goes, or librdkafka logs reconnect attempts
        finally:
            proc.terminate()
            proc.wait()
        q = "SELECT sum(n), sum(s) FROM v"
        opens = []
        for _ in range(runs):
            s, out = timed([BRAID, "sql", "--data", data, "--format", "csv", "-c", q])
            opens.append(s)
        want = "%d,%d" % (n, sum(i % 100 for i in range(n)))
        if out.splitlines()[-1] != want:
            raise SystemExit("braid answered %r, want %r" % (out, want))
        ins = []
        for _ in range(runs):
            s, _ = timed([BRAID, "sql", "--data", data, "-c", "DELETE FROM t2", "-c", "INSERT INTO t2 SELECT * FROM t"])
            ins.append(s)
        duck = subprocess.run(["node", "-e", """
const { createRequire } = require('node:module');
const r = createRequire(process.argv[1]);
(async () => {
  const { DuckDBInstance } = await import(r.resolve('@duckdb/node-api'));
  const out = [];
  for (let i = 0; i < Number(process.argv[3]); i++) {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const t = performance.now();
    await c.run(`CREATE TABLE t AS SELECT * FROM read_json('${process.argv[2]}', format='newline_delimited', columns={id:'BIGINT', name:'VARCHAR', city:'VARCHAR', score:'BIGINT'})`);
    await c.run(`CREATE TABLE v AS SELECT city, count(*) AS n, sum(score) AS s FROM t GROUP BY city`);
    await c.runAndReadAll(`SELECT sum(n), sum(s) FROM v`);
    out.push((performance.now() - t) / 1000);
  }
  console.log(out.join(' '));
})();""", os.path.join(ROOT, "tests", "js", "package.json"), jl, str(runs)], capture_output=True, text=True, check=True)
        ducks = [float(x) for x in duck.stdout.split()]
        o, d, i = statistics.median(opens), statistics.median(ducks), statistics.median(ins)
        print("rows: %d (%.1f MB of JSON), runs: %d" % (n, os.path.getsize(jl) / 1e6, runs))
        print("braid sql open (log read + table + view rebuild + query): median %.2f s (%.0f rows/s)  runs %s"
              % (o, n / o, " ".join("%.2f" % x for x in opens)))
        print("DuckDB read_json + CREATE TABLE + same GROUP BY:           median %.2f s (%.0f rows/s)  runs %s"
              % (d, n / d, " ".join("%.2f" % x for x in ducks)))
        print("ratio braid/DuckDB (time): %.2f" % (o / d))
        print("braid sql DELETE + INSERT INTO t2 SELECT * FROM t (%d rows: records appended, fsynced, read back; "
              "open included): median %.2f s  runs %s" % (n, i, " ".join("%.2f" % x for x in ins)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
