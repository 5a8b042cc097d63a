// parquet_bench.mjs — braid's Parquet writer and reader beside DuckDB, in the
// same run, on Nexmark bids (BENCH_ROWS, default 10 million):
//   write  braid: generate + write zstd Parquet (generation timed separately and
//          subtracted); DuckDB: COPY the same rows (already in memory) to zstd.
//   scan   count(*), sum(price) and count per channel, over each engine's file,
//          braid single-threaded, DuckDB with its default threads and with 1.
// Prints wall and CPU seconds (user + system, all threads; steadier on a
// shared machine) and the braid/DuckDB ratios (goal: <= 1.0).
// Usage: node bench/parquet_bench.mjs   (after `make build/libbraid.a`)
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
  const best = (f, n = 3) => { let b = Infinity, out; for (let i = 0; i < n; i++) { const t0 = performance.now(); out = f(); b = Math.min(b, (performance.now() - t0) / 1000); } return [b, out]; };

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

  // scan (best of 3)
  const scanBraid = (f) => {
    let b = Infinity, bc = Infinity, out;
    for (let i = 0; i < 3; i++) { out = braid('scan', f); b = Math.min(b, out.seconds); bc = Math.min(bc, out.cpu); }
    return [b, out, bc];
  };
  const q = (f) => `SELECT channel, count(*) AS n, sum(price) AS s FROM '${f}' GROUP BY channel`;
  const scanDuck = async (f) => {
    let b = Infinity, bc = Infinity, rows;
    for (let i = 0; i < 3; i++) {
      const t = performance.now(), c = cpuNow();
      rows = (await con.runAndReadAll(q(f))).getRowObjectsJson();
      b = Math.min(b, (performance.now() - t) / 1000);
      bc = Math.min(bc, cpuNow() - c);
    }
    const count = rows.reduce((a, r) => a + Number(r.n), 0), sum = rows.reduce((a, r) => a + BigInt(r.s), 0n);
    return [b, { count, sum_price: sum, groups: rows.length }, bc];
  };
  const [bsb, rb, bsbc] = scanBraid(bf);
  const [bsd, rd, bsdc] = scanBraid(df);
  const [dsd, qd, dsdc] = await scanDuck(df);
  const [dsb, , dsbc] = await scanDuck(bf);
  const threads = (await con.runAndReadAll("SELECT current_setting('threads') AS t")).getRowObjectsJson()[0].t;
  await con.run('SET threads = 1');
  const [dsd1] = await scanDuck(df);
  const same = rb.count === qd.count && BigInt(rb.sum_price) === qd.sum_price && rb.groups === qd.groups &&
    rd.count === rb.count && BigInt(rd.sum_price) === BigInt(rb.sum_price);

  const f3 = (x) => x.toFixed(3).padStart(7);
  console.log(`# Parquet benchmark, ${ROWS.toLocaleString('en')} Nexmark bids (7 columns), zstd; DuckDB ${threads} threads`);
  console.log(`write   braid ${f3(braidWrite)} s wall ${f3(braidWriteCpu)} s cpu (generation excluded, ${(statSync(bf).size / 1e6).toFixed(1)} MB)   DuckDB ${f3(duckWrite)} s wall ${f3(duckWriteCpu)} s cpu (${(statSync(df).size / 1e6).toFixed(1)} MB)   ratio wall ${(braidWrite / duckWrite).toFixed(2)} cpu ${(braidWriteCpu / duckWriteCpu).toFixed(2)}`);
  console.log(`scan    braid on DuckDB's file ${f3(bsd)} s wall ${f3(bsdc)} s cpu, on braid's ${f3(bsb)} s wall ${f3(bsbc)} s cpu`);
  console.log(`        DuckDB on its file ${f3(dsd)} s wall ${f3(dsdc)} s cpu, on braid's ${f3(dsb)} s wall ${f3(dsbc)} s cpu, 1 thread ${f3(dsd1)} s wall`);
  console.log(`        ratio (same file) wall ${(bsd / dsd).toFixed(2)} cpu ${(bsdc / dsdc).toFixed(2)}; wall vs DuckDB on 1 thread ${(bsd / dsd1).toFixed(2)}`);
  console.log(`results ${same ? 'identical' : 'DIFFER'}: count ${rb.count}, sum(price) ${rb.sum_price}, ${rb.groups} channels`);
  if (!same) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
