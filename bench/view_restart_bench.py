#!/usr/bin/python3
# view_restart_bench.py — what a view checkpoint saves at restart: N events in a
# 4-partition table, a group-by view and a join view (whose state holds every
# event), then 3 times: clean stop (writes the checkpoint), start with it, and
# start after deleting it (views rebuild from the tables). Prints each start's
# time to the first answered SELECT and the checkpoint's size and write time.
#   /usr/bin/python3 bench/view_restart_bench.py [N=100000]
import os, sys, time, re
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "integration"))
from braidtest import Broker, free_port
from test_view_restart import psql, wait_pg, JOIN_VIEW, AGG_VIEW
pg = free_port()
b = Broker("--pg", "127.0.0.1:%d" % pg, "--checkpoint-interval", "0", "--log-level", "debug")
psql(pg, "CREATE TABLE ev (id bigint, grp text, v bigint) WITH (partitions = 4, commit_interval = '200 ms'); CREATE TABLE dim (grp text PRIMARY KEY, label text) WITH (partitions = 2)")
psql(pg, "INSERT INTO dim VALUES " + ",".join("('g%d','L%d')" % (g, g % 5) for g in range(13)))
psql(pg, "CREATE MATERIALIZED VIEW agg AS %s; CREATE MATERIALIZED VIEW jagg AS %s" % (AGG_VIEW, JOIN_VIEW))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
import json
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 20, "acks": "all", "log_level": 0, "partitioner": "murmur2_random", "sticky.partitioning.linger.ms": 0})
for i in range(N):
    while True:
        try:
            p.produce("ev", value=json.dumps({"id": i, "grp": "g%d" % (i % 13), "v": i * 7 % 1009})); break
        except BufferError:
            p.poll(0.05)
p.flush(120)
time.sleep(2)
psql(pg, "SELECT 1")
for rep in range(3):
    t = time.time(); b.stop(); stop_s = time.time() - t
    t = time.time(); b.start(); wait_pg(pg); start_ck = time.time() - t
    os.unlink(os.path.join(b.data, "sql", "views.ckpt"))
    b.kill()
    t = time.time(); b.start(); wait_pg(pg); start_rebuild = time.time() - t
    print("rep %d: stop (incl. checkpoint) %.2fs, start with checkpoint %.2fs, start rebuilding views %.2fs" % (rep, stop_s, start_ck, start_rebuild))
log = open(b.logpath).read()
print("\n".join(re.findall(r"view checkpoint: 2 views.*", log)[-3:]))
print("file bytes", os.path.getsize(os.path.join(b.data, "sql", "views.ckpt")) if os.path.exists(os.path.join(b.data, "sql", "views.ckpt")) else None)
b.close()
