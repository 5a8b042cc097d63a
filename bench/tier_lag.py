#!/usr/bin/python3
# tier_lag.py — issue 4's "tiering keeps up at full ingest": how far the lake
# frontier trails the log end while producers write as fast as they can.
#
#   braid serve (defaults: tiering on, SCHED_IDLE tier threads); one topic;
#   a producer at its maximum rate for SECONDS; every second: log end offset,
#   lake frontier (`braid topic frontier`), lag = end - frontier, and the CPU
#   seconds the tier threads used. After the producer stops, sampling goes on
#   until the lag is 0 (the catch-up time).
#
#   mode kv:   build/bench/produce_bench, 100-byte values, key_value lake mode
#              (the log issue's produce benchmark, so its rate is the target)
#   mode json: kcat -P -l of Nexmark bid JSON lines (as tier_bench.py), json
#              lake mode with a declared schema
# Usage: [BRAID_ARGS=...] /usr/bin/python3 bench/tier_lag.py [kv|json] [SECONDS=30]
import json, os, random, shutil, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tier_bench import SCHEMA, free_port, tier_cpu  # noqa: E402

from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BRAID = os.environ.get("BRAID_BIN", os.path.join(ROOT, "build", "braid"))
MODE = sys.argv[1] if len(sys.argv) > 1 else "kv"
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0


def frontier(data):
    out = subprocess.run([BRAID, "topic", "frontier", "t", "--data", data], capture_output=True, text=True).stdout
    fr = [l.split("\t") for l in out.splitlines() if l[:1].isdigit()]
    return int(fr[0][1]) if fr else 0


def main():
    tmp = tempfile.mkdtemp(prefix="braid-tierlag-", dir=os.path.join(ROOT, "build"))
    data = os.path.join(tmp, "data")
    port = free_port()
    bs = "127.0.0.1:%d" % port
    log = open(os.path.join(tmp, "braid.log"), "w")
    proc = subprocess.Popen([BRAID, "serve", "--data", data, "--kafka", bs, "--pg", "127.0.0.1:0"] + os.environ.get("BRAID_ARGS", "").split(), stdout=log, stderr=log)
    prod = None
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), 0.1).close()
                break
            except OSError:
                time.sleep(0.05)
        cfg = {"braid.lake.commit.interval.ms": "1000"}
        if MODE == "json":
            cfg.update({"braid.lake.mode": "json", "braid.lake.schema": json.dumps(SCHEMA)})
        admin = AdminClient({"bootstrap.servers": bs})
        admin.create_topics([NewTopic("t", 1, 1, config=cfg)])["t"].result()
        if MODE == "json":
            jl = os.path.join(tmp, "bids.jsonl")
            rnd = random.Random(7)
            with open(jl, "w") as f:
                for i in range(500000):
                    f.write(json.dumps({
                        "auction": 1000 + rnd.randrange(10000), "bidder": 2000 + rnd.randrange(100000),
                        "price": rnd.randrange(1, 100000), "channel": "channel-%d" % rnd.randrange(10000),
                        "url": "https://www.nexmark.com/%d/item.htm?query=1" % rnd.randrange(100000),
                        "date_time": 1700000000000 + i, "extra": "x" * rnd.randrange(10, 40)},
                        separators=(",", ":")) + "\n")
            # the file over and over on kcat's stdin (one record per line)
            cmd = ["sh", "-c", "while cat %s; do :; done | kcat -b %s -P -t t -X linger.ms=20 -X batch.size=1000000 "
                   "-X compression.codec=lz4" % (jl, bs)]
        else:
            pb = os.path.join(ROOT, "build", "bench", "produce_bench")
            if not os.path.exists(pb):
                os.makedirs(os.path.dirname(pb), exist_ok=True)
                flags = subprocess.run(["pkg-config", "--cflags", "--libs", "rdkafka"], capture_output=True,
                                       text=True, check=True).stdout.split()
                subprocess.run(["cc", "-std=c11", "-O2", "-o", pb, os.path.join(ROOT, "bench", "produce_bench.c")]
                               + flags + ["-lpthread"], check=True)
            cmd = [pb, "--brokers", bs, "--topic", "t", "--count", "1000000000", "--size", "100"]
        cons = Consumer({"bootstrap.servers": bs, "group.id": "lag"})
        t0 = time.time()
        cpu0 = tier_cpu(proc.pid)
        prod = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        print("# tier lag under full produce load: mode %s, producer for %.0f s, commit interval 1 s" % (MODE, SECONDS))
        print("t_s\tlog_end\tfrontier\tlag\tproduce_rec_s\ttier_cpu_s")
        last_end, lags, stopped_at, rates = 0, [], None, []
        while True:
            time.sleep(1.0)
            t = time.time() - t0
            if stopped_at is None and t >= SECONDS:
                os.killpg(prod.pid, 15)  # the shell loop and kcat
                prod.wait()
                stopped_at = t
            end = cons.get_watermark_offsets(TopicPartition("t", 0), timeout=10)[1]
            fr = frontier(data)
            lag = end - fr
            if stopped_at is None:
                lags.append(lag)
                rates.append(end - last_end)
            print("%.0f\t%d\t%d\t%d\t%d\t%.2f" % (t, end, fr, lag, end - last_end, tier_cpu(proc.pid) - cpu0))
            sys.stdout.flush()
            last_end = end
            if stopped_at is not None and (lag <= 0 or t - stopped_at > 300):
                break
        cons.close()
        n = len(lags)
        print("# produce: %.0f records/s on average; lag at the end of produce %d records, max %d; "
              "lag over the last third %s; caught up %.0f s after produce stopped"
              % (sum(rates) / max(n, 1), lags[-1] if lags else 0, max(lags) if lags else 0,
                 "growing" if n > 3 and lags[-1] > lags[2 * n // 3] else "bounded",
                 (t - stopped_at) if lag <= 0 else float("nan")))
    except BaseException:
        log.flush()
        sys.stderr.write(open(os.path.join(tmp, "braid.log")).read()[-3000:])
        raise
    finally:
        if prod and prod.poll() is None:
            os.killpg(prod.pid, 15)
            prod.wait()
        proc.terminate()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
