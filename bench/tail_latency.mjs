// tail_latency.mjs — tail latency of a view (issue 7): a Kafka producer (kafkajs)
// sends JSON records {"id","t0"} carrying their send time to the topic of table ev at a
// fixed rate; a materialized view SELECT id, t0 FROM ev has one SUBSCRIBE client
// (node-postgres, WITH (snapshot = false)); latency = when the subscriber has the row
// minus t0. Both clients live in this one node process (one clock: process.hrtime), so
// node's event loop is part of every figure. Path measured: produce -> append -> group
// commit (fsync) -> the commit's durable hook polls the tables -> the view steps -> the
// hub writes the delta to the subscriber's socket.
// Peer in the same run: the produce acknowledgement (acks = all: the same fsync).
//
//   node bench/tail_latency.mjs [rate events/s] [seconds] [records per send]
import { EventEmitter } from 'node:events';
import { Broker, freePort, requireClient } from '../tests/integration/braidtest.mjs';

const pg = requireClient('pg');
const { Kafka, logLevel } = requireClient('kafkajs');
const rate = Number(process.argv[2] || 10000), seconds = Number(process.argv[3] || 5);
const per = Number(process.argv[4] || Math.max(1, Math.round(rate / 200))); // a send every 5 ms
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
  const kafka = new Kafka({ brokers: [broker.bootstrap], clientId: 'tail', logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const deliver = [], ack = [];
  let got = 0;
  s.query(new Subscribe('SUBSCRIBE ev_v WITH (snapshot = false)', (row, t) => { got++; deliver.push(t - Number(row[3])); }));
  await new Promise((r) => setTimeout(r, 200));
  const total = rate * seconds, interval = (per * 1e6) / rate; // µs between sends
  const start = now();
  let id = 0, inflight = 0;
  const sends = [];
  for (let k = 0; id < total; k++) {
    const due = start + k * interval;
    while (now() < due) { if (due - now() > 1500) await new Promise((r) => setTimeout(r, 1)); else await new Promise((r) => setImmediate(r)); }
    const t0 = now(), messages = [];
    for (let i = 0; i < per && id < total; i++) messages.push({ value: `{"id":${id++},"t0":${t0}}` });
    inflight++;
    sends.push(producer.send({ topic: 'ev', acks: -1, messages }).then(() => { ack.push(now() - t0); inflight--; }));
  }
  await Promise.all(sends);
  const deadline = now() + 10e6;
  while (got < total && now() < deadline) await new Promise((r) => setTimeout(r, 10));
  const secs = (now() - start) / 1e6;
  console.log(`rate ${rate} events/s, ${per} per send, ${seconds} s (took ${secs.toFixed(1)} s), ${got}/${total} delivered`);
  console.log(`produce -> SUBSCRIBE client   ${fmt(deliver)}`);
  console.log(`produce ack, acks=all (peer)  ${fmt(ack)}`);
  await producer.disconnect();
  await w.end();
  done = true;
  s.on('error', () => {});
  s.connection.stream.destroy();
} finally {
  await broker.stop();
}
