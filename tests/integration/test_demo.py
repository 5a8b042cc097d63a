# test_demo.py — `braid serve --demo` (make run): the seeded Nexmark generator
# produces persons/auctions/bids into topics (read back with kcat), the demo
# views have rows that agree with the records in the topics and with the same
# SQL run as a batch query, two servers with the same seed produce the same
# records and views byte for byte, and a restart on the same data directory
# continues the sequence (tables and views persist; views rebuild from the log).
import json
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep tests/ free of __pycache__

from braidtest import Broker, free_port, tap

EVENTS = 5000  # 100 persons, 300 auctions, 4600 bids (1:3:46)
ARGS = ["--demo-seed", "7", "--demo-rate", "2000", "--demo-events", str(EVENTS), "--demo-start-ms", "1700000000000"]


def psql(port, sql):
    for _ in range(100):  # the pg listener opens just after the Kafka port the helper waits for
        r = subprocess.run(["psql", "-X", "-At", "-F", ",", "-h", "127.0.0.1", "-p", str(port), "-U", "t", "-d",
                            "braid", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True, timeout=30)
        if "Connection refused" not in r.stderr:
            break
        time.sleep(0.1)
    if r.returncode:
        raise RuntimeError("psql: " + r.stderr)
    return r.stdout.strip()


def records(b, topic, want):
    """The topic's records as (key, value) lines, waiting until `want` are there."""
    deadline = time.time() + 30
    while True:
        r = subprocess.run(["kcat", "-b", b.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
                            "-f", "%k\t%s\n"], capture_output=True, text=True, timeout=30)
        lines = [l for l in r.stdout.split("\n") if l]
        if len(lines) >= want or time.time() > deadline:
            return lines
        time.sleep(0.2)


def start(*extra):
    pg = free_port()
    b = Broker("--pg", "127.0.0.1:%d" % pg, "--demo", *ARGS, *extra)
    b.pg = pg
    return b


def views(b):
    return {v: psql(b.pg, "SELECT * FROM %s ORDER BY 1" % v)
            for v in ("bids_per_channel", "bids_per_10s", "category_volume")}


def wait_views(b):
    deadline = time.time() + 30
    while time.time() < deadline:
        if psql(b.pg, "SELECT sum(bids) FROM bids_per_channel") == "4600":
            return True
        time.sleep(0.2)
    return False


a = start()
try:
    tap.ok(wait_views(a), "the demo views count all 4600 bids")
    got = {t: records(a, t, n) for t, n in (("persons", 100), ("auctions", 300), ("bids", 4600))}
    tap.eq({t: len(v) for t, v in got.items()}, {"persons": 100, "auctions": 300, "bids": 4600},
           "kcat reads 100 persons, 300 auctions, 4600 bids (1:3:46) from the topics")
    bids = [json.loads(l.split("\t", 1)[1]) for l in got["bids"]]
    auctions = {json.loads(l.split("\t", 1)[1])["id"]: json.loads(l.split("\t", 1)[1]) for l in got["auctions"]}
    tap.ok(all(l.split("\t", 1)[0] == str(json.loads(l.split("\t", 1)[1])["auction"]) for l in got["bids"]),
           "bids are keyed by auction id")
    # the views, recomputed from the records kcat read
    per_channel = {}
    for x in bids:
        n, top = per_channel.get(x["channel"], (0, 0))
        per_channel[x["channel"]] = (n + 1, max(top, x["price"]))
    want = "\n".join("%s,%d,%d" % (ch, n, top) for ch, (n, top) in sorted(per_channel.items()))
    v = views(a)
    tap.eq(v["bids_per_channel"], want, "bids_per_channel equals the count/max over the bids topic")
    per_cat = {}
    for x in bids:
        cat = auctions[x["auction"]]["category"]
        n, vol, top = per_cat.get(cat, (0, 0, 0))
        per_cat[cat] = (n + 1, vol + x["price"], max(top, x["price"]))
    want = "\n".join("%d,%d,%d,%d" % (c, n, vol, top) for c, (n, vol, top) in sorted(per_cat.items()))
    tap.eq(v["category_volume"], want, "category_volume (bids JOIN auctions) equals the join of the two topics")
    tap.eq(v["bids_per_10s"], "1700000000000,4600,%d" % sum(x["price"] for x in bids),
           "bids_per_10s: 2.3 s of event time fall in one 10 s window")
    batch = psql(a.pg, "SELECT a.category, count(*), sum(b.price), max(b.price) FROM bids b JOIN auctions a "
                       "ON a.id = b.auction GROUP BY a.category ORDER BY 1")
    tap.eq(batch, v["category_volume"], "the view equals the same SQL run as a batch query")
    tap.eq(psql(a.pg, "SELECT count(*) FROM persons"), "100", "the persons table has the 100 persons")

    b = start()
    try:
        tap.ok(wait_views(b), "a second server with the same seed counts 4600 bids too")
        same = all(records(b, t, n) == got[t] for t, n in (("persons", 100), ("auctions", 300), ("bids", 4600)))
        tap.ok(same, "same seed, start and rate: the same records, byte for byte")
        tap.eq(views(b), v, "and the same view contents")
    finally:
        b.close()

    # a restart on the same data directory continues the sequence: with the
    # same --demo-events nothing new is produced and the kept views count the same
    a.stop()
    a.start()
    tap.ok(wait_views(a), "after a restart the views (rebuilt from the log) count the 4600 bids again")
    time.sleep(0.5)
    tap.eq(len(records(a, "bids", 4600)), 4600, "and the restarted generator added nothing past --demo-events")
    tap.eq(views(a), v, "the restarted views equal the first run's")
finally:
    a.close()
tap.finish()
