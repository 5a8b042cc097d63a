// braidtest.mjs — shared helpers of the Node integration tests (the counterpart of
// braidtest.py): start and stop a braid broker on a free port with its own temp
// data dir, load the test clients from tests/js/node_modules, and TAP output.
// Every broker started here is killed and its dir removed at exit, also on failure.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..');
export const BRAID = process.env.BRAID_BIN || path.join(ROOT, 'build', 'braid');
// The Node clients live in tests/js (installed by scripts/deps.sh from its lock file).
export const requireClient = createRequire(path.join(ROOT, 'tests', 'js', 'package.json'));

const brokers = new Set();

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Broker {
  constructor(extra = []) {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'braid-test-'));
    this.data = path.join(this.tmp, 'data');
    this.logPath = path.join(this.tmp, 'braid.log');
    this.extra = extra.map(String);
    this.proc = null;
    this.port = 0;
    brokers.add(this);
  }

  get bootstrap() { return `127.0.0.1:${this.port}`; }

  async start(timeoutMs = 30000) {
    if (!this.port) this.port = await freePort();
    // without --pg, any free port: the default 5433 is shared by every test running at once
    const pg = this.extra.some((a) => a === '--pg' || a.startsWith('--pg=')) ? [] : ['--pg', '127.0.0.1:0'];
    const args = ['serve', '--data', this.data, '--kafka', this.bootstrap, ...pg, ...this.extra];
    const log = fs.openSync(this.logPath, 'a');
    this.proc = spawn(BRAID, args, { stdio: ['ignore', log, log] });
    fs.closeSync(log);
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, sig) => resolve(code ?? sig)));
    let done = false;
    this.exited.then(() => { done = true; });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (done) throw new Error(`braid exited during start-up:\n${this.logTail()}`);
      if (await canConnect(this.port)) return this;
      await sleep(50);
    }
    throw new Error(`braid did not listen on ${this.bootstrap}:\n${this.logTail()}`);
  }

  running() { return this.proc && this.proc.exitCode === null && this.proc.signalCode === null; }

  // SIGTERM, then kill -9 after timeoutMs. Resolves to the exit code (or signal name).
  async stop(timeoutMs = 20000) {
    if (!this.proc) return null;
    if (this.running()) {
      this.proc.kill('SIGTERM');
      const t = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
      const code = await this.exited;
      clearTimeout(t);
      return code;
    }
    return this.exited;
  }

  async kill() {
    if (this.running()) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }

  async restart({ hard = false } = {}) {
    if (hard) await this.kill(); else await this.stop();
    return this.start();
  }

  logTail(n = 40) {
    try { return fs.readFileSync(this.logPath, 'utf8').split('\n').slice(-n).join('\n'); } catch { return '(no log)'; }
  }

  closeSync() {
    if (this.running()) { try { this.proc.kill('SIGKILL'); } catch { /* already gone */ } }
    fs.rmSync(this.tmp, { recursive: true, force: true });
    brokers.delete(this);
  }
}

function cleanupAll() { for (const b of [...brokers]) b.closeSync(); }
process.on('exit', cleanupAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { cleanupAll(); process.exit(128 + os.constants.signals[sig]); });

class Tap {
  constructor() { this.passed = 0; this.failed = 0; }
  ok(cond, name, detail) {
    if (cond) { this.passed++; console.log(`ok - ${name}`); }
    else {
      this.failed++;
      console.log(`not ok - ${name}`);
      if (detail !== undefined) {
        const s = typeof detail === 'string' ? detail : JSON.stringify(detail, null, 1);
        for (const line of String(s).split('\n').slice(0, 30)) console.log(`#   ${line}`);
      }
    }
    return !!cond;
  }
  eq(got, want, name) { return this.ok(JSON.stringify(got) === JSON.stringify(want), name, { got, want }); }
  async run(name, fn) {
    try { await fn(); return true; } catch (e) { this.ok(false, name, e && e.stack ? e.stack : String(e)); return false; }
  }
  note(msg) { console.log(`# ${msg}`); }
  finish() {
    console.log(`# ${this.passed} passed, ${this.failed} failed`);
    cleanupAll();
    process.exit(this.failed ? 1 : 0);
  }
}

export const tap = new Tap();

// icebird (and other readers built on fetch) read tables through URLs: serve
// file:// URLs from disk, with HEAD and Range requests, as an object store would.
export function serveFileUrls() {
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url, init = {}) => {
    const u = String(url);
    if (!u.startsWith('file://')) return realFetch(url, init);
    const file = fileURLToPath(u);
    if (!fs.existsSync(file)) return new Response('not found', { status: 404, statusText: 'Not Found' });
    const size = fs.statSync(file).size;
    if ((init.method || 'GET').toUpperCase() === 'HEAD') {
      return new Response(null, { status: 200, headers: { 'Content-Length': String(size) } });
    }
    const data = fs.readFileSync(file);
    const range = new Headers(init.headers).get('Range');
    if (range) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!m) return new Response('bad range', { status: 416 });
      const start = Number(m[1]);
      const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      return new Response(data.subarray(start, end + 1), {
        status: 206,
        headers: { 'Content-Range': `bytes ${start}-${end}/${size}`, 'Content-Length': String(end - start + 1) },
      });
    }
    return new Response(data, { status: 200, headers: { 'Content-Length': String(size) } });
  };
}
