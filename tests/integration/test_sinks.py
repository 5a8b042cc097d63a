#!/usr/bin/python3
# test_sinks.py — outputs of views (src/sql/sink.c), exactly once across
# crashes. An upsert table fed by confluent_kafka has an aggregate view with
# WITH (sink_table = 'gold.per_grp', sink_topic = 'per_grp_changes') and a
# silver -> gold chain (a filtered view with a sink table, and a view over that
# view). braid is killed with SIGKILL 10 times while records are produced and
# the sinks commit every 100 ms; after each restart, once the inputs are final,
# the sink table read by icebird and by DuckDB (read_parquet over the
# snapshot's live files), the sink table read by SQL as gold.per_grp, and the
# sink topic's changelog integrated (sum of _weight per key) all equal the
# batch SELECT over the table, with no duplicate or missing row; the gold view
# over silver equals its batch answer too.
import json
import os
import random
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from braidtest import Broker, free_port, tap  # noqa: E402
from test_tier import NODE_MODULES  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

IDS = 400
AGG = "SELECT grp, count(*) AS n, sum(v) AS s FROM ev GROUP BY grp"
SILVER = "SELECT id, grp, v FROM ev WHERE v > 50"
GOLD = "SELECT grp, count(*) AS n, max(v) AS top FROM silver GROUP BY grp"
GOLD_BATCH = "SELECT grp, count(*) AS n, max(v) AS top FROM ev WHERE v > 50 GROUP BY grp"

# icebird and DuckDB over one table: its rows as JSON arrays of the given columns.
READ_JS = r"""
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
const nm = process.env.NM;
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, init = {}) => {
  const u = String(url);
  if (!u.startsWith('file://')) return realFetch(url, init);
  const path = fileURLToPath(u);
  if (!existsSync(path)) return new Response('not found', { status: 404, statusText: 'Not Found' });
  const size = statSync(path).size;
  if ((init.method || 'GET').toUpperCase() === 'HEAD')
    return new Response(null, { status: 200, headers: { 'Content-Length': String(size) } });
  const range = new Headers(init.headers).get('Range');
  const data = readFileSync(path);
  if (range) {
    const m = /^bytes=(\d+)-(\d*)$/.exec(range);
    const start = Number(m[1]), end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    return new Response(data.subarray(start, end + 1), { status: 206,
      headers: { 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': String(end - start + 1) } });
  }
  return new Response(data, { status: 200, headers: { 'Content-Length': String(size) } });
};
const { icebergRead, icebergMetadata, icebergManifests } =
  await import(pathToFileURL(join(nm, 'icebird', 'src', 'index.js')).href);
const require = createRequire(join(nm, 'x.js'));
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')).href);
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const readline = await import('node:readline');
for await (const line of readline.createInterface({ input: process.stdin })) {
const { tables, cols } = JSON.parse(line);
const out = {};
for (const dir of tables) {
  const tableUrl = pathToFileURL(dir).href;
  const md = await icebergMetadata({ tableUrl });
  const snap = md.snapshots.find(s => s['snapshot-id'] === md['current-snapshot-id']);
  const rows = snap ? await icebergRead({ tableUrl }) : [];
  const ice = rows.map(r => cols[dir].map(c => (typeof r[c] === 'bigint' ? Number(r[c]) : r[c])));
  let duck = [];
  if (snap) {
    const files = (await icebergManifests(md)).flatMap(m => m.entries).filter(e => e.status !== 2)
      .map(e => fileURLToPath(e.data_file.file_path));
    if (files.length) {
      const src = `read_parquet([${files.map(f => `'${f}'`).join(',')}])`;
      const r = (await con.runAndReadAll(`SELECT ${cols[dir].join(', ')} FROM ${src}`)).getRowObjectsJson();
      duck = r.map(x => cols[dir].map(c => (typeof x[c] === 'string' && /^-?\d+$/.test(x[c]) ? Number(x[c]) : x[c])));
    }
  }
  out[dir] = { icebird: ice, duckdb: duck, summary: snap ? snap.summary : {} };
}
console.log(JSON.stringify(out));
}
"""


def psql(port, sql):
    p = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "braid", "-d", "braid", "-X", "-At",
                        "-F", "|", "-c", sql], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
    return p.stdout.strip() + (("\nERR " + p.stderr.strip()) if p.returncode else "")


def rows_of(text, ncols):
    """psql -At lines -> sorted tuples (numbers as int)."""
    out = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) != ncols:
            return None
        out.append(tuple(int(x) if x.lstrip("-").isdigit() else x for x in parts))
    return sorted(out)


def wait_pg(pg, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline and psql(pg, "SELECT 1") != "1":
        time.sleep(0.2)


def wait_equal(pg, pairs, timeout=30):
    """Polls until each pair (query a, query b, ncols) gives the same rows, all
    in one psql call; returns [(rows a, rows b)]."""
    deadline = time.time() + timeout
    sql = "; SELECT '#'; ".join("%s; SELECT '#'; %s" % (a, b) for a, b, _ in pairs)
    while True:
        parts = ("\n" + psql(pg, sql) + "\n").split("\n#\n")
        res = []
        for i, (_, _, n) in enumerate(pairs):
            ok = len(parts) == 2 * len(pairs)
            res.append((rows_of(parts[2 * i].strip(), n) if ok else None,
                        rows_of(parts[2 * i + 1].strip(), n) if ok else None))
        if all(ra is not None and ra == rb for ra, rb in res) or time.time() > deadline:
            return res
        time.sleep(0.1)


class LakeReader:
    """One node process (icebird and DuckDB load once) answering a line per request."""

    def __init__(self):
        import tempfile
        self.dir = tempfile.mkdtemp(prefix="braid-sinks-js-")
        path = os.path.join(self.dir, "read.mjs")
        with open(path, "w") as f:
            f.write(READ_JS)
        self.p = subprocess.Popen(["node", path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  env=dict(os.environ, NM=NODE_MODULES), text=True)

    def read(self, data, tables):
        dirs = {t: os.path.join(data, "lake", *t.split(".")) for t in tables}
        self.p.stdin.write(json.dumps({"tables": list(dirs.values()),
                                       "cols": {dirs[t]: c for t, c in tables.items()}}) + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("lake reader (node) exited: %s" % self.p.poll())
        res = json.loads(line)
        return {t: res[d] for t, d in dirs.items()}

    def close(self):
        import shutil
        self.p.stdin.close()
        self.p.wait(30)
        shutil.rmtree(self.dir, ignore_errors=True)


def topic_integral(bootstrap, topic, cols):
    """The changelog integrated: {row tuple: weight}, zero weights dropped."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "sinks-%d" % random.randrange(1 << 30),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        c.assign([TopicPartition(topic, 0, lo)])
        acc, seen, frontier = {}, lo, None
        deadline = time.time() + 30
        while seen < hi and time.time() < deadline:
            for m in c.consume(1000, 1.0):
                if m.error():
                    continue
                seen = m.offset() + 1
                v = json.loads(m.value())
                key = tuple(v[k] for k in cols)
                acc[key] = acc.get(key, 0) + v["_weight"]
                frontier = dict(m.headers() or []).get("braid.frontier", b"").decode()
        return {k: w for k, w in acc.items() if w}, frontier
    finally:
        c.close()


def multiset(rows):
    d = {}
    for r in rows:
        d[tuple(r)] = d.get(tuple(r), 0) + 1
    return d


class Feeder:
    """Produces upserts of ids 0..IDS-1 until stopped; one idempotent producer
    across restarts (librdkafka retries what a killed broker did not ack)."""

    def __init__(self, bootstrap):
        self.p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all", "log_level": 0,
                           "enable.idempotence": True, "partitioner": "murmur2_random",
                           "message.timeout.ms": 120000, "reconnect.backoff.ms": 20,
                           "reconnect.backoff.max.ms": 200, "retry.backoff.ms": 20})
        self.rng = random.Random(7)
        self.sent = 0

    def run(self, stop):
        while not stop.is_set():
            for _ in range(40):
                i = self.rng.randrange(IDS)
                r = {"id": i, "grp": "g%d" % (i % 5), "v": self.rng.randrange(100)}
                try:
                    self.p.produce("ev", key=json.dumps({"id": i}, separators=(",", ":")), value=json.dumps(r))
                    self.sent += 1
                except BufferError:
                    break
            self.p.poll(0)
            time.sleep(0.01)


def check_round(b, pg, tag_, feeder, reader):
    tap.eq(feeder.p.flush(60), 0, "%s: every record produced was acknowledged" % tag_)
    (want, view), (_, sql_sink), (gwant, gold), (swant, silver) = wait_equal(pg, [
        (AGG, "SELECT grp, n, s FROM per_grp", 3),
        (AGG, "SELECT grp, n, s FROM gold.per_grp", 3),
        (GOLD_BATCH, "SELECT grp, n, top FROM gold", 3),
        ("SELECT id, grp, v FROM ev WHERE v > 50", "SELECT id, grp, v FROM silver.ev_big", 3)])
    tap.ok(want and view == want, "%s: view per_grp equals the batch SELECT (%d groups)" % (tag_, len(want or [])),
           "%s vs %s" % (view, want))
    tap.ok(sql_sink == want, "%s: sink table gold.per_grp read by SQL equals it" % tag_, "%s" % sql_sink)
    tap.ok(gwant and gold == gwant, "%s: view gold over view silver equals its batch SELECT" % tag_,
           "%s vs %s" % (gold, gwant))
    tap.ok(swant and silver == swant, "%s: sink table silver.ev_big read by SQL (%d rows)" % (tag_, len(swant or [])))
    lake = reader.read(b.data, {"gold.per_grp": ["grp", "n", "s"], "silver.ev_big": ["id", "grp", "v"]})
    g = lake["gold.per_grp"]
    exp = multiset(want or [])
    tap.ok(multiset(g["icebird"]) == exp, "%s: icebird reads gold.per_grp = batch answer" % tag_,
           "%s" % sorted(g["icebird"]))
    tap.ok(multiset(g["duckdb"]) == exp, "%s: DuckDB over its live files = batch answer" % tag_,
           "%s" % sorted(g["duckdb"]))
    tap.ok(g["summary"].get("braid.view.frontier", "").startswith("ev/0:"),
           "%s: the snapshot summary carries the input frontier" % tag_, "%s" % g["summary"])
    s = lake["silver.ev_big"]
    tap.ok(multiset(s["icebird"]) == multiset(swant or []) == multiset(s["duckdb"]),
           "%s: icebird and DuckDB read silver.ev_big = batch answer" % tag_)
    integral, frontier = topic_integral(b.bootstrap, "per_grp_changes", ["grp", "n", "s"])
    tap.ok(integral == exp, "%s: sink topic's changelog integrated = batch answer" % tag_,
           "%s vs %s" % (sorted(integral.items()), sorted(exp.items())))
    tap.ok(frontier is not None and frontier.startswith("ev/0:"), "%s: changelog records carry the frontier" % tag_,
           "%s" % frontier)


def main():
    pg = free_port()
    b = Broker("--pg", "127.0.0.1:%d" % pg)
    wait_pg(pg)
    out = psql(pg, "CREATE TABLE ev (id bigint PRIMARY KEY, grp text, v bigint) WITH (partitions = 2)")
    tap.ok(out == "CREATE TABLE", "CREATE TABLE ev", out)
    out = psql(pg, "CREATE MATERIALIZED VIEW per_grp WITH (sink_table = 'gold.per_grp', sink_topic = 'per_grp_changes', "
                   "sink_interval = '100ms') AS " + AGG)
    tap.ok(out == "CREATE MATERIALIZED VIEW", "a view with sink_table and sink_topic", out)
    out = psql(pg, "CREATE MATERIALIZED VIEW silver WITH (sink_table = 'silver.ev_big', sink_interval = '100ms') AS "
               + SILVER)
    tap.ok(out == "CREATE MATERIALIZED VIEW", "silver view with a sink table", out)
    out = psql(pg, "CREATE MATERIALIZED VIEW gold AS " + GOLD)
    tap.ok(out == "CREATE MATERIALIZED VIEW", "gold view over the silver view", out)
    out = psql(pg, "DROP MATERIALIZED VIEW silver")
    tap.ok("depends on it" in out, "a view another view reads cannot be dropped", out)
    out = psql(pg, "CREATE MATERIALIZED VIEW bad WITH (sink_table = 'nodot') AS SELECT 1 AS one")
    tap.ok("namespace.name" in out, "sink_table needs namespace.name", out)
    out = psql(pg, "CREATE MATERIALIZED VIEW twice WITH (sink_table = 'gold.per_grp') AS SELECT 1 AS one")
    tap.ok("already writes" in out, "two views cannot write one sink table", out)
    out = psql(pg, "CREATE MATERIALIZED VIEW loop WITH (sink_topic = 'ev') AS SELECT 1 AS one")
    tap.ok("cannot write its changelog into a table" in out, "a sink_topic cannot be a table's topic", out)

    feeder = Feeder(b.bootstrap)
    reader = LakeReader()
    rng = random.Random(11)
    stop = threading.Event()
    t = threading.Thread(target=feeder.run, args=(stop,))
    t.start()
    time.sleep(0.5)
    stop.set()
    t.join()
    check_round(b, pg, "start", feeder, reader)
    for k in range(10):
        stop = threading.Event()
        t = threading.Thread(target=feeder.run, args=(stop,))
        t.start()
        time.sleep(rng.uniform(0.4, 1.2))  # sinks commit every 100 ms meanwhile
        b.kill()
        stop.set()
        t.join()
        b.start()
        wait_pg(pg)
        check_round(b, pg, "kill %d" % (k + 1), feeder, reader)
    tap.ok(feeder.sent > 1000, "%d upserts produced over the kills" % feeder.sent)

    # A clean stop commits what is pending; the sinks then hold the final answer.
    b.restart()
    wait_pg(pg)
    check_round(b, pg, "clean restart", feeder, reader)
    reader.close()
    b.close()
    tap.finish()


if __name__ == "__main__":
    main()
