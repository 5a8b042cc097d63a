// test_iceberg_icebird.mjs — icebird (an independent Iceberg reader in
// JavaScript, on hyparquet) reads the tables braid writes: every metadata
// version of a table that went through appends, a file delete, schema
// evolution (rename, widen int->long, add, drop), a copy-on-write row delete
// and compaction, with the rows braid's own scan returns for the same
// snapshot. braid builds the table with
// `build/tests/test_iceberg --scenario DIR`, which prints braid's rows as JSON.
// icebird reads through fetch; file:// URLs (GET, HEAD and Range requests)
// are served from disk by a wrapper installed here.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serveFileUrls } from './braidtest.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const icebirdPath = join(root, 'tests', 'js', 'node_modules', 'icebird', 'src', 'index.js');
let failures = 0;

function check(name, ok, detail = '') {
  if (ok) console.log(`ok - ${name}`);
  else {
    failures++;
    console.log(`not ok - ${name}${detail ? ': ' + detail : ''}`);
  }
}

serveFileUrls(); // file:// served from disk for icebird (GET, HEAD, Range)

function norm(v) {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v.getTime() * 1000; // braid prints timestamps in microseconds
  return v;
}

// Rows as sorted JSON strings over the given field ids.
function canon(rows, ids) {
  return rows
    .map(r => JSON.stringify(ids.map(id => norm(r[id]))))
    .sort();
}

const dir = mkdtempSync(join(tmpdir(), 'braid-icebird-'));
try {
  const tool = join(root, 'build', 'tests', 'test_iceberg');
  if (!existsSync(tool)) execFileSync('make', ['-C', root, '-j2', 'build/tests/test_iceberg'], { stdio: 'ignore' });
  const scenario = JSON.parse(execFileSync(tool, ['--scenario', dir]).toString());
  check('braid builds the scenario table', scenario.versions.length >= 5);
  const { icebergRead, icebergMetadata, icebergManifests } = await import(pathToFileURL(icebirdPath).href);
  const tableUrl = scenario.table_url;

  // Every required v2 field is in every metadata file braid wrote.
  const required = ['format-version', 'table-uuid', 'location', 'last-sequence-number', 'last-updated-ms',
    'last-column-id', 'schemas', 'current-schema-id', 'partition-specs', 'default-spec-id', 'last-partition-id',
    'sort-orders', 'default-sort-order-id', 'properties', 'current-snapshot-id', 'snapshots', 'snapshot-log',
    'metadata-log', 'refs'];
  const lacking = [];
  for (const v of scenario.versions) {
    const md = await icebergMetadata({ tableUrl, metadataFileName: v.metadata });
    for (const k of required) if (!(k in md)) lacking.push(`${v.metadata}:${k}`);
    if (md['format-version'] !== 2) lacking.push(`${v.metadata}:format-version=${md['format-version']}`);
    if (md.refs?.main?.['snapshot-id'] !== md['current-snapshot-id']) lacking.push(`${v.metadata}:refs.main`);
  }
  check('every metadata version has all v2 required fields', lacking.length === 0, lacking.slice(0, 5).join(', '));

  // icebird's rows of every version equal braid's rows of that snapshot.
  for (const v of scenario.versions) {
    const md = await icebergMetadata({ tableUrl, metadataFileName: v.metadata });
    const schema = md.schemas.find(s => s['schema-id'] === md['current-schema-id']);
    const finalIds = Object.keys(v.rows[0] || {}).map(Number);
    const ids = schema.fields.map(f => f.id).filter(id => finalIds.includes(id));
    let rows;
    try {
      rows = await icebergRead({ tableUrl, metadataFileName: v.metadata });
    } catch (e) {
      check(`icebird reads ${v.metadata} (snapshot ${v.snapshot})`, false, e.message);
      continue;
    }
    const byId = rows.map(r => Object.fromEntries(schema.fields.map(f => [f.id, r[f.name]])));
    const a = canon(byId, ids), b = canon(v.rows, ids);
    const same = a.length === b.length && a.every((x, i) => x === b[i]);
    check(`icebird reads ${v.metadata} (snapshot ${v.snapshot}, ${v.rows.length} rows) as braid does`, same,
      same ? '' : `icebird ${JSON.stringify(a.slice(0, 3))} braid ${JSON.stringify(b.slice(0, 3))} (${a.length} vs ${b.length})`);
  }

  // Path-based discovery: version-hint.text leads to the current version.
  const last = scenario.versions[scenario.versions.length - 1];
  const latest = await icebergRead({ tableUrl });
  check('icebird finds the current version through version-hint.text', latest.length === last.rows.length,
    `${latest.length} vs ${last.rows.length}`);
  const md = await icebergMetadata({ tableUrl });
  check('current snapshot is the compaction (replace) and keeps the frontier',
    md.snapshots.find(s => s['snapshot-id'] === md['current-snapshot-id'])?.summary?.operation === 'replace' &&
    scenario.frontier === 'kept');
  // Schema evolution is visible to icebird by name: renamed and added columns.
  check('renamed and added columns read by their new names',
    latest.some(r => r.label === 'n11') && latest.some(r => r.note === 'note14') && latest.every(r => !('price' in r)));
  const manifests = await icebergManifests(md);
  const entries = manifests.flatMap(m => m.entries).filter(e => e.status !== 2);
  check('live manifest entries count the rows braid returns',
    entries.reduce((n, e) => n + Number(e.data_file.record_count), 0) === last.rows.length);
} catch (e) {
  check('icebird test ran', false, e.stack || String(e));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
