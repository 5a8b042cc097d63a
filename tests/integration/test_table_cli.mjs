// test_table_cli.mjs — `braid table` end to end: create a partitioned table from a
// schema file, append CSV and JSON lines, scan it back (jsonl and csv), time travel,
// schema evolution, compaction and expiry; DuckDB reads the Parquet files and
// icebird reads the table (current and older snapshots) with the same rows braid
// prints; bad input fails with a clear message and commits nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serveFileUrls } from './braidtest.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const braid = process.env.BRAID_BIN || join(root, 'build', 'braid');
const require = createRequire(join(root, 'tests', 'js', 'package.json'));
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')));
const { icebergRead } = await import(pathToFileURL(join(root, 'tests', 'js', 'node_modules', 'icebird', 'src', 'index.js')).href);

let failures = 0;
function check(name, ok, detail = '') {
  if (ok) console.log(`ok - ${name}`);
  else { failures++; console.log(`not ok - ${name}${detail ? ': ' + detail : ''}`); }
}

serveFileUrls(); // file:// served from disk for icebird (GET, HEAD, Range)

const dir = mkdtempSync(join(tmpdir(), 'braid-table-cli-'));
const data = join(dir, 'data');
function run(...args) {
  const r = spawnSync(braid, [...args, '--data', data], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
function scanRows(...extra) {
  const r = run('table', 'scan', 'shop.orders', ...extra);
  if (r.code !== 0) throw new Error(r.err);
  return r.out.trim().split('\n').filter(Boolean).map(l => JSON.parse(l));
}
function listFiles(d, ext) {
  const out = [];
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) out.push(...listFiles(p, ext));
    else if (p.endsWith(ext)) out.push(p);
  }
  return out;
}

try {
  writeFileSync(join(dir, 'schema.json'), JSON.stringify({
    type: 'struct', 'schema-id': 0, fields: [
      { id: 1, name: 'id', required: true, type: 'long' },
      { id: 2, name: 'customer', required: false, type: 'string' },
      { id: 3, name: 'amount', required: false, type: 'double' },
      { id: 4, name: 'price', required: false, type: 'decimal(9,2)' },
      { id: 5, name: 'day', required: false, type: 'date' },
      { id: 6, name: 'ts', required: false, type: 'timestamptz' },
      { id: 7, name: 'paid', required: false, type: 'boolean' },
      { id: 8, name: 'items', required: false, type: { type: 'list', 'element-id': 9, 'element-required': false, element: 'string' } },
    ],
  }));
  let r = run('table', 'create', 'shop.orders', '--schema', join(dir, 'schema.json'), '--partition', 'day(ts)');
  check('create a partitioned table', r.code === 0, r.err);
  r = run('table', 'create', 'shop.orders', '--schema', join(dir, 'schema.json'));
  check('creating it again fails', r.code !== 0 && /exist/i.test(r.err), r.err);

  // 2,000 rows as CSV (with quotes, commas, empty cells) and 1,000 as JSON lines
  const csv = ['id,customer,amount,price,day,ts,paid,items'];
  const expect = new Map();
  for (let i = 0; i < 2000; i++) {
    const cust = i % 10 === 0 ? `"Smith, ${i}"` : i % 7 === 0 ? '' : `c${i % 50}`;
    const ts = new Date(Date.UTC(2024, 0, 1 + (i % 5), i % 24, 0, 0)).toISOString();
    csv.push(`${i},${cust},${i * 1.5},${(i % 100) + 0.25},2024-02-${String(1 + (i % 28)).padStart(2, '0')},${ts},${i % 2 ? 'true' : 'false'},"[""a${i}""]"`);
    expect.set(i, { amount: i * 1.5 });
  }
  writeFileSync(join(dir, 'a.csv'), csv.join('\n') + '\n');
  const jl = [];
  for (let i = 2000; i < 3000; i++) {
    jl.push(JSON.stringify({ id: i, customer: `j${i % 3}`, amount: i * 1.5, price: '1.10', day: '2024-03-01', ts: Date.UTC(2024, 0, 9) + i, paid: null, items: ['x', 'y'] }));
    expect.set(i, { amount: i * 1.5 });
  }
  writeFileSync(join(dir, 'b.jsonl'), jl.join('\n') + '\n');
  r = run('table', 'append', 'shop.orders', join(dir, 'a.csv'), join(dir, 'b.jsonl'));
  check('append CSV and JSON lines in one commit', r.code === 0 && /appended 3000 rows/.test(r.out), r.out + r.err);

  const rows = scanRows();
  check('scan returns every row', rows.length === 3000, rows.length);
  const byId = new Map(rows.map(x => [x.id, x]));
  check('every id once', byId.size === 3000);
  check('values survive: quoted comma, empty cell, decimal, date, list', byId.get(10).customer === 'Smith, 10' &&
    byId.get(7).customer === null && byId.get(3).price === '3.25' && byId.get(3).day === '2024-02-04' &&
    JSON.stringify(byId.get(5).items) === '["a5"]' && byId.get(2001).paid === null, JSON.stringify(byId.get(10)));
  check('timestamps from ISO text and epoch ms', byId.get(0).ts === '2024-01-01T00:00:00+00:00' &&
    byId.get(2000).ts === '2024-01-09T00:00:02+00:00', byId.get(2000).ts);
  const csvOut = run('table', 'scan', 'shop.orders', '--format', 'csv', '--limit', '5');
  check('csv output has a header line and --limit', csvOut.out.split('\n')[0] === 'id,customer,amount,price,day,ts,paid,items' &&
    csvOut.out.trim().split('\n').length === 6, csvOut.out);

  // DuckDB over the Parquet data files
  const db = await DuckDBInstance.create(':memory:');
  const con = await db.connect();
  const files = listFiles(join(data, 'lake', 'shop', 'orders', 'data'), '.parquet');
  const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
  const list = '[' + files.map(f => `'${f}'`).join(',') + ']';
  const agg = (await q(`select count(*) c, sum(amount) s, count(distinct id) d, sum(price) p from read_parquet(${list})`))[0];
  const wantSum = [...expect.values()].reduce((a, b) => a + b.amount, 0);
  check('DuckDB reads the files: count, distinct ids, sum', Number(agg.c) === 3000 && Number(agg.d) === 3000 &&
    Math.abs(Number(agg.s) - wantSum) < 1e-6, JSON.stringify(agg));
  const braidPrice = rows.reduce((a, x) => a + (x.price === null ? 0 : Number(x.price)), 0);
  check('DuckDB decimal sum equals braid\'s', Math.abs(Number(agg.p) - braidPrice) < 1e-6, `${agg.p} vs ${braidPrice}`);

  // icebird over the table
  const tableUrl = 'file://' + join(data, 'lake', 'shop', 'orders');
  let ice = await icebergRead({ tableUrl });
  check('icebird reads the table: same ids', ice.length === 3000 && new Set(ice.map(x => Number(x.id))).size === 3000, ice.length);
  const iceSum = ice.reduce((a, x) => a + x.amount, 0);
  check('icebird: same sum of amount', Math.abs(iceSum - wantSum) < 1e-6, `${iceSum} vs ${wantSum}`);

  // a second append, evolution, then time travel to the first snapshot
  const hist1 = run('table', 'history', 'shop.orders').out;
  const snap1 = /\* (\d+)/.exec(hist1)[1];
  r = run('table', 'alter', 'shop.orders', 'add-column', 'note', 'string');
  check('alter add-column', r.code === 0 && /"note"/.test(r.out), r.err);
  writeFileSync(join(dir, 'c.jsonl'), JSON.stringify({ id: 5000, note: 'new', ts: '2024-01-02T00:00:00Z' }) + '\n');
  r = run('table', 'append', 'shop.orders', join(dir, 'c.jsonl'));
  check('append after evolution', r.code === 0, r.err);
  const now = scanRows();
  check('new rows have the new column, old rows null', now.length === 3001 && now.find(x => x.id === 5000).note === 'new' &&
    now.find(x => x.id === 1).note === null);
  const old = scanRows('--snapshot', snap1);
  check('scan --snapshot sees the first snapshot', old.length === 3000);
  ice = await icebergRead({ tableUrl });
  check('icebird reads the evolved table', ice.length === 3001 && ice.some(x => x.note === 'new'));

  // bad input: nothing committed
  writeFileSync(join(dir, 'bad.csv'), 'id,amount\n1,2\nx,3\n');
  r = run('table', 'append', 'shop.orders', join(dir, 'bad.csv'));
  check('a bad CSV value fails naming file, line and column', r.code !== 0 && /bad\.csv:3: column id/.test(r.err), r.err);
  writeFileSync(join(dir, 'bad.jsonl'), '{"id": 1}\n{"id": "not a number"}\n');
  r = run('table', 'append', 'shop.orders', join(dir, 'bad.jsonl'));
  check('a bad JSON value fails', r.code !== 0 && /bad\.jsonl:2/.test(r.err), r.err);
  writeFileSync(join(dir, 'noid.csv'), 'customer\nx\n');
  r = run('table', 'append', 'shop.orders', join(dir, 'noid.csv'));
  check('a missing required column fails', r.code !== 0 && /required column id/.test(r.err), r.err);
  check('nothing was committed by the failures', scanRows().length === 3001);
  r = run('table', 'scan', 'shop.nope');
  check('an unknown table fails clearly', r.code !== 0 && r.err.length > 0, r.err);
  r = run('table', 'create', 'noname', '--schema', join(dir, 'schema.json'));
  check('a name without a namespace is refused', r.code === 2, r.err);

  // compaction keeps rows, expiry drops old snapshots
  const before = listFiles(join(data, 'lake', 'shop', 'orders', 'data'), '.parquet').length;
  r = run('table', 'compact', 'shop.orders');
  check('compact rewrites small files', r.code === 0 && /rewrote \d+ small file/.test(r.out), r.out + r.err);
  const after = scanRows();
  check('compaction keeps every row', after.length === 3001 && new Set(after.map(x => x.id)).size === 3001);
  r = run('table', 'expire', 'shop.orders', '--older-than', '0', '--retain-last', '1');
  check('expire', r.code === 0 && /expired \d+ snapshot/.test(r.out), r.out + r.err);
  check('after expiry the rows are the same', scanRows().length === 3001);
  ice = await icebergRead({ tableUrl });
  check('icebird reads the table after compaction and expiry', ice.length === 3001);
  check(`(${before} data files before compaction)`, true);
} catch (e) {
  check('no exception', false, e.stack);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`# ${failures ? 'FAILED' : 'all passed'}`);
process.exit(failures ? 1 : 0);
