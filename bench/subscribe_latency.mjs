// subscribe_latency.mjs — how long a change takes from an INSERT on one
// PostgreSQL connection to a SUBSCRIBE client on another: braid applies the
// INSERT, the view steps, the hub writes the delta to the subscriber's socket.
// Peer in the same run: the INSERT's own round trip (what the writer waits for).
//
//   node bench/subscribe_latency.mjs [rate rows/s] [seconds] [rows per INSERT]
//
// Both clients live in this one node process (one clock: process.hrtime), so
// node's event loop is part of every figure. Prints p50/p99/max of both.
import { EventEmitter } from 'node:events';
import { Broker, freePort, requireClient } from '../tests/integration/braidtest.mjs';

const pg = requireClient('pg');
const rate = Number(process.argv[2] || 1000), seconds = Number(process.argv[3] || 5), per = Number(process.argv[4] || 1);
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
const fmt = (a) => { a.sort((x, y) => x - y); return `p50 ${(q(a, 0.5) / 1000).toFixed(2)} ms  p99 ${(q(a, 0.99) / 1000).toFixed(2)} ms  max ${(a[a.length - 1] / 1000).toFixed(2)} ms  (n=${a.length})`; };

const port = await freePort();
const broker = new Broker(['--pg', `127.0.0.1:${port}`, '--no-tiering']);
await broker.start();
try {
  const w = await connect(port), s = await connect(port);
  await w.query('CREATE TABLE ev (id bigint, t0 bigint)');
  await w.query('CREATE VIEW ev_v AS SELECT id, t0 FROM ev');
  const deliver = [], ack = [];
  let got = 0;
  s.query(new Subscribe('SUBSCRIBE ev_v WITH (snapshot = false)', (row, t) => { got++; deliver.push(t - Number(row[3])); }));
  await new Promise((r) => setTimeout(r, 200));
  const total = rate * seconds, interval = (per * 1e6) / rate; // µs between INSERTs
  const start = now();
  let id = 0;
  for (let k = 0; id < total; k++) {
    const due = start + k * interval;
    while (now() < due) { if (due - now() > 1500) await new Promise((r) => setTimeout(r, 1)); else await new Promise((r) => setImmediate(r)); }
    const t0 = now(), vals = [];
    for (let i = 0; i < per; i++) vals.push(`(${id++}, ${t0})`);
    await w.query('INSERT INTO ev VALUES ' + vals.join(','));
    ack.push(now() - t0);
  }
  const deadline = now() + 10e6;
  while (got < total && now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const secs = (now() - start) / 1e6;
  console.log(`rate ${rate} rows/s, ${per} row(s) per INSERT, ${seconds} s (took ${secs.toFixed(1)} s), ${got}/${total} delivered`);
  console.log(`INSERT -> SUBSCRIBE client   ${fmt(deliver)}`);
  console.log(`INSERT round trip (peer)     ${fmt(ack)}`);
  await w.end();
  done = true;
  s.on('error', () => {});
  s.connection.stream.destroy();
} finally {
  await broker.stop();
}
