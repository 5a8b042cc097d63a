# test_tier.py — tiering: a topic is also the Iceberg table kafka.<topic>, exactly
# once. Records produced with librdkafka are read back through two independent
# readers: icebird (over the table's metadata) and DuckDB (read_parquet over the
# live data files the manifests list). Phases: key_value mode with kill -9 of the
# broker at random moments during tiering; the `braid topic frontier` command.
# The JSON proofs are in test_tier_json.py (they import the helpers below).
import json
import os
import random
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep tests/ free of __pycache__

from braidtest import BRAID, ROOT, Broker, create_topic, tap

from confluent_kafka import Consumer, Producer, TopicPartition

NODE_MODULES = os.path.join(ROOT, "tests", "js", "node_modules")

# Reads a table with icebird and its live files with DuckDB; prints one JSON
# object per reader: rows, per-partition offset stats, sums of chosen columns.
CHECK_JS = r"""
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
const [nm, tableDir, sumCols] = [process.env.NM, process.env.TABLE_DIR, JSON.parse(process.env.SUM_COLS || '[]')];
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
const tableUrl = pathToFileURL(tableDir).href;
const out = {};
const rows = await icebergRead({ tableUrl });
const parts = {};
const sums = Object.fromEntries(sumCols.map(c => [c, 0]));
let vbytes = 0;
const seen = new Set();
let dups = 0;
for (const r of rows) {
  const p = Number(r._partition), o = Number(r._offset);
  const k = p + ':' + o;
  if (seen.has(k)) dups++;
  seen.add(k);
  const s = parts[p] || (parts[p] = { n: 0, min: o, max: o });
  s.n++; s.min = Math.min(s.min, o); s.max = Math.max(s.max, o);
  for (const c of sumCols) if (r[c] !== null && r[c] !== undefined) sums[c] += Number(r[c]);
  if (r._value) vbytes += r._value.length;
}
out.icebird = { rows: rows.length, dups, parts, sums, vbytes };
if (process.env.OFFSETS) out.offsets = rows.map(r => [Number(r._partition), Number(r._offset)]);
const md = await icebergMetadata({ tableUrl });
const snap = md.snapshots.find(s => s['snapshot-id'] === md['current-snapshot-id']);
out.summary = snap ? snap.summary : {};
out.schema = md.schemas.find(s => s['schema-id'] === md['current-schema-id']);
const manifests = await icebergManifests(md);
const files = manifests.flatMap(m => m.entries).filter(e => e.status !== 2).map(e => fileURLToPath(e.data_file.file_path));
out.files = files.length;
if (files.length) {
  const require = createRequire(join(nm, 'x.js'));
  const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')).href);
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
  const src = `read_parquet([${files.map(f => `'${f}'`).join(',')}], union_by_name=true)`;
  const pr = await q(`SELECT _partition p, count(*) n, count(DISTINCT _offset) d, min(_offset) mn, max(_offset) mx FROM ${src} GROUP BY 1`);
  const dp = {};
  let dd = 0, dn = 0;
  for (const r of pr) { dp[r.p] = { n: Number(r.n), min: Number(r.mn), max: Number(r.mx) }; dd += Number(r.n) - Number(r.d); dn += Number(r.n); }
  const dsum = {};
  for (const c of sumCols) dsum[c] = Number((await q(`SELECT coalesce(sum(${c}), 0)::DOUBLE s FROM ${src}`))[0].s);
  const hasValue = out.schema.fields.some(f => f.name === '_value');
  const vb = hasValue ? Number((await q(`SELECT coalesce(sum(octet_length(_value)), 0) s FROM ${src}`))[0].s) : 0;
  out.duckdb = { rows: dn, dups: dd, parts: dp, sums: dsum, vbytes: vb };
  out.duckdb.extra = [];
  for (const e of JSON.parse(process.env.DUCK_EXTRA || '[]'))
    out.duckdb.extra.push(Number(Object.values((await q(`SELECT (${e})::DOUBLE v FROM ${src}`))[0])[0]));
} else out.duckdb = { rows: 0, dups: 0, parts: {}, sums: {}, vbytes: 0 };
console.log(JSON.stringify(out));
"""


def lake_check(data_dir, topic, sum_cols=(), offsets=False, duck_extra=()):
    """duck_extra: SQL aggregate expressions DuckDB evaluates over the live files
    (results in res["duckdb"]["extra"], as numbers)."""
    env = dict(os.environ, NM=NODE_MODULES, TABLE_DIR=os.path.join(data_dir, "lake", "kafka", topic),
               SUM_COLS=json.dumps(list(sum_cols)), DUCK_EXTRA=json.dumps(list(duck_extra)))
    if offsets:
        env["OFFSETS"] = "1"
    r = subprocess.run(["node", "--input-type=module", "-"], input=CHECK_JS.encode(), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)
    if r.returncode:
        raise RuntimeError("lake check failed: %s" % r.stderr.decode()[-2000:])
    return json.loads(r.stdout.decode().strip().splitlines()[-1])


def frontier(data_dir, topic):
    """`braid topic frontier`: {partition: offset}, or None when there is no table yet."""
    r = subprocess.run([BRAID, "topic", "frontier", topic, "--data", data_dir], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if r.returncode:
        return None
    f = {}
    for line in r.stdout.decode().splitlines()[1:]:
        if line.startswith("#"):
            continue
        p, o = line.split("\t")
        f[int(p)] = int(o)
    return f


def log_ends(bootstrap, topic, parts):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tier-ends"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(parts)}
    finally:
        c.close()


def wait_frontier(b, topic, ends, timeout=60):
    deadline = time.time() + timeout
    f = None
    while time.time() < deadline:
        f = frontier(b.data, topic)
        if f is not None and all(f.get(p, 0) >= e for p, e in ends.items()):
            return f
        time.sleep(0.2)
    return f


def read_log(bootstrap, topic, parts, ends):
    """Every (partition, offset) -> value in the log."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tier-read", "enable.auto.commit": False,
                  "fetch.max.bytes": 8 << 20})
    got = {}
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(parts)])
        want = sum(ends.values())
        deadline = time.time() + 60
        while len(got) < want and time.time() < deadline:
            for m in c.consume(10000, 0.5):
                if not m.error():
                    got[(m.partition(), m.offset())] = m.value()
    finally:
        c.close()
    return got


def exactly_once(res, ends, name):
    """Both readers hold every offset of [0, end) of every partition exactly once."""
    for reader in ("icebird", "duckdb"):
        r = res[reader]
        parts = {int(p): v for p, v in r["parts"].items()}
        ok = r["dups"] == 0 and r["rows"] == sum(ends.values()) and all(
            (ends[p] == 0 and p not in parts) or
            (p in parts and parts[p]["n"] == ends[p] and parts[p]["min"] == 0 and parts[p]["max"] == ends[p] - 1)
            for p in ends)
        tap.ok(ok, "%s: %s holds every record exactly once" % (name, reader),
               "rows %s dups %s parts %s, log ends %s" % (r["rows"], r["dups"], parts, ends))


class Stream:
    """Produces unique values from a thread until stopped; survives broker kills."""

    def __init__(self, bootstrap, topic, make_value=None):
        self.bootstrap, self.topic = bootstrap, topic
        self.make_value = make_value or (lambda i: b"v-%08d" % i)
        self.sent = 0
        self.acked = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def on_ack(self, err, m):
        if not err:
            self.acked += 1

    def run(self):
        p = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all",
                      "linger.ms": 5, "message.timeout.ms": 60000, "reconnect.backoff.ms": 50,
                      "reconnect.backoff.max.ms": 300, "compression.type": "lz4", "log_level": 0})
        while not self.stop.is_set():
            try:
                p.produce(self.topic, key=b"k%d" % (self.sent % 97), value=self.make_value(self.sent),
                          headers=[("h", b"x%d" % (self.sent % 3))], on_delivery=self.on_ack)
                self.sent += 1
            except BufferError:
                p.poll(0.05)
                continue
            except Exception:  # noqa: BLE001 — a fatal producer state after a crash
                time.sleep(0.05)
                continue
            p.poll(0)
            if self.sent % 100 == 0:
                time.sleep(0.01)  # a steady stream (~10k/s), not a flood
        p.flush(30)


def phase_kv_kill():
    topic, parts, kills = "kv", 4, 20
    b = Broker("--default-partitions", 1)
    try:
        err, msg = create_topic(b.port, topic, parts, {"braid.lake.mode": "key_value",
                                                       "braid.lake.commit.interval.ms": "150"})
        tap.eq(err, 0, "create key_value topic (%s)" % msg)
        s = Stream(b.bootstrap, topic)
        s.thread.start()
        rng = random.Random(int(os.environ.get("SEED", time.time())))
        for i in range(kills):
            time.sleep(rng.uniform(0.3, 1.0))
            b.kill()
            b.start()
        time.sleep(0.5)
        s.stop.set()
        s.thread.join(60)
        tap.ok(s.acked > 1000, "stream acknowledged %d of %d records across %d kill -9s" % (s.acked, s.sent, kills))
        ends = log_ends(b.bootstrap, topic, parts)
        f = wait_frontier(b, topic, ends)
        tap.eq(f, ends, "frontier reaches the log end after %d kill -9s" % kills)
        snaps = len([x for x in os.listdir(os.path.join(b.data, "lake", "kafka", topic, "metadata"))
                     if x.startswith("snap-")])
        tap.ok(snaps >= kills // 2, "tiering committed all along (%d snapshots across the kills)" % snaps)
        log = read_log(b.bootstrap, topic, parts, ends)
        res = lake_check(b.data, topic)
        exactly_once(res, ends, "key_value after kill -9s")
        want_bytes = sum(len(v) for v in log.values())
        tap.eq(res["icebird"]["vbytes"], want_bytes, "icebird: _value bytes equal the log's")
        tap.eq(res["duckdb"]["vbytes"], want_bytes, "duckdb: _value bytes equal the log's")
        tap.eq(res["summary"].get("braid.frontier"), ",".join("%d:%d" % (p, ends[p]) for p in range(parts)),
               "snapshot summary carries braid.frontier")
        names = [f["name"] for f in res["schema"]["fields"]]
        tap.eq(names, ["_partition", "_offset", "_timestamp", "_append_time", "_key", "_headers", "_value"],
               "key_value table columns")
        # a clean restart resumes at the frontier: nothing new, nothing doubled
        b.restart()
        time.sleep(0.6)
        res2 = lake_check(b.data, topic)
        tap.eq(res2["icebird"]["rows"], sum(ends.values()), "clean restart adds no rows")
        tap.ok(frontier(b.data, "nosuch") is None, "frontier of a topic without table fails cleanly")
        blog = open(b.logpath).read()
        tap.ok("tier: topic kv resumes at frontier" in blog, "broker logs the resumed frontier")
        tap.ok("tier: compacted kafka.kv" in blog and res["files"] < snaps,
               "small files were compacted in the background (%d live files, %d snapshots), frontier kept"
               % (res["files"], snaps))
    finally:
        b.close()


def phase_latency():
    """A record is in the table at most one commit interval (+1 s) after its ack."""
    b = Broker()
    try:
        create_topic(b.port, "lat", 1, {"braid.lake.commit.interval.ms": "1000"})  # key_value by default
        p = Producer({"bootstrap.servers": b.bootstrap, "log_level": 0, "linger.ms": 0})
        worst = 0.0
        for i in range(4):
            acked = []
            p.produce("lat", value=b"r%d" % i, on_delivery=lambda e, m: acked.append((time.time(), m.offset())))
            p.flush(10)
            t_ack, off = acked[0]
            while True:
                f = frontier(b.data, "lat")
                if f and f.get(0, 0) > off:
                    break
                if time.time() - t_ack > 5:
                    break
                time.sleep(0.02)
            worst = max(worst, time.time() - t_ack)
            time.sleep(0.3 * i)
        tap.ok(worst <= 2.0, "records visible in the table within interval + 1 s of their ack (worst %.2f s)" % worst)
    finally:
        b.close()


def phase_off():
    b = Broker()
    try:
        create_topic(b.port, "quiet", 1, {"braid.lake.mode": "off"})
        p = Producer({"bootstrap.servers": b.bootstrap, "log_level": 0})
        for i in range(10):
            p.produce("quiet", value=b"x")
        p.flush(10)
        time.sleep(0.5)
        tap.ok(not os.path.exists(os.path.join(b.data, "lake", "kafka", "quiet")), "braid.lake.mode=off: no table")
    finally:
        b.close()


if __name__ == "__main__":
    tap.run("key_value with kill -9", phase_kv_kill)
    tap.run("visibility latency", phase_latency)
    tap.run("mode off", phase_off)
    tap.finish()
