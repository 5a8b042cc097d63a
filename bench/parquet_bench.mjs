// parquet_bench.mjs — braid's Parquet writer and reader beside DuckDB, in the
// same run, on Nexmark bids (BENCH_ROWS, default 10 million):
//   write  braid: generate + write zstd Parquet (generation timed separately and
//          subtracted); DuckDB: COPY the same rows (already in memory) to zstd.
//   scan   count(*), sum(price) and count per channel, over each engine's file,
//          braid with as many threads as DuckDB uses (row groups shared between
//          them; the count per channel hashes each dictionary entry once and
//          counts dictionary codes), and both engines on one thread; braid also
//          hashing every row, for comparison. Runs of the two engines alternate
//          so they share the machine's load; medians of RUNS (default 5).
// Prints wall and CPU seconds (user + system, all threads; steadier on a
// shared machine) and the braid/DuckDB ratios (goal: <= 1.0).
// Usage: [BENCH_ROWS=N] [RUNS=N] node bench/parquet_bench.mjs   (after `make build/libbraid.a`)
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(join(root, 'tests', 'js', 'package.json'));
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')));
const ROWS = Number(process.env.BENCH_ROWS || 10_000_000);
const dir = mkdtempSync(join(tmpdir(), 'braid-pqbench-'));

try {
  const bin = join(dir, 'parquet_bench');
  const pkgs = 'libuv libzstd liblz4 zlib jansson libxxhash openssl snappy sqlite3'.split(' ');
  const libs = execFileSync('pkg-config', ['--libs', ...pkgs]).toString().trim().split(/\s+/);
  execFileSync('cc', ['-std=c11', '-D_GNU_SOURCE', '-O2', `-I${join(root, 'src')}`, join(here, 'parquet_bench.c'),
    join(root, 'build', 'libbraid.a'), ...libs, '-lpg_query', '-lm', '-lpthread', '-o', bin], { stdio: 'inherit' });
  const braid = (...args) => {
    const r = spawnSync(bin, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`parquet_bench ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const bf = join(dir, 'braid.parquet'), df = join(dir, 'duckdb.parquet');

  const cpuNow = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  // write
  const g = braid('gen', String(ROWS));
  const gen = g.seconds;
  const bw = braid('write', bf, String(ROWS));
  const braidWrite = bw.seconds - gen, braidWriteCpu = bw.cpu - g.cpu;
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  await con.run(`CREATE TABLE bids AS SELECT * FROM '${bf}'`);
  let t0 = performance.now(), c0 = cpuNow();
  await con.run(`COPY bids TO '${df}' (FORMAT parquet, COMPRESSION zstd)`);
  const duckWrite = (performance.now() - t0) / 1000, duckWriteCpu = cpuNow() - c0;
  await con.run('DROP TABLE bids');

  // scan: braid and DuckDB interleaved run by run (so both see the same
  // machine load), RUNS times each; medians reported.
  const RUNS = Number(process.env.RUNS || 5);
  const threads = Number((await con.runAndReadAll("SELECT current_setting('threads') AS t")).getRowObjectsJson()[0].t);
  const q = (f) => `SELECT channel, count(*) AS n, sum(price) AS s FROM '${f}' GROUP BY channel`;
  const duck = async (f) => {
    const t = performance.now(), c = cpuNow();
    const rows = (await con.runAndReadAll(q(f))).getRowObjectsJson();
    const seconds = (performance.now() - t) / 1000, cpu = cpuNow() - c;
    return { seconds, cpu, count: rows.reduce((a, r) => a + Number(r.n), 0),
      sum_price: rows.reduce((a, r) => a + BigInt(r.s), 0n), groups: rows.length };
  };
  const med = (xs) => { const s = [...xs].sort((x, y) => x - y), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  const runs = { bd: [], dd: [], bb: [], db: [], bd1: [], bdr: [], dd1: [] };
  braid('scan', df, String(threads)); await duck(df); // warm the page cache
  for (let i = 0; i < RUNS; i++) {
    runs.bd.push(braid('scan', df, String(threads)));
    runs.dd.push(await duck(df));
    runs.bb.push(braid('scan', bf, String(threads)));
    runs.db.push(await duck(bf));
    runs.bd1.push(braid('scan', df, '1'));
    runs.bdr.push(braid('scan', df, String(threads), 'rows'));
  }
  await con.run('SET threads = 1');
  for (let i = 0; i < RUNS; i++) runs.dd1.push(await duck(df));
  const W = (k) => med(runs[k].map((r) => r.seconds)), C = (k) => med(runs[k].map((r) => r.cpu));
  const rb = runs.bb[0], rd = runs.bd[0], qd = runs.dd[0];
  const all = [...runs.bd, ...runs.bb, ...runs.bd1, ...runs.bdr];
  const same = all.every((r) => r.count === qd.count && BigInt(r.sum_price) === qd.sum_price && r.groups === qd.groups) &&
    [...runs.dd, ...runs.db, ...runs.dd1].every((r) => r.count === qd.count && r.sum_price === qd.sum_price && r.groups === qd.groups);

  const f3 = (x) => x.toFixed(3).padStart(7);
  const list = (k) => runs[k].map((r) => r.seconds.toFixed(3)).join(' ');
  console.log(`# Parquet benchmark, ${ROWS.toLocaleString('en')} Nexmark bids (7 columns), zstd; DuckDB ${threads} threads, braid ${threads} threads; scan medians of ${RUNS} interleaved runs`);
  console.log(`write   braid ${f3(braidWrite)} s wall ${f3(braidWriteCpu)} s cpu (generation excluded, ${(statSync(bf).size / 1e6).toFixed(1)} MB)   DuckDB ${f3(duckWrite)} s wall ${f3(duckWriteCpu)} s cpu (${(statSync(df).size / 1e6).toFixed(1)} MB)   ratio wall ${(braidWrite / duckWrite).toFixed(2)} cpu ${(braidWriteCpu / duckWriteCpu).toFixed(2)}`);
  console.log(`scan    DuckDB's file: braid ${f3(W('bd'))} s wall ${f3(C('bd'))} s cpu   DuckDB ${f3(W('dd'))} s wall ${f3(C('dd'))} s cpu   ratio wall ${(W('bd') / W('dd')).toFixed(2)} cpu ${(C('bd') / C('dd')).toFixed(2)}`);
  console.log(`        braid's file:  braid ${f3(W('bb'))} s wall ${f3(C('bb'))} s cpu   DuckDB ${f3(W('db'))} s wall ${f3(C('db'))} s cpu   ratio wall ${(W('bb') / W('db')).toFixed(2)} cpu ${(C('bb') / C('db')).toFixed(2)}`);
  console.log(`        one thread each (DuckDB's file): braid ${f3(W('bd1'))} s   DuckDB ${f3(W('dd1'))} s   ratio ${(W('bd1') / W('dd1')).toFixed(2)}`);
  console.log(`        braid hashing every row (no dictionary codes), ${threads} threads: ${f3(W('bdr'))} s wall ${f3(C('bdr'))} s cpu   ratio ${(W('bdr') / W('dd')).toFixed(2)}`);
  console.log(`runs    braid ${list('bd')} | DuckDB ${list('dd')} (DuckDB's file, s wall)`);
  console.log(`results ${same ? 'identical' : 'DIFFER'}: count ${rb.count}, sum(price) ${rb.sum_price}, ${rb.groups} channels (braid on either file: ${rd.count}, ${rd.sum_price})`);
  if (!same) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
