# test_tier_json.py — json lake mode proven with real clients: librdkafka
# produces, icebird (over the table) and DuckDB (over its live Parquet files)
# read back. Phases: 200,000 records against a declared schema in a 4-partition
# topic with a bucket partition spec; schema inference and evolution (a field
# appears midway, an int field starts carrying 64-bit values); dead letters
# mixed with valid records under kill -9 of the broker: table rows + dead letters
# = records produced, each exactly once.
import json
import os
import random
import sys
import time

sys.dont_write_bytecode = True  # keep tests/ free of __pycache__

from braidtest import Broker, create_topic, tap
from test_tier import exactly_once, frontier, lake_check, log_ends, wait_frontier

from confluent_kafka import Consumer, Producer, TopicPartition

DECLARED = json.dumps({"type": "struct", "schema-id": 0, "fields": [
    {"id": 1, "name": "id", "required": True, "type": "long"},
    {"id": 2, "name": "auction", "required": True, "type": "int"},
    {"id": 3, "name": "price", "required": False, "type": "double"},
    {"id": 4, "name": "bidder", "required": False, "type": "string"},
    {"id": 5, "name": "ts", "required": False, "type": "timestamptz"},
]})


def producer(b, **extra):
    conf = {"bootstrap.servers": b.bootstrap, "linger.ms": 20, "batch.num.messages": 5000, "log_level": 0,
            "compression.type": "zstd", "queue.buffering.max.messages": 500000}
    conf.update(extra)
    return Producer(conf)


def produce_all(p, topic, values, part_of=None):
    for i, v in enumerate(values):
        while True:
            try:
                if part_of:
                    p.produce(topic, key=b"%d" % i, value=v, partition=part_of(i))
                else:
                    p.produce(topic, key=b"%d" % i, value=v)
                break
            except BufferError:
                p.poll(0.05)
        if i % 10000 == 0:
            p.poll(0)
    left = p.flush(60)
    return left == 0


def close_sum(a, b):
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def phase_declared():
    topic, parts, n = "bids", 4, 200000
    b = Broker()
    try:
        err, msg = create_topic(b.port, topic, parts, {"braid.lake.mode": "json", "braid.lake.schema": DECLARED,
                                                       "braid.lake.partition": "bucket(4, auction)",
                                                       "braid.lake.commit.interval.ms": "500"})
        tap.eq(err, 0, "create json topic with a declared schema (%s)" % msg)
        rng = random.Random(7)
        want = {"id": 0, "auction": 0, "price": 0.0}
        ts_sum = 0
        vals = []
        for i in range(n):
            a, pr = rng.randrange(1000), rng.randrange(100000) / 100
            want["id"] += i
            want["auction"] += a
            want["price"] += pr
            if i % 2:
                ts = "2024-01-%02dT%02d:%02d:00%s" % (1 + i % 28, i % 24, i % 60, "Z" if i % 4 == 1 else "+01:00")
                ts_sum += (1704067200 + (i % 28) * 86400 + (i % 24) * 3600 + (i % 60) * 60 - (0 if i % 4 == 1 else 3600)) * 1000
            else:
                ts = 1704067200000 + i
                ts_sum += ts
            vals.append(json.dumps({"id": i, "auction": a, "price": pr, "bidder": "b%d" % (i % 77), "ts": ts}).encode())
        t0 = time.time()
        tap.ok(produce_all(producer(b), topic, vals), "librdkafka produced %d JSON records" % n)
        ends = log_ends(b.bootstrap, topic, parts)
        tap.eq(sum(ends.values()), n, "log holds %d records" % n)
        f = wait_frontier(b, topic, ends, timeout=90)
        tap.eq(f, ends, "frontier reaches the log end (%.1f s after the first produce)" % (time.time() - t0))
        t_prod = int(t0 * 1000)
        res = lake_check(b.data, topic, ["id", "auction", "price"], duck_extra=[
            "sum(epoch_ms(ts))", "count(*) FILTER (WHERE _append_time IS NULL OR _timestamp IS NULL)",
            "min(epoch_ms(_timestamp))", "min(epoch_ms(_append_time))", "max(epoch_ms(_append_time))",
            "count(*) FILTER (WHERE _key IS NULL)"])
        ex = res["duckdb"]["extra"]
        tap.eq(ex[0], ts_sum, "duckdb: ts (ISO-8601 with zone or epoch ms) sums to the produced instants")
        tap.ok(ex[1] == 0 and ex[2] >= t_prod - 60000 and ex[3] >= t_prod - 60000 and ex[4] <= time.time() * 1000 + 1000,
               "duckdb: _timestamp and _append_time are the produce/append instants", ex)
        tap.eq(ex[5], 0, "duckdb: every row keeps its key")
        exactly_once(res, ends, "declared json")
        for reader in ("icebird", "duckdb"):
            s = res[reader]["sums"]
            tap.ok(s["id"] == want["id"] and s["auction"] == want["auction"] and close_sum(s["price"], want["price"]),
                   "%s: per-column sums equal the produced records'" % reader, "got %s want %s" % (s, want))
        tap.eq(res["summary"].get("braid.tiered.records"), str(n), "summary counts %d tiered records" % n)
        tap.eq(res["summary"].get("braid.dlq.records"), "0", "no dead letters")
        tap.ok(res["files"] >= 4, "bucket(4, auction) spreads rows over partition files (%d live files)" % res["files"])
    finally:
        b.close()


def phase_infer():
    topic, n = "evo", 20000  # ids are unique: a record written twice by a retry would show in the sums
    b = Broker()
    try:
        err, msg = create_topic(b.port, topic, 2, {"braid.lake.mode": "json", "braid.lake.schema": "infer",
                                                   "braid.lake.commit.interval.ms": "200"})
        tap.eq(err, 0, "create json topic with schema inference (%s)" % msg)
        first = [json.dumps({"id": i, "auction": i % 100, "name": "n%d" % i, "tags": [i % 3]}).encode()
                 for i in range(n // 2)]
        produce_all(producer(b), topic, first)
        time.sleep(0.8)  # let a commit land with the first schema
        second = [json.dumps({"id": i, "auction": (1 << 33) + i, "name": "n%d" % i, "extra": {"score": i / 2},
                              "tags": [i % 3]}).encode() for i in range(n // 2, n)]
        # the evolving half goes in four slices, with a kill -9 after each of the first
        # three: schema updates and data commits interrupted at random points
        rng = random.Random(5)
        for k in range(4):
            sl = second[k * len(second) // 4:(k + 1) * len(second) // 4]
            produce_all(producer(b, **{"enable.idempotence": True, "acks": "all"}), topic, sl)
            if k < 3:
                time.sleep(rng.uniform(0.05, 0.3))
                b.kill()
                b.start()
        ends = log_ends(b.bootstrap, topic, 2)
        tap.eq(sum(ends.values()), n, "log holds the %d records (3 kill -9s while the schema evolved)" % n)
        f = wait_frontier(b, topic, ends)
        tap.eq(f, ends, "frontier reaches the log end")
        res = lake_check(b.data, topic, ["id", "auction"])
        exactly_once(res, ends, "inferred json")
        fields = {f["name"]: f for f in res["schema"]["fields"]}
        tap.eq(fields.get("auction", {}).get("type"), "long", "auction widened from int to long")
        tap.ok(isinstance(fields.get("extra", {}).get("type"), dict) and fields["extra"]["type"]["type"] == "struct",
               "the field added midway became a struct column", fields.get("extra"))
        tap.ok(fields.get("tags", {}).get("type", {}).get("type") == "list", "arrays became a list column")
        ids = [f["id"] for f in res["schema"]["fields"]]
        tap.ok(len(set(ids)) == len(ids) and fields["auction"]["id"] < fields["extra"]["id"],
               "evolution keeps field ids (auction's id unchanged, new ids above)")
        want_auction = sum(i % 100 for i in range(n // 2)) + sum((1 << 33) + i for i in range(n // 2, n))
        for reader in ("icebird", "duckdb"):
            s = res[reader]["sums"]
            tap.ok(s["id"] == sum(range(n)) and s["auction"] == want_auction,
                   "%s reads old and new rows together (sums of id and widened auction)" % reader,
                   "got %s" % s)
    finally:
        b.close()


def consume_all(bootstrap, topic, want, timeout=30):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tier-dlq", "enable.auto.commit": False,
                  "log_level": 0})
    got = []
    try:
        c.assign([TopicPartition(topic, 0, 0)])
        deadline = time.time() + timeout
        while len(got) < want and time.time() < deadline:
            for m in c.consume(10000, 0.5):
                if not m.error():
                    got.append(m)
    finally:
        c.close()
    return got


def phase_dead_letters_kill():
    topic, parts, kills = "mixed", 2, 6
    b = Broker()
    try:
        err, msg = create_topic(b.port, topic, parts, {"braid.lake.mode": "json", "braid.lake.schema": DECLARED,
                                                       "braid.lake.commit.interval.ms": "100"})
        tap.eq(err, 0, "create json topic for dead letters (%s)" % msg)
        rng = random.Random(11)
        kinds = {"ok": 0, "notjson": 0, "type": 0, "missing": 0}
        n = 0
        for k in range(kills + 1):
            p = producer(b, **{"enable.idempotence": True, "acks": "all", "message.timeout.ms": 30000})
            vals = []
            for _ in range(6000):
                r = rng.random()
                if r < 0.85:
                    v, kd = json.dumps({"id": n, "auction": n % 50, "price": 1.0}), "ok"
                elif r < 0.9:
                    v, kd = "not json %d" % n, "notjson"
                elif r < 0.95:
                    v, kd = json.dumps({"id": "x%d" % n, "auction": 1}), "type"
                else:
                    v, kd = json.dumps({"id": n}), "missing"
                kinds[kd] += 1
                vals.append(v.encode())
                n += 1
            produce_all(p, topic, vals)
            if k < kills:
                time.sleep(rng.uniform(0.05, 0.4))
                b.kill()
                b.start()
        ends = log_ends(b.bootstrap, topic, parts)
        total = sum(ends.values())
        tap.ok(total >= n, "log holds the %d records produced (%d with retries)" % (n, total))
        f = wait_frontier(b, topic, ends)
        tap.eq(f, ends, "frontier reaches the log end after %d kill -9s with dead letters" % kills)
        res = lake_check(b.data, topic, offsets=True)
        ends_dlq = log_ends(b.bootstrap, topic + ".dlq", 1)
        dl = consume_all(b.bootstrap, topic + ".dlq", ends_dlq[0])
        src = []
        reasons = {}
        for m in dl:
            h = dict(m.headers() or [])
            src.append((int(h["braid.source.partition"]), int(h["braid.source.offset"])))
            reasons[h["braid.dlq.reason"].decode()[:20]] = 1
        tap.eq(len(src), len(set(src)), "no record dead-lettered twice (%d dead letters)" % len(src))
        rows = res["icebird"]["rows"]
        tap.eq(rows + len(src), total, "table rows (%d) + dead letters (%d) = records in the log" % (rows, len(src)))
        bad = kinds["notjson"] + kinds["type"] + kinds["missing"]
        tap.ok(len(src) >= bad, "every bad record produced was dead-lettered (%d >= %d)" % (len(src), bad))
        tap.ok(all(m.value() is not None for m in dl) and any(r.startswith("invalid JSON") for r in reasons),
               "dead letters keep the original value and say why", list(reasons)[:5])
        table = set(tuple(x) for x in res["offsets"])
        everything = set((p, o) for p in range(parts) for o in range(ends[p]))
        tap.ok(not (table & set(src)) and (table | set(src)) == everything,
               "table and dead letters partition the log's (partition, offset) set",
               "overlap %d, missing %d" % (len(table & set(src)), len(everything - table - set(src))))
        tap.eq(res["icebird"]["dups"], 0, "no duplicate (_partition, _offset) in the table")
        tap.eq(res["summary"].get("braid.dlq.records"), str(len(src)), "summary counts the dead letters")
    finally:
        b.close()


if __name__ == "__main__":
    tap.run("declared schema, 200k records", phase_declared)
    tap.run("inference and evolution under kill -9", phase_infer)
    tap.run("dead letters under kill -9", phase_dead_letters_kill)
    tap.finish()
