// window_latency.mjs — end-to-end latency from an INSERT to the emitted
// window row: a table with event time (watermark_delay 0), a view
// TUMBLE(1 ms) GROUP BY window WITH (emit = 'on_window_close') and one
// SUBSCRIBE client. The INSERT of event i (time i ms) moves the watermark to
// i ms, which closes window [i-1, i) ms: its row is emitted, final, and
// written to the subscriber. Measured: INSERT sent -> that row received.
// Peer in the same run: the INSERT's own round trip.
//
//   node bench/window_latency.mjs [rate rows/s] [seconds]
//
// The path is braid serve's SQL tables (topic-backed: each INSERT is appended
// and fsynced to the table's topic before the views step), both clients in
// this node process (one clock).
import { EventEmitter } from 'node:events';
import { Broker, freePort, requireClient } from '../tests/integration/braidtest.mjs';

const pg = requireClient('pg');
const rate = Number(process.argv[2] || 200), seconds = Number(process.argv[3] || 5);
const now = () => Number(process.hrtime.bigint() / 1000n); // µs

class Subscribe extends EventEmitter {
  constructor(text, onRow) { super(); this.text = text; this.onRow = onRow; }
  submit(connection) { connection.query(this.text); }
  handleCopyData(msg) { const t = now(); for (const l of msg.chunk.toString().split('\n')) if (l) this.onRow(l.split('\t'), t); }
  handleError(e) { if (!done) console.error('subscribe error', e.message); }
  handleCommandComplete() {}
  handleReadyForQuery() {}
}

async function connect(port) {
  for (let i = 0; ; i++) {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'bench', database: 'braid' });
    try { await c.connect(); return c; } catch (e) { if (i > 100) throw e; await new Promise((r) => setTimeout(r, 100)); }
  }
}

let done = false;
const q = (a, p) => a[Math.min(a.length - 1, Math.floor(p * a.length))];
const fmt = (a) => { a.sort((x, y) => x - y); return a.length ? `p50 ${(q(a, 0.5) / 1000).toFixed(2)} ms  p99 ${(q(a, 0.99) / 1000).toFixed(2)} ms  max ${(a[a.length - 1] / 1000).toFixed(2)} ms  (n=${a.length})` : 'none'; };

const port = await freePort();
const broker = new Broker(['--pg', `127.0.0.1:${port}`, '--no-tiering']);
await broker.start();
try {
  const w = await connect(port), s = await connect(port);
  await w.query("CREATE TABLE ev (k bigint, ts bigint) WITH (event_time = 'ts')");
  await w.query("CREATE MATERIALIZED VIEW ev_w WITH (emit = 'on_window_close') AS SELECT window_start, count(*) AS n " +
                'FROM TUMBLE(ev, ts, 1000) GROUP BY window_start, window_end');
  const sent = new Map(), deliver = [], ack = [];
  let got = 0;
  // COPY text: _frontier, _weight, window_start, n
  s.query(new Subscribe('SUBSCRIBE ev_w WITH (snapshot = false)', (row, t) => {
    const closer = Number(row[2]) / 1000 + 1; // event i closes window i-1
    if (sent.has(closer)) { deliver.push(t - sent.get(closer)); got++; }
  }));
  await new Promise((r) => setTimeout(r, 200));
  const total = rate * seconds, interval = 1e6 / rate;
  const start = now();
  for (let i = 1; i <= total; i++) {
    const due = start + i * interval;
    while (now() < due) { if (due - now() > 1500) await new Promise((r) => setTimeout(r, 1)); else await new Promise((r) => setImmediate(r)); }
    const t0 = now();
    sent.set(i, t0);
    await w.query(`INSERT INTO ev VALUES (${i}, ${i * 1000})`);
    ack.push(now() - t0);
  }
  const deadline = now() + 10e6;
  while (got < total - 1 && now() < deadline) await new Promise((r) => setTimeout(r, 10));
  console.log(`rate ${rate} events/s, ${seconds} s, ${got}/${total - 1} windows delivered`);
  console.log(`INSERT -> window row at SUBSCRIBE client   ${fmt(deliver)}`);
  console.log(`INSERT round trip (peer)                   ${fmt(ack)}`);
  await w.end();
  done = true;
  s.on('error', () => {});
  s.connection.stream.destroy();
} finally {
  await broker.stop();
}
