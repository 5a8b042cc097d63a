# test_tier_ops.py — tiering beside the log's other duties: retention never
# deletes records the lake does not hold yet (the frontier pins the log), and
# braid.lake.* config changes on an existing table take effect or are refused
# with a clear error (librdkafka's AdminClient). The CLI topic commands are
# exercised here too (`braid topic create|alter|describe|frontier`).
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep tests/ free of __pycache__

from braidtest import BRAID, Broker, create_topic, tap
from test_tier import exactly_once, frontier, lake_check, wait_frontier

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource


def watermarks(bootstrap, topic, p=0):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "tier-ops"})
    try:
        return c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
    finally:
        c.close()


def alter(bootstrap, topic, cfg):
    """AlterConfigs (replaces every override): None on success, else the error text."""
    a = AdminClient({"bootstrap.servers": bootstrap})
    r = ConfigResource("topic", topic, set_config=cfg)
    try:
        a.alter_configs([r])[r].result(15)
        return None
    except Exception as e:  # noqa: BLE001 — the broker's refusal is what we test
        return str(e)


def produce(bootstrap, topic, n, make):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "log_level": 0})
    for i in range(n):
        while True:
            try:
                p.produce(topic, value=make(i))
                break
            except BufferError:
                p.poll(0.05)
    p.flush(30)


def phase_retention():
    """Tiering is held back (a one-hour commit interval); retention must keep
    every segment past the frontier however old, then delete them once the
    table holds them."""
    topic, n = "ret", 3000
    b = Broker("--retention-check-ms", 200)
    try:
        base = {"segment.bytes": "4096", "retention.ms": "1", "braid.lake.commit.interval.ms": "3600000",
                "braid.lake.commit.bytes": "1G"}
        err, msg = create_topic(b.port, topic, 1, base)
        tap.eq(err, 0, "topic with tiny segments, retention.ms=1 and tiering held back")
        produce(b.bootstrap, topic, n, lambda i: b"r-%06d-" % i + b"x" * 80)
        time.sleep(2.0)  # ten retention runs
        low, high = watermarks(b.bootstrap, topic)
        tap.ok(low == 0 and high == n, "retention kept every untiered record (log start %d, end %d)" % (low, high))
        f = frontier(b.data, topic)
        tap.ok(f is None or f.get(0, 0) == 0, "nothing tiered yet (frontier %s)" % f)
        tap.ok("not yet in the lake" in open(b.logpath).read(), "the broker log says why retention waits")
        cfg = dict(base, **{"braid.lake.commit.interval.ms": "100"})
        tap.eq(alter(b.bootstrap, topic, cfg), None, "commit interval lowered on the existing table")
        f = wait_frontier(b, topic, {0: n}, timeout=60)
        tap.eq(f, {0: n}, "the new commit interval took effect: frontier reached the log end")
        deadline = time.time() + 20
        while time.time() < deadline:
            low, high = watermarks(b.bootstrap, topic)
            if low > 0:
                break
            time.sleep(0.2)
        tap.ok(low > 0, "once tiered, retention deletes the old segments (log start %d)" % low)
        exactly_once(lake_check(b.data, topic), {0: n}, "retention")
    finally:
        b.close()


def phase_config_changes():
    topic = "cfg"
    b = Broker()
    try:
        declared = ('{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","required":false,"type":"long"},'
                    '{"id":2,"name":"v","required":false,"type":"string"}]}')
        base = {"braid.lake.mode": "json", "braid.lake.schema": declared, "braid.lake.partition": "bucket(4, id)",
                "braid.lake.commit.interval.ms": "200"}
        tap.eq(create_topic(b.port, topic, 1, base)[0], 0, "json topic partitioned by bucket(4, id)")
        produce(b.bootstrap, topic, 100, lambda i: b'{"id": %d, "v": "a"}' % i)
        f = wait_frontier(b, topic, {0: 100}, timeout=30)
        tap.eq(f, {0: 100}, "first records tiered")
        e = alter(b.bootstrap, topic, dict(base, **{"braid.lake.partition": "day(_timestamp)"}))
        tap.ok(e and "braid.lake.partition cannot change" in e, "partition spec change refused with a reason", e)
        e = alter(b.bootstrap, topic, dict(base, **{"braid.lake.mode": "key_value"}))
        tap.ok(e and "braid.lake.mode cannot change from json to key_value" in e, "mode change refused", e)
        schema = '{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","required":false,"type":"long"}]}'
        e = alter(b.bootstrap, topic, dict(base, **{"braid.lake.schema": schema}))
        tap.ok(e and "braid.lake.schema cannot be declared anew" in e, "declared schema on an existing table refused", e)
        d = subprocess.run([BRAID, "topic", "describe", topic, "--bootstrap", b.bootstrap, "--data", b.data],
                           capture_output=True, text=True, timeout=30)
        tap.ok(d.returncode == 0 and "bucket(4, id)" in d.stdout, "refused changes left the configs as they were",
               d.stdout + d.stderr)
        # accepted: a longer interval is used by the next job (nothing tiered for 3 s)
        tap.eq(alter(b.bootstrap, topic, dict(base, **{"braid.lake.commit.interval.ms": "3000"})), None,
               "commit interval change accepted")
        time.sleep(0.5)
        produce(b.bootstrap, topic, 50, lambda i: b'{"id": %d, "v": "b"}' % (1000 + i))
        time.sleep(1.0)
        f1 = frontier(b.data, topic)
        f2 = wait_frontier(b, topic, {0: 150}, timeout=30)
        tap.ok(f1 == {0: 100} and f2 == {0: 150}, "the new interval holds commits back, then commits (%s, %s)" % (f1, f2))
        tap.eq(alter(b.bootstrap, topic, dict(base, **{"braid.lake.mode": "off"})), None, "mode off accepted")
        tap.eq(alter(b.bootstrap, topic, base), None, "and back to json")
    finally:
        b.close()


def phase_streamed_job():
    """One job far larger than a chunk (8192 rows) on an unpartitioned table:
    rows stream through the encoder thread into one file; bad values inside
    the job are rolled back and dead-lettered without touching their chunk."""
    topic, n = "big", 30000
    b = Broker()
    try:
        declared = ('{"type":"struct","schema-id":0,"fields":[{"id":1,"name":"id","required":true,"type":"long"},'
                    '{"id":2,"name":"s","required":false,"type":"string"},'
                    '{"id":3,"name":"tags","required":false,"type":{"type":"list","element-id":4,'
                    '"element":"int","element-required":false}}]}')
        base = {"braid.lake.mode": "json", "braid.lake.schema": declared,
                "braid.lake.commit.interval.ms": "3600000", "braid.lake.commit.bytes": "1G"}
        tap.eq(create_topic(b.port, topic, 1, base)[0], 0, "unpartitioned json topic, tiering held back")

        def value(i):
            if i % 1000 == 999:  # fails after its first columns were appended
                return b'{"id": %d, "s": "x", "tags": [1, "two"]}' % i
            return b'{"id": %d, "s": "v%d", "tags": [%d, %d]}' % (i, i, i % 7, i % 5)
        produce(b.bootstrap, topic, n, value)
        # Tiering reads only up to the synced .index (append times), which
        # follows acks by up to ~100 ms: let it catch up so one job sees all.
        time.sleep(1.0)
        tap.eq(alter(b.bootstrap, topic, dict(base, **{"braid.lake.commit.interval.ms": "100"})), None,
               "tiering released: one job of %d records" % n)
        f = wait_frontier(b, topic, {0: n}, timeout=120)
        tap.eq(f, {0: n}, "frontier reaches the log end")
        res = lake_check(b.data, topic, sum_cols=["id"])
        good = [i for i in range(n) if i % 1000 != 999]
        for reader in ("icebird", "duckdb"):
            r = res[reader]
            tap.ok(r["rows"] == len(good) and r["dups"] == 0 and r["sums"]["id"] == sum(good),
                   "%s: the streamed rows are the good records, once (rows %d, id sum %s)"
                   % (reader, r["rows"], r["sums"]["id"]))
        tap.eq(res["summary"].get("braid.dlq.records"), str(n - len(good)), "the bad records were dead-lettered")
        tap.eq(res["files"], 1, "one job, one data file")
    finally:
        b.close()


def phase_cli():
    topic = "clitopic"
    b = Broker()
    try:
        def cli(*args):
            return subprocess.run([BRAID, "topic"] + list(args) + ["--bootstrap", b.bootstrap, "--data", b.data],
                                  capture_output=True, text=True, timeout=30)
        r = cli("create", topic, "--partitions", "2", "--config", "braid.lake.mode=json",
                "--config", "braid.lake.commit.interval.ms=200")
        tap.ok(r.returncode == 0 and "created topic" in r.stdout, "braid topic create", r.stdout + r.stderr)
        r = cli("create", topic)
        tap.ok(r.returncode == 1 and "already exists" in r.stderr, "creating it twice fails with the reason", r.stderr)
        r = cli("create", "bad-cfg", "--config", "retention.ms=soon")
        tap.ok(r.returncode == 1 and "retention.ms" in r.stderr, "a bad config value is refused", r.stderr)
        good = [b'{"n": %d}' % i for i in range(200)]
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5, "log_level": 0})
        for i, v in enumerate(good):
            p.produce(topic, value=v, partition=i % 2)
        for i in range(7):
            p.produce(topic, value=b"not json %d" % i, partition=0)
        p.flush(30)
        f = wait_frontier(b, topic, {0: 107, 1: 100}, timeout=30)
        tap.eq(f, {0: 107, 1: 100}, "records tiered")
        r = cli("describe", topic)
        out = r.stdout
        tap.ok(r.returncode == 0 and "partitions 2" in out and "records tiered 200, dead-lettered 7, not yet tiered 0" in out,
               "braid topic describe: partitions, counts of tiered and dead-lettered records", out + r.stderr)
        tap.ok("braid.lake.mode" in out and "(set on the topic)" in out, "describe lists the configs", out)
        r = cli("alter", topic, "--config", "braid.lake.commit.interval.ms=5000", "--config", "retention.ms=86400000")
        tap.ok(r.returncode == 0, "braid topic alter (incremental: other overrides stay)", r.stdout + r.stderr)
        out = cli("describe", topic).stdout
        tap.ok("5000" in out and "86400000" in out and "json" in out, "describe shows the altered and the kept configs", out)
        r = cli("alter", topic, "--config", "braid.lake.mode=key_value")
        tap.ok(r.returncode == 1 and "cannot change from json to key_value" in r.stderr, "alter refused by the lake, with the reason",
               r.stderr)
        r = cli("alter", topic, "--delete", "retention.ms")
        tap.ok(r.returncode == 0 and "86400000" not in cli("describe", topic).stdout, "braid topic alter --delete")
        r = cli("describe", "nope")
        tap.ok(r.returncode == 1 and "does not exist" in r.stderr, "describe of a missing topic", r.stderr)
    finally:
        b.close()


if __name__ == "__main__":
    tap.run("retention keeps what the lake lacks", phase_retention)
    tap.run("config changes on an existing table", phase_config_changes)
    tap.run("a streamed job", phase_streamed_job)
    tap.run("CLI topic commands", phase_cli)
    tap.finish()
