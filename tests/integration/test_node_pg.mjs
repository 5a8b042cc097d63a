// test_node_pg.mjs — node-postgres (pg) against braid's PostgreSQL listener:
// simple queries, prepared statements with parameters (unnamed and named, text
// and binary parameter formats), a result larger than one Execute row limit
// (cursor-style fetches through PortalSuspended), binary result formats,
// errors with SQLSTATE and position, recovery after an error in a pipeline,
// SUBSCRIBE as a COPY-out stream (snapshot, then the deltas of inserts made
// with prepared statements on another connection; a subscriber that stops
// reading is dropped with 53400 while the others go on), and SCRAM-SHA-256
// password authentication on a second server.
import { EventEmitter } from 'node:events';
import { Broker, freePort, requireClient, tap } from './braidtest.mjs';

const pg = requireClient('pg');

// The broker helper waits for the Kafka port; the PostgreSQL listener opens a
// moment later, so a refused first connection is retried.
async function connect(port, extra = {}) {
  for (let tries = 0; ; tries++) {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'tester', database: 'braid', ...extra });
    try {
      await c.connect();
      return c;
    } catch (e) {
      if (e.code !== 'ECONNREFUSED' || tries >= 100) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// SUBSCRIBE answers with CopyOutResponse + CopyData: a pg "submittable" (as
// pg-copy-streams does) sees each CopyData line.
class Subscribe extends EventEmitter {
  constructor(text) { super(); this.text = text; this.lines = []; this.error = null; }
  submit(connection) { connection.query(this.text); }
  handleCopyData(msg) {
    for (const l of msg.chunk.toString().split('\n')) if (l) { this.lines.push(l.split('\t')); this.emit('line'); }
  }
  handleError(e) { this.error = e; this.emit('line'); }
  handleCommandComplete() {}
  handleReadyForQuery() { this.emit('end'); }
  handleEmptyQuery() {}
  handleRowDescription() {}
  handleDataRow() {}
  waitFor(pred, ms = 10000) {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.off('line', check); reject(new Error(`timeout; lines: ${JSON.stringify(this.lines.slice(-5))} error: ${this.error}`)); }, ms);
      const check = () => { if (pred(this)) { clearTimeout(t); this.off('line', check); resolve(); } };
      this.on('line', check);
      check();
    });
  }
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

  await tap.run('SUBSCRIBE streams deltas of prepared inserts', async () => {
    await c.query('CREATE VIEW by_active AS SELECT active, count(*) AS n FROM people GROUP BY active');
    const c2 = await connect(pgPort);
    c2.on('error', () => {}); // destroyed below
    const sub = new Subscribe('SUBSCRIBE by_active');
    c2.query(sub);
    await sub.waitFor((s) => s.lines.length >= 2);
    const snap = sub.lines.map((l) => l.slice(1).join(' ')).sort();
    tap.eq(snap, ['1 f 100', '1 t 100'], 'snapshot: _weight, then the view columns');
    await c.query('INSERT INTO people VALUES ($1, $2, $3, $4)', [201, 'new', 1.5, true]);
    await sub.waitFor((s) => s.lines.some((l) => l[1] === '1' && l[2] === 't' && l[3] === '101'));
    tap.ok(sub.lines.some((l) => l[1] === '-1' && l[2] === 't' && l[3] === '100'), 'the old count retracted (-1)');
    // the input offsets each batch reflects: table:partition=next offset,...
    const fr = /^[^:;]+:[0-9]+=[0-9]+(,[0-9]+=[0-9]+)*(;[^:;]+:[0-9]+=[0-9]+(,[0-9]+=[0-9]+)*)*$/;
    tap.ok(sub.lines.every((l) => fr.test(l[0])), '_frontier (table:partition=offset) on every line');
    c2.connection.stream.destroy();
    const r = await c.query('SELECT n FROM by_active WHERE active = $1', [true]);
    tap.eq(r.rows, [{ n: '101' }], 'server serves on after the subscriber vanished');
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

// A subscriber that stops reading is dropped; the engine and other subscribers go on.
const pgPort3 = await freePort();
const small = new Broker(['--pg', `127.0.0.1:${pgPort3}`, '--pg-subscribe-buffer', '64k']);
await small.start();
try {
  const w = await connect(pgPort3);
  await w.query('CREATE TABLE big (id bigint, pad text)');
  await w.query('CREATE VIEW big_v AS SELECT id, pad FROM big');
  const slowC = await connect(pgPort3), fastC = await connect(pgPort3);
  slowC.on('error', () => {}); // closed by the server, destroyed below
  fastC.on('error', () => {});
  const slow = new Subscribe('SUBSCRIBE big_v WITH (snapshot = false)');
  const fast = new Subscribe('SUBSCRIBE big_v WITH (snapshot = false)');
  slowC.query(slow);
  fastC.query(fast);
  // both streams are registered once a marker row reaches them
  await w.query("INSERT INTO big VALUES (-1, 'marker')");
  await slow.waitFor((s) => s.lines.length >= 1);
  await fast.waitFor((s) => s.lines.length >= 1);
  slow.lines.length = fast.lines.length = 0;
  slowC.connection.stream.pause();
  const pad = 'x'.repeat(1000);
  let id = 0;
  for (let k = 0; k < 40; k++) {
    const vals = [];
    for (let i = 0; i < 500; i++) vals.push(`(${id++}, '${pad}')`);
    await w.query('INSERT INTO big VALUES ' + vals.join(','));
  }
  await fast.waitFor((s) => s.lines.length >= id, 30000);
  tap.eq(fast.lines.length, id, 'the reading subscriber got every row (20 MB)');
  slowC.connection.stream.resume();
  await slow.waitFor((s) => s.error !== null, 30000);
  tap.eq(slow.error && slow.error.code, '53400', 'the subscriber that stopped reading was dropped with 53400');
  tap.ok(slow.lines.length < id, `it had received only part of the stream (${slow.lines.length} of ${id} rows)`);
  const r = await w.query('SELECT count(*) AS n FROM big_v');
  tap.eq(r.rows, [{ n: String(id + 1) }], 'the view kept up');
  await w.end();
  fastC.connection.stream.destroy();
  slowC.connection.stream.destroy();
} catch (e) {
  tap.ok(false, 'slow subscriber session', e && e.stack ? e.stack : String(e));
} finally {
  await small.stop();
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
