#!/usr/bin/python3
# test_time_topics.py — event time on topic-backed tables (the `braid serve`
# catalog) with real clients: records produced with confluent_kafka to a
# 3-partition table, views and SHOW WATERMARKS read with psql.
#
#  - Determinism: the same records per partition, produced with different
#    partition interleavings and batch sizes, once with a SIGTERM restart and
#    once with a kill -9 in the middle: a TUMBLE count view (changelog and
#    on_window_close) and a SESSION view give identical outputs, equal to the
#    batch SELECT over the final table; the late records are in <table>.dlq
#    once each.
#  - Forged timestamps: 10,000 honest events + 1 far-future one: every honest
#    event on time, the forged one in <table>.dlq with its reason, partition
#    and offset (read back with confluent_kafka).
#  - Idle partitions: a partition with no records stops holding the watermark
#    back after idle_timeout (broker time), so windows close.
import difflib
import json
import os
import random
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from braidtest import BRAID, Broker, free_port, tap  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

NP = 3
PER_PART = 700
SEC = 1000000
# event times an hour in the past, on a 10 s boundary: far below any append time
BASE = (int(time.time()) // 10 - 360) * 10 * SEC


def psql(port, sql):
    p = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "braid", "-d", "braid", "-X", "-At",
                        "-F", "|", "-c", sql], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
    return p.stdout.strip() + (("\nERR " + p.stderr.strip()) if p.returncode else "")


def wait_pg(pg, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline and psql(pg, "SELECT 1") != "1":
        time.sleep(0.2)


def partition_records():
    """Per partition, the records in the order they are produced: event times
    advancing 100 ms per record, out of order by up to 1.5 s (within the 2 s
    delay), and every 37th record 12 s behind (late: dead-lettered)."""
    rnd = random.Random(6)
    parts = []
    for p in range(NP):
        recs = []
        for i in range(PER_PART):
            ts = BASE + i * 100000 + p * 7000 + rnd.randint(0, 1500000)
            if i % 37 == 36:
                ts -= 12 * SEC
            recs.append({"k": "k%d" % rnd.randint(0, 4), "ts": ts, "v": rnd.randint(1, 100)})
        parts.append(recs)
    return parts


TABLE = ("CREATE TABLE ev (k text, ts bigint, v bigint) WITH (partitions = %d, commit_interval = '200 ms', "
         "event_time = 'ts', watermark_delay = '2 seconds', lateness = 'dead_letter', max_future_skew = '1 minute')"
         % NP)
TUMBLE = ("SELECT window_start, window_end, k, count(*) AS n, sum(v) AS s FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) "
          "GROUP BY window_start, window_end, k")
SESSION = ("SELECT window_start, window_end, k, count(*) AS n FROM SESSION(ev, ts, INTERVAL '500 ms', k) "
           "GROUP BY window_start, window_end, k")
ORDER = " ORDER BY 1, 2, 3"


def producer(b, batch):
    # linger long and flush every `batch` records: each flush is a few batches
    return Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 1000, "batch.num.messages": max(batch, 1),
                     "acks": "all", "log_level": 0})


def produce_plan(b, pg, plan, batch, restart=None):
    """plan: (partition, record) in produce order; restart: None, 'term' or 'kill' half way."""
    p = producer(b, batch)
    half = len(plan) // 2
    for i, (part, r) in enumerate(plan):
        p.produce("ev", value=json.dumps(r), partition=part)
        if i % batch == batch - 1:
            p.flush(30)
        if restart and i == half:
            p.flush(30)
            deadline = time.time() + 30  # let tiering commit some of it: the restart reads lake + log
            while time.time() < deadline and not tiered(b, "ev", 1):
                time.sleep(0.2)
            b.restart(hard=(restart == "kill"))
            wait_pg(pg)
            p = producer(b, batch)
    tap.eq(p.flush(30), 0, "produced %d records" % len(plan))


def judged(pg, table):
    rows = [r.split("|") for r in psql(pg, "SHOW WATERMARKS").splitlines() if r.startswith(table + "|")]
    return sum(int(r[5]) + int(r[6]) + int(r[7]) + int(r[8]) for r in rows if len(r) == 9)


def wait_judged(pg, table, n, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if judged(pg, table) >= n:
            return True
        time.sleep(0.2)
    return False


def dead_letters(bootstrap, topic):
    """Every record of topic (one partition) with its headers as a dict."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "dlq-%d" % random.randint(0, 1 << 30),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        c.assign([TopicPartition(topic, 0, lo)])
        out = []
        deadline = time.time() + 30
        while len(out) < hi - lo and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            h = {k: (v.decode() if v is not None else None) for k, v in (m.headers() or [])}
            out.append((m.key(), m.value(), h))
        return out
    finally:
        c.close()


def tiered(b, topic, n):
    """True once the lake frontier of kafka.<topic> covers n records (`braid topic frontier`)."""
    r = subprocess.run([BRAID, "topic", "frontier", topic, "--data", b.data], capture_output=True, text=True,
                       timeout=30)
    lines = [ln.split("\t") for ln in r.stdout.splitlines()[1:] if "\t" in ln and not ln.startswith("#")]
    return r.returncode == 0 and sum(int(o) for _, o in lines) >= n


def run_once(name, plan, batch, restart=None):
    pg = free_port()
    b = Broker("--pg", "127.0.0.1:%d" % pg)
    try:
        wait_pg(pg)
        out = psql(pg, TABLE + ";" + "CREATE MATERIALIZED VIEW cl AS " + TUMBLE + ";" +
                   "CREATE MATERIALIZED VIEW owc WITH (emit = 'on_window_close') AS " + TUMBLE + ";" +
                   "CREATE MATERIALIZED VIEW se AS " + SESSION)
        tap.ok("ERR" not in out, "%s: table and views created" % name, out)
        produce_plan(b, pg, plan, batch, restart)
        tap.ok(wait_judged(pg, "ev", len(plan)), "%s: every record judged" % name, psql(pg, "SHOW WATERMARKS"))
        marks = psql(pg, "SHOW WATERMARKS")
        wm = min(int(r.split("|")[2]) for r in marks.splitlines() if r.startswith("ev|"))
        res = {
            "cl": psql(pg, "SELECT * FROM cl" + ORDER),
            "owc": psql(pg, "SELECT * FROM owc" + ORDER),
            "se": psql(pg, "SELECT * FROM se" + ORDER),
            "marks": marks,
        }
        batch_cl = psql(pg, TUMBLE + ORDER)
        batch_owc = psql(pg, "SELECT * FROM (" + TUMBLE + ") t WHERE window_end <= %d" % wm + ORDER)
        batch_se = psql(pg, SESSION + ORDER)
        tap.ok(res["cl"] == batch_cl and res["cl"].count("\n") > 30, "%s: changelog TUMBLE view = batch SELECT" % name,
               "\n".join(difflib.unified_diff(batch_cl.splitlines(), res["cl"].splitlines(), "batch", "view",
                                               lineterm=""))[:1500])
        tap.ok(res["owc"] == batch_owc and res["owc"], "%s: on_window_close view = batch SELECT of the closed windows"
               % name, "view %r... batch %r..." % (res["owc"][:200], batch_owc[:200]))
        tap.ok(res["se"] == batch_se and res["se"], "%s: SESSION view = batch SELECT" % name,
               "view %d rows, batch %d rows" % (res["se"].count("\n"), batch_se.count("\n")))
        dl = dead_letters(b.bootstrap, "ev.dlq")
        coords = sorted((int(h["braid.time.partition"]), int(h["braid.time.offset"])) for _, _, h in dl)
        late = sum(int(r.split("|")[7]) for r in marks.splitlines() if r.startswith("ev|"))
        tap.ok(len(coords) == late and len(set(coords)) == len(coords) and all(
            h["braid.dlq.reason"].startswith("late") for _, _, h in dl),
            "%s: each late record in ev.dlq once (%d)" % (name, late), "%d dead letters, %d distinct, late %d"
            % (len(coords), len(set(coords)), late))
        res["dlq"] = coords
        if restart:
            log = b.log_tail(2000)
            tap.ok("table ev: offsets below the lake frontier of kafka.ev read from the lake" in log,
                   "%s: after the restart the table read the lake below its frontier, then the log" % name,
                   log[-1500:])
        return res
    finally:
        b.close()


def test_determinism():
    parts = partition_records()
    total = NP * PER_PART
    rnd = random.Random(11)
    # 1: partition after partition, large batches
    seq = [(p, r) for p in range(NP) for r in parts[p]]
    # 2: round robin, small batches
    rr = [(p, parts[p][i]) for i in range(PER_PART) for p in range(NP)]
    # 3, 4: a random merge (each partition's order kept)
    idx = [0] * NP
    merged = []
    while len(merged) < total:
        p = rnd.choice([q for q in range(NP) if idx[q] < PER_PART])
        merged.append((p, parts[p][idx[p]]))
        idx[p] += 1
    runs = [("sequential", seq, 500, None), ("round-robin", rr, 7, None), ("merged+SIGTERM", merged, 60, "term"),
            ("merged+kill-9", merged, 23, "kill")]
    results = []
    for name, plan, batch, restart in runs:
        results.append((name, run_once(name, plan, batch, restart)))
    first_name, first = results[0]
    for name, r in results[1:]:
        for key in ("cl", "owc", "se", "dlq"):
            tap.ok(r[key] == first[key], "%s %s = %s %s" % (name, key, first_name, key),
                   "differs: %r vs %r" % (str(r[key])[:300], str(first[key])[:300]))
        # watermarks and counters too (the tracker relearns them from the log after a restart)
        tap.eq(r["marks"], first["marks"], "%s SHOW WATERMARKS = %s" % (name, first_name))


def test_forged():
    pg = free_port()
    b = Broker("--pg", "127.0.0.1:%d" % pg)
    try:
        wait_pg(pg)
        out = psql(pg, "CREATE TABLE honest (id bigint, ts bigint) WITH (partitions = 3, commit_interval = '200 ms', "
                   "event_time = 'ts', "
                   "watermark_delay = '1 second', max_future_skew = '1 minute');"
                   "CREATE MATERIALIZED VIEW per_min AS SELECT window_start, count(*) AS n "
                   "FROM TUMBLE(honest, ts, INTERVAL '1' MINUTE) GROUP BY window_start, window_end")
        tap.ok("ERR" not in out, "forged: table and view created", out)
        rnd = random.Random(3)
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 20, "acks": "all", "log_level": 0})
        forged_at = None
        for i in range(10000):
            ts = BASE + i * 1000 + rnd.randint(0, 400000)  # out of order by up to 400 ms
            p.produce("honest", value=json.dumps({"id": i, "ts": ts}), partition=i % 3)
            if i == 5000:
                p.flush(30)
                forged = {"id": -1, "ts": int(time.time() + 86400 * 365) * SEC}
                p.produce("honest", key=b"forger", value=json.dumps(forged), partition=1,
                          headers=[("origin", b"mallory")])
                forged_at = i
        tap.eq(p.flush(30), 0, "forged: 10,001 records produced")
        tap.ok(wait_judged(pg, "honest", 10001), "forged: every record judged", psql(pg, "SHOW WATERMARKS"))
        marks = [r.split("|") for r in psql(pg, "SHOW WATERMARKS").splitlines() if r.startswith("honest|")]
        on_time = sum(int(r[5]) for r in marks)
        late = sum(int(r[7]) for r in marks)
        quarantined = [int(r[8]) for r in marks]
        tap.eq((on_time, late, quarantined), (10000, 0, [0, 1, 0]),
               "forged: all 10,000 honest events on time, the forged one quarantined (partition 1)")
        tap.eq(psql(pg, "SELECT sum(n) FROM per_min"), "10000", "forged: the window view counts every honest event")
        tap.eq(psql(pg, "SELECT count(*), min(id) FROM honest"), "10000|0", "forged: the table holds the honest rows")
        dl = dead_letters(b.bootstrap, "honest.dlq")
        ok = len(dl) == 1
        if ok:
            key, val, h = dl[0]
            ok = (key == b"forger" and json.loads(val)["id"] == -1 and h.get("origin") == "mallory" and
                  h["braid.dlq.reason"].startswith("quarantined") and h["braid.time.partition"] == "1" and
                  h["braid.time.table"] == "honest" and int(h["braid.time.offset"]) > 0)
        tap.ok(ok and forged_at is not None, "forged: honest.dlq holds the forged record (key, value, headers, reason, "
               "partition, offset)", repr(dl)[:600])
        # a table attached later reads the tiered rows from the lake, in offset
        # order with their append times: the same verdicts, the same dead letter
        deadline = time.time() + 30
        while time.time() < deadline and not tiered(b, "honest", 10001):
            time.sleep(0.3)
        out = psql(pg, "CREATE TABLE late_reader (id bigint, ts bigint) WITH (topic = 'honest', event_time = 'ts', "
                   "watermark_delay = '1 second', max_future_skew = '1 minute')")
        tap.ok("ERR" not in out and "table late_reader: offsets below the lake frontier of kafka.honest read from "
               "the lake" in b.log_tail(400), "forged: a table attached later reads the lake", out + b.log_tail(20))
        marks = [r.split("|") for r in psql(pg, "SHOW WATERMARKS").splitlines() if r.startswith("late_reader|")]
        tap.eq((sum(int(r[5]) for r in marks), [int(r[8]) for r in marks]), (10000, [0, 1, 0]),
               "forged: from the lake too, 10,000 on time and the forged one quarantined")
        dl2 = dead_letters(b.bootstrap, "late_reader.dlq")
        tap.ok(len(dl2) == 1 and dl2[0][0] == b"forger" and dl2[0][2].get("origin") == "mallory" and
               dl2[0][2]["braid.time.offset"] == dl[0][2]["braid.time.offset"],
               "forged: late_reader.dlq holds the original record (read back from the log)", repr(dl2)[:600])
    finally:
        b.close()


def test_idle():
    pg = free_port()
    b = Broker("--pg", "127.0.0.1:%d" % pg)
    try:
        wait_pg(pg)
        out = psql(pg, "CREATE TABLE quiet (ts bigint) WITH (partitions = 2, event_time = 'ts', "
                   "idle_timeout = '2 seconds');"
                   "CREATE TABLE stuck (ts bigint) WITH (partitions = 2, event_time = 'ts');"
                   "CREATE MATERIALIZED VIEW q10 WITH (emit = 'on_window_close') AS SELECT window_start, count(*) AS n "
                   "FROM TUMBLE(quiet, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end;"
                   "CREATE MATERIALIZED VIEW s10 WITH (emit = 'on_window_close') AS SELECT window_start, count(*) AS n "
                   "FROM TUMBLE(stuck, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end")
        tap.ok("ERR" not in out, "idle: tables and views created", out)
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "acks": "all", "log_level": 0})
        for t in ("quiet", "stuck"):
            for s in (1, 2, 3):
                p.produce(t, value=json.dumps({"ts": BASE + s * SEC}), partition=0)
        p.flush(30)
        time.sleep(2.5)  # broker time passes: partition 1 (never written) goes idle on "quiet"
        for t in ("quiet", "stuck"):
            p.produce(t, value=json.dumps({"ts": BASE + 30 * SEC}), partition=0)
        p.flush(30)
        tap.ok(wait_judged(pg, "quiet", 4) and wait_judged(pg, "stuck", 4), "idle: every record judged")
        deadline = time.time() + 10
        while time.time() < deadline and psql(pg, "SELECT * FROM q10") == "":
            time.sleep(0.2)
        tap.eq(psql(pg, "SELECT * FROM q10"), "%d|3" % BASE, "idle: an idle partition stops holding the window back")
        tap.eq(psql(pg, "SELECT * FROM s10"), "", "idle: without idle_timeout the empty partition holds it back")
        marks = [r.split("|") for r in psql(pg, "SHOW WATERMARKS").splitlines() if r.startswith("quiet|")]
        tap.eq([(r[1], r[4]) for r in marks], [("0", "f"), ("1", "t")], "idle: SHOW WATERMARKS marks partition 1 idle")
    finally:
        b.close()


def test_show_and_restore():
    """Options survive a restart (catalog.json) and SHOW WATERMARKS lists the table's partitions."""
    pg = free_port()
    b = Broker("--pg", "127.0.0.1:%d" % pg)
    try:
        wait_pg(pg)
        psql(pg, "CREATE TABLE m (ts bigint) WITH (partitions = 3, event_time = 'ts', watermark_delay = '1 second')")
        p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 0, "acks": "all", "log_level": 0})
        for part in range(3):
            p.produce("m", value=json.dumps({"ts": BASE + (part + 5) * SEC}), partition=part)
        p.flush(30)
        wait_judged(pg, "m", 3)
        want = "\n".join("m|%d|%d|%d|f|1|0|0|0" % (q, BASE + (q + 4) * SEC, BASE + (q + 5) * SEC) for q in range(3))
        tap.eq(psql(pg, "SHOW WATERMARKS"), want, "SHOW WATERMARKS through psql: per-partition watermark and counts")
        b.restart()
        wait_pg(pg)
        wait_judged(pg, "m", 3)
        tap.eq(psql(pg, "SHOW WATERMARKS"), want, "after a restart: options restored, watermarks relearned from the log")
        out = psql(pg, "CREATE TABLE bad (ts text) WITH (event_time = 'ts')")
        tap.ok("must be timestamp" in out, "a bad event_time column is refused", out)
    finally:
        b.close()


tap.run("determinism", test_determinism)
tap.run("forged", test_forged)
tap.run("idle", test_idle)
tap.run("show", test_show_and_restore)
tap.finish()
