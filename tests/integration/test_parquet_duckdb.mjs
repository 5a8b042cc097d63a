// test_parquet_duckdb.mjs — braid's Parquet against DuckDB, both directions:
// DuckDB reads every file braid writes (every Iceberg type, nested ones, each
// codec) with the values the writer was given; braid reads what DuckDB writes
// (pages v1 and v2, all of DuckDB's encodings and codecs) with identical
// values; row groups are skipped by statistics; broken files fail cleanly.
// Drives braid through tests/integration/pq_tool.c, built here against
// build/libbraid.a. Prints TAP-style lines; exits non-zero on any failure.
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const require = createRequire(join(root, 'tests', 'js', 'package.json'));
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')));

// The DuckDB-side table: every type DuckDB maps onto Iceberg's, nulls,
// nested lists/structs/maps, and strings that defeat dictionaries.
const DUCK_TABLE = `
CREATE TABLE t AS SELECT
  i::BIGINT AS id,
  CASE WHEN i%7=0 THEN NULL ELSE i%2=0 END AS b,
  CASE WHEN i%5=0 THEN NULL ELSE (i*37-5000)::INTEGER END AS i32,
  (i*1000000007*(CASE WHEN i%2=1 THEN -1 ELSE 1 END))::BIGINT AS i64,
  (i/4.0)::FLOAT AS f32,
  CASE WHEN i%11=0 THEN NULL ELSE (i*0.125)::DOUBLE END AS f64,
  ((i*314-100000)/100.0)::DECIMAL(9,2) AS d9,
  (i*123456789.123)::DECIMAL(18,3) AS d18,
  (i::HUGEINT*10000000000000000::HUGEINT + i/10000.0)::DECIMAL(38,4) AS d38,
  (DATE '2024-01-01' + i::INTEGER) AS dt,
  (TIME '00:00:00' + to_microseconds((i*7000003) % 86400000000)) AS tm,
  make_timestamp(1704067200000000 + i*1001000) AS ts,
  make_timestamp(1704067200000000 + i*1001000)::TIMESTAMPTZ AS tstz,
  CASE WHEN i%3=0 THEN NULL ELSE 'str_' || (i%50) END AS s,
  CASE WHEN i%13=0 THEN NULL ELSE md5(i::VARCHAR)::UUID END AS u,
  ('bin' || i)::BLOB AS bl,
  (i%100)::TINYINT AS i8, (i%30000)::SMALLINT AS i16,
  CASE WHEN i%4=0 THEN NULL ELSE [i::INTEGER, (i+1)::INTEGER, NULL][1:i%4] END AS li,
  CASE WHEN i%9=0 THEN NULL ELSE {'a': i::INTEGER, 'b': 's' || i} END AS st,
  CASE WHEN i%6=0 THEN NULL ELSE MAP(['k' || (i%3), 'z'], [i::DOUBLE, NULL]) END AS mp,
  CASE WHEN i%5=1 THEN [] ELSE [{'x': i, 'y': [i::INTEGER, i::INTEGER]}] END AS ls,
  'url_' || (i*7919 % 100003) || '_' || repeat('x', (i%20)::INTEGER) AS longstr
FROM range(20000) r(i) WHERE i <> 127;
`;

let failed = 0;
const ok = (cond, name, detail) => {
  console.log(`${cond ? 'ok' : 'not ok'} - ${name}`);
  if (!cond) {
    failed++;
    if (detail) console.log(`# ${String(detail).split('\n').join('\n# ')}`);
  }
};

const dir = mkdtempSync(join(tmpdir(), 'braid-pq-'));
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const q = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();

try {
  await q("SET TimeZone='UTC'");

  // ---- build the driver against the library
  const tool = join(dir, 'pq_tool');
  const pkgs = 'libuv libzstd liblz4 zlib jansson libxxhash openssl snappy sqlite3';
  const libs = execFileSync('pkg-config', ['--libs', ...pkgs.split(' ')]).toString().trim().split(/\s+/);
  const cflags = execFileSync('pkg-config', ['--cflags', ...pkgs.split(' ')]).toString().trim().split(/\s+/).filter(Boolean);
  execFileSync('cc', ['-std=c11', '-D_GNU_SOURCE', '-O1', '-g', `-I${join(root, 'src')}`, ...cflags,
    join(here, 'pq_tool.c'), join(root, 'build', 'libbraid.a'), ...libs, '-lpg_query', '-lm', '-lpthread',
    '-o', tool], { stdio: 'inherit' });
  const run = (...args) => spawnSync(tool, args, { encoding: 'utf8' });

  // ---- 1. braid writes every type; DuckDB reads the values back
  const N = 20000;
  const expected = {
    id: 'id',
    b: 'CASE WHEN id%7=0 THEN NULL ELSE id%2=0 END',
    i32: 'CASE WHEN id%5=0 THEN NULL ELSE (id*37-5000)::INTEGER END',
    i64: 'id*1000000007*(CASE WHEN id%2=1 THEN -1 ELSE 1 END)',
    f32: '(id/4.0)::FLOAT',
    f64: 'CASE WHEN id%11=0 THEN NULL ELSE id*0.125 END',
    // decimals compare unscaled, exactly (a DuckDB decimal division is a double)
    d9: { cmp: '(d9::DECIMAL(38,2)*100)::BIGINT = id*314-100000' },
    d18: { cmp: '(d18::DECIMAL(38,3)*1000)::BIGINT = id*123456789123' },
    d38: { cmp: '(d38*10000)::HUGEINT = id::HUGEINT*100000000000000000000::HUGEINT+id' },
    dt: "DATE '2024-01-01' + id::INTEGER",
    tm: "TIME '00:00:00' + to_microseconds((id*7000003) % 86400000000)",
    ts: 'make_timestamp(1704067200000000 + id*1001000)',
    tstz: '(make_timestamp(1704067200000000 + id*1001000 + 3600000000))::TIMESTAMPTZ',
    s: "CASE WHEN id%3=0 THEN NULL ELSE 'str_' || (id%50) END",
    u: "('01234567-89ab-cdef-' || lpad(to_hex((id>>48)&65535),4,'0') || '-' || lpad(to_hex(id&281474976710655),12,'0'))::UUID",
    fx: "from_hex(lpad(to_hex(id),8,'0'))",
    bl: "('bin' || id)::BLOB",
    li: 'CASE WHEN id%4=0 THEN NULL ELSE [id::INTEGER, (id+1)::INTEGER, NULL::INTEGER][1:id%4] END',
    st: "CASE WHEN id%9=0 THEN NULL ELSE {'a': id::INTEGER, 'b': 's' || id} END",
    mp: "CASE WHEN id%6=0 THEN NULL ELSE MAP(['k' || (id%3), 'z'], [id::DOUBLE, NULL::DOUBLE]) END",
    ls: "CASE WHEN id%5=1 THEN [] ELSE [{'x': id, 'y': [id::INTEGER, id::INTEGER]}] END",
  };
  for (const codec of ['zstd', 'snappy', 'gzip', 'none', 'lz4_raw', 'zstd+fallback']) {
    // zstd+fallback: 1 KiB pages and a 10000-byte dictionary limit, so chunks
    // start with dictionary pages and continue with PLAIN ones
    const f = join(dir, `braid_${codec}.parquet`);
    const g = codec === 'zstd+fallback' ? run('gen', f, 'zstd', String(N), '10000') : run('gen', f, codec, String(N));
    if (g.status !== 0) { ok(false, `braid writes all types with ${codec}`, g.stderr); continue; }
    if (codec === 'zstd+fallback') {
      const p = run('pages', f);
      const pr = p.status === 0 ? JSON.parse(p.stdout) : {};
      ok(pr.mixed_chunks > 0, `dictionary fallback: ${pr.mixed_chunks} of ${pr.chunks} column chunks switch from dictionary to PLAIN pages`, p.stderr);
    }
    const bad = [];
    for (const [col, expr] of Object.entries(expected)) {
      const nested = ['li', 'st', 'mp', 'ls'].includes(col);
      const cmp = expr.cmp ? expr.cmp
        : nested ? `${col}::VARCHAR IS NOT DISTINCT FROM (${expr})::VARCHAR` : `${col} IS NOT DISTINCT FROM ${expr}`;
      const [r] = await q(`SELECT count(*) AS n, count(*) FILTER (WHERE NOT (${cmp})) AS bad FROM '${f}'`);
      if (Number(r.n) !== N || Number(r.bad) !== 0) bad.push(`${col}: ${r.bad} of ${r.n} differ`);
    }
    ok(bad.length === 0, `DuckDB reads braid's ${codec} file: ${Object.keys(expected).length} columns of every type equal the writer's values (${N} rows)`, bad.join('\n'));
  }
  {
    const f = join(dir, 'braid_zstd.parquet');
    const schema = await q(`SELECT name, type, logical_type, field_id, repetition_type FROM parquet_schema('${f}')`);
    const byName = Object.fromEntries(schema.map((r) => [r.name, r]));
    const want = {
      d9: ['INT32', 'Decimal'], d18: ['INT64', 'Decimal'], d38: ['FIXED_LEN_BYTE_ARRAY', 'Decimal'],
      tm: ['INT64', 'TimeType(isAdjustedToUTC=0'], ts: ['INT64', 'TimestampType(isAdjustedToUTC=0'],
      tstz: ['INT64', 'TimestampType(isAdjustedToUTC=1'], u: ['FIXED_LEN_BYTE_ARRAY', 'UUID'], s: ['BYTE_ARRAY', 'String'],
      li: [null, 'List'], mp: [null, 'Map'],
    };
    const bad = [];
    for (const [n, [t, lt]] of Object.entries(want)) {
      const r = byName[n];
      if (!r || r.type !== t || !String(r.logical_type).includes(lt)) bad.push(`${n}: ${JSON.stringify(r)}`);
    }
    const noId = schema.filter((r) => r.name !== 'schema' && r.name !== 'list' && r.name !== 'key_value' && r.field_id === null);
    if (noId.length) bad.push(`no field_id: ${noId.map((r) => r.name).join(',')}`);
    if (byName.id.field_id !== '1' || byName.ls.field_id !== '26') bad.push('field ids differ from the Iceberg schema');
    ok(bad.length === 0, 'braid schema: Iceberg type mapping (decimal by precision, time/timestamp(tz) micros, uuid, 3-level list, map) and field_id on every field', bad.join('\n'));
    const st = await q(`SELECT path_in_schema AS p, stats_min_value AS mn, stats_max_value AS mx, stats_null_count AS nc, num_values AS nv FROM parquet_metadata('${f}')`);
    const byP = Object.fromEntries(st.map((r) => [r.p, r]));
    const sBad = [];
    const groups = new Set((await q(`SELECT row_group_id FROM parquet_metadata('${f}')`)).map((r) => r.row_group_id)).size;
    if (groups < 2) sBad.push(`expected several row groups, got ${groups}`);
    const [agg] = await q(`SELECT min(stats_min_value::BIGINT) AS mn, max(stats_max_value::BIGINT) AS mx, sum(stats_null_count) AS nc FROM parquet_metadata('${f}') WHERE path_in_schema = 'i32'`);
    if (Number(agg.mn) !== -4963 || Number(agg.mx) !== (N - 1) * 37 - 5000) sBad.push(`i32 min/max ${agg.mn}/${agg.mx}`);
    if (Number(agg.nc) !== N / 5) sBad.push(`i32 null count ${agg.nc}`);
    const [sa] = await q(`SELECT min(stats_min_value) AS mn, max(stats_max_value) AS mx FROM parquet_metadata('${f}') WHERE path_in_schema = 's'`);
    if (sa.mn !== 'str_0' || sa.mx !== 'str_9') sBad.push(`s min/max ${sa.mn}/${sa.mx}`);
    ok(sBad.length === 0 && byP.id, 'braid statistics: min/max/null_count per column chunk match the data', sBad.join('\n'));
    const enc = await q(`SELECT DISTINCT encodings FROM parquet_metadata('${f}') WHERE path_in_schema IN ('s','id')`);
    const encs = enc.map((r) => r.encodings).join(' | ');
    ok(/RLE_DICTIONARY/.test(encs) && /PLAIN/.test(encs), `braid encodings: dictionary for repetitive columns, PLAIN fallback (${encs})`);
  }

  // ---- 1b. hyparquet (the reader inside icebird) reads braid's files too
  {
    let hp, compressors;
    try {
      hp = await import(pathToFileURL(require.resolve('hyparquet')));
      compressors = (await import(pathToFileURL(require.resolve('hyparquet-compressors')))).compressors;
    } catch (e) { hp = null; }
    if (!hp) {
      console.log('ok - hyparquet reads braid files # SKIP hyparquet or hyparquet-compressors not installed');
    } else {
      for (const codec of ['zstd', 'snappy', 'gzip']) {
        const buf = readFileSync(join(dir, `braid_${codec}.parquet`));
        const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
        let rows = [], err = '';
        try { rows = await hp.parquetReadObjects({ file, compressors }); } catch (e) { err = e.message; }
        const bad = [];
        for (const i of [0, 1, 7, 12, 4099, N - 1]) {
          const r = rows[i];
          if (!r) { bad.push(`row ${i} missing`); continue; }
          const id = Number(r.id);
          const li = id % 4 === 0 ? null : [id, id + 1, null].slice(0, id % 4);
          const want = { id, s: id % 3 === 0 ? null : `str_${id % 50}`, li: JSON.stringify(li),
            st: id % 9 === 0 ? 'null' : JSON.stringify({ a: id, b: `s${id}` }),
            ls: JSON.stringify(id % 5 === 1 ? [] : [{ x: String(id), y: [id, id] }]) };
          const got = { id: Number(r.id), s: r.s, li: JSON.stringify(r.li),
            st: JSON.stringify(r.st ?? null), ls: JSON.stringify(r.ls, (k, v) => typeof v === 'bigint' ? String(v) : v) };
          if (id !== i || JSON.stringify(got) !== JSON.stringify(want)) bad.push(`row ${i}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
        }
        ok(!err && rows.length === N && bad.length === 0, `hyparquet (icebird's reader) reads braid's ${codec} file: ${rows.length} rows, nested values as written`, err || bad.join('\n'));
      }
    }
  }

  // ---- 2. DuckDB writes; braid reads and writes back; DuckDB compares
  await q(DUCK_TABLE);
  const variants = [
    ['v1 default (snappy)', ''],
    ['v2 pages, DELTA/BYTE_STREAM_SPLIT encodings, zstd', ', PARQUET_VERSION v2, COMPRESSION zstd'],
    ['gzip, small row groups', ', COMPRESSION gzip, ROW_GROUP_SIZE 3000'],
    ['lz4', ', COMPRESSION lz4'],
    ['uncompressed v2', ', COMPRESSION uncompressed, PARQUET_VERSION v2'],
    ['field ids', ", FIELD_IDS 'auto', COMPRESSION zstd"],
  ];
  let i = 0;
  for (const [name, opts] of variants) {
    const src = join(dir, `duck_${i}.parquet`), dst = join(dir, `braid_copy_${i}.parquet`);
    i++;
    await q(`COPY (SELECT * FROM t ORDER BY id) TO '${src}' (FORMAT parquet${opts})`);
    const c = run('copy', src, dst, 'zstd');
    if (c.status !== 0) { ok(false, `braid reads DuckDB parquet: ${name}`, c.stderr); continue; }
    const [r] = await q(`SELECT (SELECT count(*) FROM '${dst}') AS n,
      (SELECT count(*) FROM (SELECT * FROM '${src}' EXCEPT ALL SELECT * FROM '${dst}')) AS missing,
      (SELECT count(*) FROM (SELECT * FROM '${dst}' EXCEPT ALL SELECT * FROM '${src}')) AS extra`);
    const [tn] = await q('SELECT count(*) AS n FROM t');
    ok(Number(r.n) === Number(tn.n) && Number(r.missing) === 0 && Number(r.extra) === 0,
      `braid reads DuckDB parquet (${name}): all ${tn.n} rows of 23 columns identical after braid read + write`,
      JSON.stringify(r));
  }
  {
    const srcTypes = await q(`SELECT column_name AS c, column_type AS t FROM (DESCRIBE SELECT * FROM '${join(dir, 'duck_0.parquet')}')`);
    const dstTypes = await q(`SELECT column_name AS c, column_type AS t FROM (DESCRIBE SELECT * FROM '${join(dir, 'braid_copy_0.parquet')}')`);
    const widened = { TINYINT: 'INTEGER', SMALLINT: 'INTEGER' }; // Iceberg has no 8/16-bit ints
    const diff = srcTypes.filter((s, k) => (widened[s.t] || s.t) !== dstTypes[k]?.t).map((s, k) => `${s.c}: ${s.t} -> ${dstTypes[k]?.t}`);
    ok(diff.length === 0, 'column types survive braid read + write (tinyint/smallint widen to int)', diff.join('\n'));
  }

  // ---- 3. row-group skipping by statistics
  {
    const src = join(dir, 'duck_2.parquet'); // ROW_GROUP_SIZE 3000, ordered by id
    const c = run('count', src, '1', '>=', '15000');
    const r = c.status === 0 ? JSON.parse(c.stdout) : {};
    const [want] = await q(`SELECT count(*) AS n FROM '${src}' WHERE id >= 15000`);
    const [prov] = await q(`SELECT count(*) AS n FROM parquet_metadata('${src}') WHERE path_in_schema = 'id' AND stats_max_value::BIGINT < 15000`);
    ok(c.status === 0 && r.matches === Number(want.n) && r.skipped === Number(prov.n) && r.skipped >= 2,
      `row groups skipped by statistics: id >= 15000 read ${r.rows_read} rows, skipped ${r.skipped} of ${r.row_groups} row groups`, c.stderr || c.stdout);
    const e = run('count', src, '1', '=', '77');
    const re = e.status === 0 ? JSON.parse(e.stdout) : {};
    ok(e.status === 0 && re.matches === 1 && re.skipped === re.row_groups - 1, `equality predicate reads one row group (${re.skipped} of ${re.row_groups} skipped)`, e.stderr || e.stdout);
  }

  // ---- 4. broken files: a clear error naming the file, never a crash
  {
    const good = readFileSync(join(dir, 'duck_0.parquet'));
    const cases = {
      truncated: good.subarray(0, good.length - 100),
      'no magic': Buffer.concat([good.subarray(0, good.length - 4), Buffer.from('PAR2')]),
      'footer length lies': (() => { const b = Buffer.from(good); b.writeUInt32LE(good.length + 10, good.length - 8); return b; })(),
      'footer bytes flipped': (() => { const b = Buffer.from(good); for (let k = 0; k < 40; k++) b[good.length - 9 - k * 7] ^= 0x5a; return b; })(),
      'page bytes flipped': (() => { const b = Buffer.from(good); for (let k = 0; k < 200; k++) b[100 + k * 97] ^= 0xff; return b; })(),
      empty: Buffer.alloc(0),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      const f = join(dir, `bad_${name.replace(/ /g, '_')}.parquet`);
      writeFileSync(f, bytes);
      const c = run('copy', f, join(dir, 'bad_out.parquet'), 'zstd');
      const clean = c.signal === null && (c.status === 0 || (c.status === 1 && c.stderr.includes(f)));
      ok(clean && (name === 'page bytes flipped' || c.status === 1),
        `broken file (${name}): ${c.status === 0 ? 'decoded' : 'refused'} without a crash${c.status ? ': ' + c.stderr.trim().split('\n')[0].slice(0, 160) : ''}`,
        `status ${c.status} signal ${c.signal} ${c.stderr}`);
    }
  }
} catch (e) {
  ok(false, 'test ran to completion', e.stack || e);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
