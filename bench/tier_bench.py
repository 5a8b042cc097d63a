#!/usr/bin/python3
# tier_bench.py — issue 4's benchmark: how fast braid turns JSON records on a
# topic into an Iceberg table, beside DuckDB converting the same JSON lines to
# zstd Parquet in the same run.
#
#   braid:  N Nexmark bids (JSON) are produced to a topic with lake mode off;
#           then the topic is switched to braid.lake.mode=json with a declared
#           schema and the clock runs until the lake frontier reaches the log
#           end (tiering in catch-up mode: decode, parse, Parquet, commit).
#   DuckDB: COPY (SELECT * FROM read_json('bids.jsonl', columns=...)) TO
#           'bids.parquet' (FORMAT parquet, COMPRESSION zstd), same rows.
# Prints records/s and MB/s of JSON for both and the ratio braid/DuckDB.
# Usage: [BRAID_ARGS="--tier-priority normal"] /usr/bin/python3 bench/tier_bench.py [N=1000000]
import json, os, random, shutil, socket, subprocess, sys, tempfile, time

from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BRAID = os.environ.get("BRAID_BIN", os.path.join(ROOT, "build", "braid"))
N = int(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 else 1000000
SCHEMA = {"type": "struct", "schema-id": 0, "fields": [
    {"id": 1, "name": "auction", "required": False, "type": "long"},
    {"id": 2, "name": "bidder", "required": False, "type": "long"},
    {"id": 3, "name": "price", "required": False, "type": "long"},
    {"id": 4, "name": "channel", "required": False, "type": "string"},
    {"id": 5, "name": "url", "required": False, "type": "string"},
    {"id": 6, "name": "date_time", "required": False, "type": "timestamptz"},
    {"id": 7, "name": "extra", "required": False, "type": "string"}]}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def proc_cpu(pid):
    """CPU seconds of the whole process (every thread)."""
    f = open("/proc/%d/stat" % pid).read()
    f = f[f.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def tier_cpu(pid):
    """CPU seconds (user + system) used so far by the tier thread(s) of pid: on a
    shared machine the wall time of a SCHED_IDLE thread says more about the
    neighbours than about tiering, so both are reported."""
    tot = 0
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            st = open("/proc/%d/task/%s/stat" % (pid, tid)).read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        if comm.startswith("braid-tier"):
            f = st[st.rindex(")") + 2:].split()
            tot += (int(f[11]) + int(f[12])) / tick
    return tot


def main():
    tmp = tempfile.mkdtemp(prefix="braid-tierbench-", dir=os.path.join(ROOT, "build"))
    data = os.path.join(tmp, "data")
    jl = os.path.join(tmp, "bids.jsonl")
    rnd = random.Random(7)
    with open(jl, "w") as f:
        t0 = 1700000000000
        for i in range(N):
            f.write(json.dumps({
                "auction": 1000 + rnd.randrange(10000), "bidder": 2000 + rnd.randrange(100000),
                "price": rnd.randrange(1, 100000), "channel": "channel-%d" % rnd.randrange(10000),
                "url": "https://www.nexmark.com/%d/item.htm?query=1" % rnd.randrange(100000),
                "date_time": t0 + i, "extra": "x" * rnd.randrange(10, 40)}, separators=(",", ":")) + "\n")
    size = os.path.getsize(jl)
    port = free_port()
    log = open(os.path.join(tmp, "braid.log"), "w")
    proc = subprocess.Popen([BRAID, "serve", "--data", data, "--kafka", "127.0.0.1:%d" % port, "--pg", "127.0.0.1:0"] + os.environ.get("BRAID_ARGS", "").split(), stdout=log, stderr=log)
    try:
        bs = "127.0.0.1:%d" % port
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        admin = AdminClient({"bootstrap.servers": bs})
        admin.create_topics([NewTopic("bids", 1, 1, config={"braid.lake.mode": "off"})])["bids"].result()
        t = time.time()
        subprocess.run(["kcat", "-b", bs, "-P", "-t", "bids", "-l", jl, "-X", "linger.ms=20",
                        "-X", "batch.size=1000000", "-X", "compression.codec=lz4"], check=True)
        produce_s = time.time() - t
        cfg = ConfigResource("topic", "bids", set_config={
            "braid.lake.mode": "json", "braid.lake.schema": json.dumps(SCHEMA),
            "braid.lake.commit.interval.ms": "500"})
        perf = None
        if os.environ.get("PERF_OUT"):  # profile the catch-up: PERF_OUT=perf.data bench/tier_bench.py
            perf = subprocess.Popen(["perf", "record", "--call-graph", os.environ.get("PERF_CG", "fp"), "-o", os.environ["PERF_OUT"], "-p", str(proc.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        cpu0, pcpu0 = tier_cpu(proc.pid), proc_cpu(proc.pid)
        admin.alter_configs([cfg])[cfg].result()
        t = time.time()
        while True:
            out = subprocess.run([BRAID, "topic", "frontier", "bids", "--data", data], capture_output=True, text=True).stdout
            fr = [l.split("\t") for l in out.splitlines() if l[:1].isdigit()]
            if fr and int(fr[0][1]) >= N:
                break
            if time.time() - t > 600:
                raise SystemExit("tiering did not reach the log end in 10 minutes")
            time.sleep(0.05)
        braid_s = time.time() - t
        cpu_s, pcpu_s = tier_cpu(proc.pid) - cpu0, proc_cpu(proc.pid) - pcpu0
        if perf:
            perf.send_signal(2)
            perf.wait()
    finally:
        proc.terminate()
        proc.wait()
    duck = subprocess.run(["node", "-e", """
const { createRequire } = require('node:module');
const r = createRequire(process.argv[1]);
(async () => {
  const { DuckDBInstance } = await import(r.resolve('@duckdb/node-api'));
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const t = performance.now(), c0 = process.cpuUsage();
  await c.run(`COPY (SELECT * FROM read_json('${process.argv[2]}', format='newline_delimited', columns={auction:'BIGINT', bidder:'BIGINT', price:'BIGINT', channel:'VARCHAR', url:'VARCHAR', date_time:'BIGINT', extra:'VARCHAR'})) TO '${process.argv[3]}' (FORMAT parquet, COMPRESSION zstd)`);
  const u = process.cpuUsage(c0);
  console.log((performance.now() - t) / 1000, (u.user + u.system) / 1e6);
})();""", os.path.join(ROOT, "tests", "js", "package.json"), jl, os.path.join(tmp, "duck.parquet")],
        capture_output=True, text=True, check=True)
    duck_s, duck_cpu = map(float, duck.stdout.split())
    mb = size / 1e6
    print("# tiering benchmark: %d Nexmark bids as JSON, %.1f MB (produce with kcat took %.2f s)" % (N, mb, produce_s))
    print("braid tiering (catch-up, json mode, declared schema, zstd Parquet + Iceberg commits): %.2f s, %.0f records/s, %.1f MB/s"
          % (braid_s, N / braid_s, mb / braid_s))
    print("  tier thread CPU time: %.2f s (%.0f records per CPU second); whole braid process: %.2f s"
          % (cpu_s, N / cpu_s if cpu_s else 0, pcpu_s))
    print("DuckDB read_json -> zstd Parquet COPY:                                           %.2f s, %.0f records/s, %.1f MB/s"
          % (duck_s, N / duck_s, mb / duck_s))
    print("  DuckDB CPU time (all its threads): %.2f s" % duck_cpu)
    print("ratio braid/DuckDB (time): %.2f   (goal <= 1.0); CPU time ratio %.2f" % (braid_s / duck_s, cpu_s / duck_cpu))
    print("produce rate of the same file with kcat: %.0f records/s (tiering %s keep up)"
          % (N / produce_s, "can" if braid_s <= produce_s else "cannot"))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
