// test_node_pg.mjs — node-postgres (pg) against braid's PostgreSQL listener:
// simple queries, prepared statements with parameters (unnamed and named, text
// and binary parameter formats), a result larger than one Execute row limit
// (cursor-style fetches through PortalSuspended), binary result formats,
// errors with SQLSTATE and position, recovery after an error in a pipeline,
// and SCRAM-SHA-256 password authentication on a second server.
import { Broker, freePort, requireClient, tap } from './braidtest.mjs';

const pg = requireClient('pg');

async function connect(port, extra = {}) {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'tester', database: 'braid', ...extra });
  await c.connect();
  return c;
}

async function expectError(p) {
  try { await p; } catch (e) { return e; }
  return null;
}

const pgPort = await freePort();
const broker = new Broker(['--pg', `127.0.0.1:${pgPort}`]);
await broker.start();
let c;
try {
  c = await connect(pgPort);
  tap.ok(true, 'connect');

  await tap.run('create and insert (simple query)', async () => {
    await c.query('CREATE TABLE people (id bigint, name text, score double precision, active boolean)');
    const r = await c.query("INSERT INTO people VALUES (1, 'ada', 9.5, true), (2, 'bob', NULL, false)");
    tap.eq([r.command, r.rowCount], ['INSERT', 2], 'INSERT tag and row count');
  });

  await tap.run('prepared insert with parameters', async () => {
    for (let i = 3; i <= 200; i++) {
      await c.query('INSERT INTO people VALUES ($1, $2, $3, $4)', [i, `p'${i}`, i / 4, i % 2 === 0]);
    }
    const r = await c.query('SELECT count(*) AS n FROM people');
    tap.eq(r.rows, [{ n: '200' }], '200 rows after parameterized inserts (int8 comes back as text)');
  });

  await tap.run('select with parameters', async () => {
    const r = await c.query('SELECT id, name, score, active FROM people WHERE id = $1 OR name = $2 ORDER BY id', [2, "p'7"]);
    tap.eq(r.rows, [
      { id: '2', name: 'bob', score: null, active: false },
      { id: '7', name: "p'7", score: 1.75, active: false },
    ], 'parameters in WHERE, quote in a text parameter, NULL and boolean results');
    tap.eq(r.fields.map((f) => f.dataTypeID), [20, 25, 701, 16], 'column type OIDs int8 text float8 bool');
  });

  await tap.run('named prepared statement reused', async () => {
    const q = { name: 'by-id', text: 'SELECT name FROM people WHERE id = $1' };
    const a = await c.query({ ...q, values: [10] });
    const b = await c.query({ ...q, values: [11] });
    tap.eq([a.rows[0].name, b.rows[0].name], ["p'10", "p'11"], 'one Parse, two Bind/Execute');
  });

  await tap.run('binary result format', async () => {
    const r = await c.query({ text: 'SELECT id, score, active, name FROM people WHERE id = $1', values: [8], binary: true });
    const row = r.rows[0];
    // node-pg's binary parsers: int8 -> string, float8 -> number, bool -> boolean
    tap.eq([String(row.id), row.score, row.active, String(row.name)], ['8', 2, true, "p'8"],
      'binary int8, float8, bool and text values');
  });

  await tap.run('many rows', async () => {
    const r = await c.query('SELECT id, name FROM people ORDER BY id');
    tap.eq([r.rows.length, r.rows[0].id, r.rows[199].name], [200, '1', "p'200"], '200 rows in order');
    const big = await c.query({ text: 'SELECT a.id AS x, b.id AS y FROM people a, people b WHERE a.id <= $1', values: [50] });
    tap.eq(big.rows.length, 50 * 200, '10,000-row cross join through the extended protocol');
  });

  await tap.run('row limit (PortalSuspended)', async () => {
    // pg's Query with rows set sends Execute with a limit, like pg-cursor
    const { Query } = pg;
    const rows = await new Promise((resolve, reject) => {
      const got = [];
      const q = new Query({ text: 'SELECT id FROM people WHERE id <= $1 ORDER BY id', values: [25], rows: 10 });
      q.on('row', (r) => got.push(Number(r.id)));
      q.on('end', () => resolve(got));
      q.on('error', reject);
      c.query(q);
    });
    tap.eq(rows.length, 25, 'rows delivered across suspended executes');
  });

  await tap.run('errors', async () => {
    let e = await expectError(c.query('SELECT * FROM missing_table'));
    tap.eq(e && [e.code, e.position], ['42P01', '15'], 'undefined table: 42P01 at position 15');
    e = await expectError(c.query('SELECT nope FROM people WHERE id = $1', [1]));
    tap.eq(e && e.code, '42703', 'undefined column in a prepared statement: 42703');
    e = await expectError(c.query('SELEC 1'));
    tap.eq(e && e.code, '42601', 'syntax error: 42601');
    e = await expectError(c.query('SELECT $1::bigint + 1', ['abc']));
    tap.eq(e && e.code, '22P02', 'bad parameter text for bigint: 22P02');
    const r = await c.query('SELECT count(*) AS n FROM people WHERE id > $1', [100]);
    tap.eq(r.rows[0].n, '100', 'the connection works after errors');
  });

  await tap.run('empty query', async () => {
    const r = await c.query('');
    tap.ok(r && r.rows.length === 0, 'empty query answered');
  });
  await c.end();
  tap.ok(true, 'disconnect');
} catch (e) {
  tap.ok(false, 'node-postgres session', e && e.stack ? e.stack : String(e));
  if (c) await c.end().catch(() => {});
} finally {
  await broker.stop();
}

// SCRAM-SHA-256 on a second server
const pgPort2 = await freePort();
const secured = new Broker(['--pg', `127.0.0.1:${pgPort2}`, '--pg-password', 's3cret']);
await secured.start();
try {
  const ok = await connect(pgPort2, { password: 's3cret' });
  const r = await ok.query('SELECT 1 AS one');
  tap.eq(r.rows, [{ one: '1' }], 'SCRAM-SHA-256 with the right password');
  await ok.end();
  const e = await expectError(connect(pgPort2, { password: 'wrong' }));
  tap.eq(e && e.code, '28P01', 'wrong password refused with 28P01');
} catch (e) {
  tap.ok(false, 'SCRAM session', e && e.stack ? e.stack : String(e));
} finally {
  await secured.stop();
}
tap.finish();
