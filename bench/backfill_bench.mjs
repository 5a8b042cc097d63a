// backfill_bench.mjs — the backfill benchmark of issue 7: a group-by view over
// BACKFILL_ROWS (default 10,000,000) lake rows, braid beside DuckDB in the same run.
//   braid   `backfill_bench run DIR` (bench/backfill_bench.c): opens the data directory as
//           `braid sql` does — table t loads the rows below the lake frontier from the
//           Parquet files of kafka.t (the seam) — then creates the materialized view
//           SELECT k, count(*), sum(v) FROM t GROUP BY k (1,000 groups). One thread.
//   DuckDB  the same GROUP BY over read_parquet of the same files (the table's data
//           files), with its default threads and with threads = 1 (the per-core peer).
// The data: BACKFILL_ROWS JSON records {"id","k","v","name"} appended to topic t and
// tiered by braid's own tiering (in process) — so the files are the lake braid writes.
// RUNS (3) runs alternate braid and DuckDB; medians; the answers must be equal.
// Usage: node bench/backfill_bench.mjs   (after `make build/libbraid.a`)
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(join(root, 'tests', 'js', 'package.json'));
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')));
const ROWS = Number(process.env.BACKFILL_ROWS || 10000000);
const RUNS = Number(process.env.RUNS || 3);
const dir = mkdtempSync(join(process.env.BENCH_TMP || tmpdir(), 'braid-backfill-'));
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };
const f2 = (x) => Number(x).toFixed(2);
try {
  const bin = join(dir, 'backfill_bench');
  const pkgs = 'libuv libzstd liblz4 zlib jansson libxxhash openssl snappy sqlite3'.split(' ');
  const libs = execFileSync('pkg-config', ['--libs', ...pkgs]).toString().trim().split(/\s+/);
  execFileSync('cc', ['-std=c11', '-D_GNU_SOURCE', '-O2', `-I${join(root, 'src')}`, join(here, 'backfill_bench.c'),
    join(root, 'build', 'libbraid.a'), ...libs, '-lpg_query', '-lm', '-lpthread', '-o', bin], { stdio: 'inherit' });
  const data = join(dir, 'data');
  let t = performance.now();
  execFileSync(bin, ['gen', data, String(ROWS)], { stdio: ['ignore', 'ignore', 'ignore'] });
  const files = readdirSync(join(data, 'lake', 'kafka', 't', 'data')).filter((f) => f.endsWith('.parquet'))
    .map((f) => join(data, 'lake', 'kafka', 't', 'data', f));
  console.log(`${ROWS} records produced and tiered in ${f2((performance.now() - t) / 1000)} s: ${files.length} Parquet file(s)`);
  const list = '[' + files.map((f) => `'${f}'`).join(', ') + ']';
  const Q = `SELECT count(*) AS groups, sum(n) AS n, sum(s) AS s FROM
    (SELECT k, count(*) AS n, sum(v) AS s FROM read_parquet(${list}) GROUP BY k) q`;
  const braidRuns = [], duckRuns = [], duck1Runs = [];
  let answers = new Set();
  for (let i = 0; i < RUNS; i++) {
    const r = spawnSync(bin, ['run', data], { encoding: 'utf8', env: { ...process.env, BACKFILL_NO_FREE: '1' } });
    if (r.status !== 0) throw new Error(`backfill_bench run: ${r.stderr}`);
    const j = JSON.parse(r.stdout.trim());
    braidRuns.push(j);
    answers.add(`${j.groups}|${j.count}|${j.sum}`);
    for (const [threads, out] of [[0, duckRuns], [1, duck1Runs]]) {
      const db = await DuckDBInstance.create(':memory:');
      const con = await db.connect();
      if (threads) await con.run(`SET threads = ${threads}`);
      t = performance.now();
      const row = (await con.runAndReadAll(Q)).getRowObjectsJson()[0];
      out.push((performance.now() - t) / 1000);
      answers.add(`${row.groups}|${row.n}|${row.s}`);
      con.closeSync?.();
    }
  }
  if (answers.size !== 1) throw new Error(`answers differ: ${[...answers]}`);
  const total = med(braidRuns.map((j) => j.total_s)), cpu = med(braidRuns.map((j) => j.total_cpu_s));
  const load = med(braidRuns.map((j) => j.load_s)), view = med(braidRuns.map((j) => j.view_s));
  const d = med(duckRuns), d1 = med(duck1Runs);
  console.log(`answer (groups|rows|sum): ${[...answers][0]}; lake bytes read by braid: ${braidRuns[0].lake_bytes_read}`);
  console.log(`braid backfill (open: lake -> table, then CREATE VIEW): median ${f2(total)} s wall, ${f2(cpu)} s CPU ` +
    `(table load ${f2(load)} s, view ${f2(view)} s) -> ${Math.round(ROWS / total)} rows/s; runs ${braidRuns.map((j) => f2(j.total_s)).join(' / ')}`);
  console.log(`DuckDB read_parquet GROUP BY, default threads: median ${f2(d)} s -> ${Math.round(ROWS / d)} rows/s; runs ${duckRuns.map(f2).join(' / ')}`);
  console.log(`DuckDB, threads = 1: median ${f2(d1)} s -> ${Math.round(ROWS / d1)} rows/s; runs ${duck1Runs.map(f2).join(' / ')}`);
  console.log(`ratio braid / DuckDB (time, goal <= 1.0): ${f2(total / d)} (default threads), ${f2(total / d1)} (1 thread); ` +
    `braid CPU / DuckDB 1-thread wall: ${f2(cpu / d1)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
