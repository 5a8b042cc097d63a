// sql_bench.mjs — the SQL engine benchmark (issue 5), braid beside DuckDB in the
// same run, on Nexmark-like bids (SQL_ROWS, default "1000000 10000000") and
// auctions (a tenth as many):
//   view = SELECT a.category, count(*), sum(b.price), max(b.price)
//          FROM bids b JOIN auctions a ON b.auction = a.id GROUP BY a.category
//   incremental  braid keeps the view as a materialized view and applies
//                SQL_DELTAS (1000) deltas of 1000 bid rows (900 inserts, 100
//                deletes): median and p99 time per delta (wall and CPU);
//                DuckDB recomputes the query from scratch over the same data in
//                memory (its best of 5) — the cost braid's delta replaces.
//   batch        the query once over the Parquet files: braid (read + query,
//                one thread) vs DuckDB over read_parquet (default threads).
// Usage: node bench/sql_bench.mjs   (after `make build/libbraid.a`)
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(join(root, 'tests', 'js', 'package.json'));
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')));
const SIZES = (process.env.SQL_ROWS || '1000000 10000000').split(/\s+/).filter(Boolean).map(Number);
const DELTAS = Number(process.env.SQL_DELTAS || 1000);
const VIEW = `SELECT a.category, count(*) AS bids, sum(b.price) AS volume, max(b.price) AS top
  FROM bids b JOIN auctions a ON b.auction = a.id GROUP BY a.category`;
const TOTALS = `SELECT count(*) AS groups, sum(bids) AS bids, sum(volume) AS volume FROM (${VIEW}) q`;

const dir = mkdtempSync(join(tmpdir(), 'braid-sqlbench-'));
try {
  const bin = join(dir, 'sql_bench');
  const pkgs = 'libuv libzstd liblz4 zlib jansson libxxhash openssl snappy sqlite3'.split(' ');
  const libs = execFileSync('pkg-config', ['--libs', ...pkgs]).toString().trim().split(/\s+/);
  execFileSync('cc', ['-std=c11', '-D_GNU_SOURCE', '-O2', `-I${join(root, 'src')}`, join(here, 'sql_bench.c'),
    join(root, 'build', 'libbraid.a'), ...libs, '-lpg_query', '-lm', '-lpthread', '-o', bin], { stdio: 'inherit' });
  const braid = (...args) => {
    const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`sql_bench ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim() ? JSON.parse(r.stdout) : {};
  };
  const f3 = (x) => Number(x).toFixed(3);
  let failed = false;
  for (const rows of SIZES) {
    const d = join(dir, String(rows));
    execFileSync('mkdir', ['-p', d]);
    braid('gen', d, String(rows));
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const threads = (await con.runAndReadAll("SELECT current_setting('threads') AS t")).getRowObjectsJson()[0].t;
    const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
    const timed = async (sql, n) => {
      let best = Infinity, out;
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        out = await q(sql);
        best = Math.min(best, (performance.now() - t) / 1000);
      }
      return [best, out];
    };
    // batch over the files
    const pq = (t) => `read_parquet('${join(d, t + '.parquet')}')`;
    const [duckBatch, dt] = await timed(TOTALS.replace('FROM bids b', `FROM ${pq('bids')} b`)
      .replace('JOIN auctions a', `JOIN ${pq('auctions')} a`), 3);
    const bb = braid('batch', d);
    // recompute from scratch over tables in memory
    await con.run(`CREATE TABLE bids AS SELECT * FROM ${pq('bids')}`);
    await con.run(`CREATE TABLE auctions AS SELECT * FROM ${pq('auctions')}`);
    const [duckRecompute] = await timed(VIEW, 5);
    con.closeSync?.();
    // incremental
    const inc = braid('incr', d, String(DELTAS), '1000');
    const same = Number(dt[0].bids) === bb.bids && String(dt[0].volume) === String(bb.volume) &&
      inc.view_bids === bb.bids && String(inc.view_volume) === String(bb.volume) && Number(dt[0].groups) === bb.groups;
    failed ||= !same;
    console.log(`# ${rows.toLocaleString('en')} bids, ${(rows / 10).toLocaleString('en')} auctions; DuckDB ${threads} threads`);
    console.log(`incremental braid: load ${f3(inc.load_s)} s, create view ${f3(inc.view_s)} s; ${inc.deltas} deltas of ${inc.delta_rows} rows: ` +
      `p50 ${f3(inc.delta_p50_ms)} ms p99 ${f3(inc.delta_p99_ms)} ms wall, p50 ${f3(inc.delta_cpu_p50_ms)} ms p99 ${f3(inc.delta_cpu_p99_ms)} ms cpu`);
    console.log(`            DuckDB recompute from scratch ${f3(duckRecompute * 1000)} ms; ` +
      `speedup (DuckDB recompute / braid delta p50) ${(duckRecompute * 1000 / inc.delta_p50_ms).toFixed(1)}x`);
    console.log(`batch       braid ${f3(bb.total_s)} s (read ${f3(bb.load_s)} + query ${f3(bb.query_s)}), DuckDB ${f3(duckBatch)} s; ratio ${(bb.total_s / duckBatch).toFixed(2)}`);
    console.log(`results ${same ? 'identical' : 'DIFFER'}: ${bb.groups} groups, ${bb.bids} bids, volume ${bb.volume}`);
    rmSync(d, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
