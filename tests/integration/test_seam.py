#!/usr/bin/python3
# test_seam.py — SQL tables read the lake below its frontier, then the log
# (src/sql/seam.c). Rows produced with confluent_kafka to a table's topic are
# tiered; retention then deletes the log segments the lake holds; after a
# restart (and through a table attached afresh) the table and a view over it
# still hold every row exactly once. While records are produced and tiering
# commits, tables attached at several moments (each at another frontier) end
# equal to the batch answer. Upsert tables apply lake rows in offset order and
# the tombstones that tiering dead-lettered, read back from the DLQ topic.
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from braidtest import BRAID, Broker, free_port, tap  # noqa: E402
from test_tier import frontier, wait_frontier  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402


def psql(port, sql):
    p = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "braid", "-d", "braid", "-X", "-At",
                        "-F", "|", "-c", sql], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
    return p.stdout.strip() + (("\nERR " + p.stderr.strip()) if p.returncode else "")


def wait_pg(pg, timeout=60):
    """After a restart the SQL port opens once the catalog is loaded."""
    deadline = time.time() + timeout
    while time.time() < deadline and psql(pg, "SELECT 1") != "1":
        time.sleep(0.2)


def topic_alter(b, topic, *cfg):
    args = [BRAID, "topic", "alter", topic, "--bootstrap", b.bootstrap]
    for c in cfg:
        args += ["--config", c]
    return subprocess.run(args, capture_output=True, text=True, timeout=30)


def log_range(bootstrap, topic, parts):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "seam"})
    try:
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in range(parts)}
    finally:
        c.close()


def produce(bootstrap, topic, rows, keyed=False, pause_every=0, pause=0.0):
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all", "log_level": 0,
                  "partitioner": "murmur2_random",
                  # keyless records to a random partition each, not all of a
                  # linger window to one (the test needs every partition fed)
                  "sticky.partitioning.linger.ms": 0})
    for i, r in enumerate(rows):
        key = json.dumps({"id": r["id"]}, separators=(",", ":")) if keyed else None
        while True:
            try:
                p.produce(topic, key=key, value=json.dumps(r))
                break
            except BufferError:
                p.poll(0.05)
        if pause_every and i % pause_every == pause_every - 1:
            p.flush(30)
            time.sleep(pause)
    tap.eq(p.flush(30), 0, "produced %d records to %s" % (len(rows), topic))


def ev_rows(lo, hi):
    return [{"id": i, "grp": "g%d" % (i % 7), "v": i * 3 % 101} for i in range(lo, hi)]


def answer(rows):
    """(count, sum of v, ids) and per-group (grp, n, s) as psql prints them."""
    groups = {}
    for r in rows:
        n, s = groups.get(r["grp"], (0, 0))
        groups[r["grp"]] = (n + 1, s + r["v"])
    per = "\n".join("%s|%d|%d" % (g, n, s) for g, (n, s) in sorted(groups.items()))
    return "%d|%d|%d" % (len(rows), sum(r["v"] for r in rows), len({r["id"] for r in rows})), per


def check_table(pg, table, view, rows, what):
    whole, per = answer(rows)
    tap.eq(psql(pg, "SELECT count(*), sum(v), count(DISTINCT id) FROM %s" % table), whole,
           "%s: table %s holds every row once (count, sum, distinct ids)" % (what, table))
    if view:
        tap.eq(psql(pg, "SELECT grp, n, s FROM %s ORDER BY grp" % view), per,
               "%s: view %s equals the batch answer" % (what, view))


def wait_retention(b, topic, parts, ends, timeout=30):
    deadline = time.time() + timeout
    r = None
    while time.time() < deadline:
        r = log_range(b.bootstrap, topic, parts)
        if all(r[p][0] > 0 for p in range(parts)):
            break
        time.sleep(0.2)
    return r


def phase_retention():
    """Keyless table: tier everything, let retention delete the tiered segments,
    restart: the table and its view are whole, from the lake."""
    pg = free_port()
    b = Broker("--pg", "127.0.0.1:%d" % pg, "--retention-check-ms", 200)
    try:
        tap.eq(psql(pg, "CREATE TABLE ev (id bigint, grp text, v bigint) WITH (partitions = 2, "
                        "commit_interval = '100 ms'); CREATE MATERIALIZED VIEW agg AS "
                        "SELECT grp, count(*) AS n, sum(v) AS s FROM ev GROUP BY grp"),
               "CREATE TABLE\nCREATE MATERIALIZED VIEW", "keyless table ev (2 partitions) and a view over it")
        r = topic_alter(b, "ev", "segment.bytes=4096", "retention.ms=1")
        tap.eq(r.returncode, 0, "tiny segments and retention.ms=1 on the table's topic")
        rows = ev_rows(0, 4000)
        produce(b.bootstrap, "ev", rows)
        ends = {p: hi for p, (lo, hi) in log_range(b.bootstrap, "ev", 2).items()}
        tap.eq(sum(ends.values()), len(rows), "the log holds every record")
        f = wait_frontier(b, "ev", ends, timeout=60)
        tap.eq(f, ends, "the lake frontier reached the log end")
        rng = wait_retention(b, "ev", 2, ends)
        tap.ok(all(rng[p][0] > 0 for p in range(2)),
               "retention deleted the tiered segments of both partitions (log starts %s)" % rng, rng)
        check_table(pg, "ev", "agg", rows, "before restart")

        b.restart()
        wait_pg(pg)
        check_table(pg, "ev", "agg", rows, "after restart (log start past 0)")
        tap.ok("read from the lake" in open(b.logpath).read(), "the broker log says the lake was read")

        # a table attached now reads the same (lake + log)
        tap.eq(psql(pg, "CREATE TABLE ev2 (id bigint, grp text, v bigint) WITH (topic = 'ev')"), "CREATE TABLE",
               "a second table attached to the same topic")
        more = ev_rows(4000, 4500)
        produce(b.bootstrap, "ev", more)
        # the server's SQL session follows the log on a 100 ms timer: wait
        # (bounded) until the table has caught up, then check everything
        whole, _ = answer(rows + more)
        deadline = time.time() + 20
        while time.time() < deadline and psql(pg, "SELECT count(*), sum(v), count(DISTINCT id) FROM ev2") != whole:
            time.sleep(0.2)
        check_table(pg, "ev2", None, rows + more, "attached after retention, then produced")
        check_table(pg, "ev", "agg", rows + more, "restarted table followed the log")
        tap.eq(b.stop(), 0, "braid serve stops cleanly")

        # an embedded session (braid sql) rebuilds from lake + log the same way
        p = subprocess.run([BRAID, "sql", "--data", b.data, "--format", "csv", "-c",
                            "SELECT count(*), sum(v), count(DISTINCT id) FROM ev"],
                           capture_output=True, text=True, timeout=60)
        whole, _ = answer(rows + more)
        tap.eq(p.stdout.strip().splitlines()[-1].replace(",", "|") if p.stdout.strip() else p.stderr, whole,
               "braid sql session: every row once")
    finally:
        b.close()


def phase_seam():
    """While records are produced and tiering commits every 100 ms, tables
    attached at several moments start at different frontiers; each ends equal
    to the batch answer over everything produced."""
    pg = free_port()
    b = Broker("--pg", "127.0.0.1:%d" % pg)
    try:
        tap.eq(psql(pg, "CREATE TABLE src (id bigint, grp text, v bigint) WITH (partitions = 3, "
                        "commit_interval = '100 ms')"), "CREATE TABLE", "table src (3 partitions)")
        rows = ev_rows(0, 12000)
        t = threading.Thread(target=produce, args=(b.bootstrap, "src", rows), kwargs=dict(pause_every=200, pause=0.25))
        t.start()
        fronts, k = [], 0
        while t.is_alive() or k < 2:
            f = frontier(b.data, "src")
            fronts.append(sum((f or {}).values()))
            r = psql(pg, "CREATE TABLE s%d (id bigint, grp text, v bigint) WITH (topic = 'src'); "
                         "CREATE MATERIALIZED VIEW a%d AS SELECT grp, count(*) AS n, sum(v) AS s FROM s%d GROUP BY grp"
                     % (k, k, k))
            tap.eq(r, "CREATE TABLE\nCREATE MATERIALIZED VIEW", "attached table s%d at lake frontier ~%d" % (k, fronts[-1]))
            k += 1
            time.sleep(0.4)
        t.join()
        ends = {p: hi for p, (lo, hi) in log_range(b.bootstrap, "src", 3).items()}
        wait_frontier(b, "src", ends, timeout=60)
        # the views follow the log on a 100 ms timer: wait (bounded) for all
        whole, _ = answer(rows)
        deadline = time.time() + 20
        while time.time() < deadline and any(
                psql(pg, "SELECT count(*), sum(v), count(DISTINCT id) FROM s%d" % i) != whole for i in range(k)):
            time.sleep(0.2)
        tap.ok(len({x for x in fronts if x > 0}) >= 2, "tables were attached at different non-zero frontiers", fronts)
        for i in range(k):
            check_table(pg, "s%d" % i, "a%d" % i, rows, "seam at frontier ~%d" % fronts[i])
        b.restart()
        wait_pg(pg)
        check_table(pg, "s%d" % (k - 1), "a%d" % (k - 1), rows, "after restart")
    finally:
        b.close()


def phase_upsert():
    """An upsert table uses the lake (rows applied per key in offset order);
    tombstones, dead-lettered by tiering, come back from the DLQ topic."""
    pg = free_port()
    b = Broker("--pg", "127.0.0.1:%d" % pg, "--retention-check-ms", 200)
    try:
        tap.eq(psql(pg, "CREATE TABLE u (id bigint PRIMARY KEY, grp text, v bigint) WITH (partitions = 2, "
                        "commit_interval = '100 ms')"), "CREATE TABLE", "upsert table u")
        tap.eq(topic_alter(b, "u", "segment.bytes=4096", "retention.ms=1").returncode, 0, "tiny segments on u")
        final = {}
        rows = []
        for rnd in range(4):  # each key updated four times: the last value wins
            for i in range(600):
                r = {"id": i, "grp": "g%d" % ((i + rnd) % 5), "v": i * 7 + rnd}
                rows.append(r)
                final[i] = r
        produce(b.bootstrap, "u", rows, keyed=True)
        ends = {p: hi for p, (lo, hi) in log_range(b.bootstrap, "u", 2).items()}
        tap.eq(wait_frontier(b, "u", ends, timeout=60), ends, "u: frontier reached the log end")
        rng = wait_retention(b, "u", 2, ends)
        tap.ok(all(rng[p][0] > 0 for p in range(2)), "u: retention deleted tiered segments %s" % rng, rng)
        b.restart()
        wait_pg(pg)
        check_table(pg, "u", None, list(final.values()), "upsert after restart")
        tap.eq(psql(pg, "SELECT v FROM u WHERE id = 17"), str(17 * 7 + 3), "upsert: the last update of a key wins")

        # tombstones are dead-lettered by tiering; the seam reads them back from the DLQ topic
        tap.eq(psql(pg, "DELETE FROM u WHERE id = 5"), "DELETE 1", "DELETE writes a tombstone")
        p = Producer({"bootstrap.servers": b.bootstrap, "partitioner": "murmur2_random", "acks": "all",
                      "log_level": 0})
        p.produce("u", key='{"id":6}', value=None)  # tombstone, JSON object key
        p.produce("u", key='7', value=None)  # tombstone, bare key
        p.produce("u", key='{"id":8}', value="not json")  # dead-lettered and skipped
        p.produce("u", key='{"id":9}', value=json.dumps({"id": 9, "grp": "g9", "v": 999}))
        tap.eq(p.flush(30), 0, "produced two tombstones, a bad record and an upsert")
        for k in (5, 6, 7):
            del final[k]
        final[9] = {"id": 9, "grp": "g9", "v": 999}
        ends = {p_: hi for p_, (lo, hi) in log_range(b.bootstrap, "u", 2).items()}
        tap.eq(wait_frontier(b, "u", ends, timeout=60), ends, "u: the tombstones passed the frontier (dead-lettered)")
        check_table(pg, "u", None, list(final.values()), "upsert before the second restart")
        n_lake = open(b.logpath).read().count("table u: offsets below the lake frontier")
        b.restart()
        wait_pg(pg)
        check_table(pg, "u", None, list(final.values()), "upsert with tombstones after restart")
        log = open(b.logpath).read()
        tap.ok(log.count("table u: offsets below the lake frontier") > n_lake and "the lake is not used" not in log,
               "the upsert table was rebuilt from lake rows + dead-lettered tombstones", b.log_tail(10))
        rng = log_range(b.bootstrap, "u", 2)
        tap.ok(all(rng[p_][0] > 0 for p_ in range(2)), "u: the log start is still past 0 %s" % rng, rng)
    finally:
        b.close()


def main():
    tap.run("retention", phase_retention)
    tap.run("seam", phase_seam)
    tap.run("upsert", phase_upsert)
    tap.finish()


if __name__ == "__main__":
    main()
