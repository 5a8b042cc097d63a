#!/usr/bin/python3
# test_sql_cli.py — `braid sql` and tables backed by topics: a first session
# creates an upsert table, inserts and creates a view; a second session sees the
# view caught up; `braid serve` restores the view, Kafka clients (librdkafka via
# confluent_kafka) produce JSON rows, upserts and tombstones to the table's topic,
# and psql sees them in the table and the view; `braid sql` refuses the data dir
# while the server holds it; after the server stops, `braid sql` sees it all.
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from braidtest import BRAID, Broker, free_port, tap  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402


def bsql(data, *args, stdin=None):
    p = subprocess.run([BRAID, "sql", "--data", data] + list(args), input=stdin, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def psql(port, sql):
    p = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "braid", "-d", "braid", "-X", "-At",
                        "-F", "|", "-c", sql], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
    return p.stdout.strip() + (("\nERR " + p.stderr.strip()) if p.returncode else "")


def main():
    pg = free_port()
    b = Broker("--pg", "127.0.0.1:%d" % pg, start=False)
    data = b.data

    rc, out, err = bsql(data, "-c",
                        "CREATE TABLE users (id bigint PRIMARY KEY, name text, city text, score double precision) "
                        "WITH (partitions = 2, commit_interval = '500 ms');"
                        "INSERT INTO users VALUES (1, 'ada', 'paris', 1.5), (2, 'bob', 'oslo', 2), (3, 'cy', 'paris', NULL);"
                        "CREATE MATERIALIZED VIEW per_city AS SELECT city, count(*) AS n FROM users GROUP BY city;"
                        "SELECT * FROM per_city ORDER BY city")
    want = ("CREATE TABLE\nINSERT 0 3\nCREATE MATERIALIZED VIEW\n"
            " city  | n \n-------+---\n oslo  | 1\n paris | 2\n(2 rows)\n\n")
    tap.eq((rc, out, err), (0, want, ""), "braid sql -c: create table, insert, create view, aligned output")

    topic = json.load(open(os.path.join(data, "log", "users", "topic.json")))
    tap.ok("users" in json.dumps(topic) and "json" in json.dumps(topic), "the table's topic exists with lake mode json",
           topic)

    # a second session: the view persisted and follows new writes (upsert: 2 moves to paris)
    rc, out, err = bsql(data, "--format", "csv", "-c",
                        "INSERT INTO users VALUES (2, 'bob', 'paris', 2), (4, 'di', 'rome', 4)",
                        "-c", "SELECT * FROM per_city ORDER BY city")
    tap.eq((rc, out, err), (0, "city,n\nparis,3\nrome,1\n", ""), "second session: the view is caught up (csv)")

    rc, out, err = bsql(data, "--format", "json", "-c", "SELECT id, name, score FROM users WHERE id <= 2 ORDER BY id")
    tap.eq([json.loads(l) for l in out.splitlines()],
           [{"id": 1, "name": "ada", "score": 1.5}, {"id": 2, "name": "bob", "score": 2.0}], "json lines output")

    rc, out, err = bsql(data, "--format", "csv", "-c", "SHOW TABLES; DESCRIBE per_city; SELECT 1 AS one; DESCRIBE users")
    tap.eq((rc, out, err), (0, "name\nusers\ncolumn_name,column_type\ncity,text\nn,bigint\none\n1\n"
                               "column_name,column_type\nid,bigint\nname,text\ncity,text\nscore,double precision\n", ""),
           "DESCRIBE between other statements of one -c runs in its place")

    rc, out, err = bsql(data, stdin="SELECT count(*) FROM users;\nSELECT nosuch FROM users;\nSELECT 1;\n")
    tap.ok(rc == 1 and " count \n-------\n     4\n(1 row)" in out and "ERROR:" in err and "nosuch" in err,
           "statements from stdin stop at the first error", (rc, out, err))

    rc, out, err = bsql(data, "-c", "DELETE FROM users WHERE id = 4; SELECT * FROM per_city ORDER BY city")
    tap.ok(rc == 0 and "rome" not in out and " paris | 3" in out, "DELETE writes a tombstone; the view follows", out)

    # the server takes over the data directory and restores the view
    b.start()
    try:
        rc, out, err = bsql(data, "-c", "SELECT 1")
        tap.ok(rc == 3 and "held by a running braid server" in err and ("psql -h 127.0.0.1 -p %d" % pg) in err
               and out == "", "braid sql refuses while braid serve holds the data dir and says how to connect",
               (rc, out, err))

        tap.eq(psql(pg, "SELECT city, n FROM per_city ORDER BY city"), "paris|3", "psql: the view restored by serve")

        p = Producer({"bootstrap.servers": b.bootstrap, "partitioner": "murmur2_random", "acks": "all"})
        p.produce("users", key=json.dumps({"id": 5}, separators=(",", ":")),
                  value=json.dumps({"id": 5, "name": "eve", "city": "oslo", "score": 5}))
        p.produce("users", key='{"id":1}', value=json.dumps({"id": 1, "name": "ada", "city": "oslo", "score": 9}))
        p.produce("users", key='{"id":3}', value=None)  # tombstone
        p.produce("users", key='{"id":6}', value="not json")  # skipped with a warning
        tap.eq(p.flush(30), 0, "confluent_kafka produced JSON rows, an upsert and a tombstone")

        # braid's SQL writes and librdkafka's murmur2 partitioner agree: each key lives in one partition
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "check", "enable.auto.commit": False})
        c.assign([TopicPartition("users", p_, 0) for p_ in (0, 1)])
        where, seen, deadline = {}, 0, time.time() + 20
        while seen < 10 and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            seen += 1
            where.setdefault(m.key(), set()).add(m.partition())
        c.close()
        tap.ok(seen == 10 and all(len(v) == 1 for v in where.values()) and len({min(v) for v in where.values()}) == 2,
               "each key's records (SQL's and the producer's) are in one partition; both partitions used", where)

        tap.eq(psql(pg, "SELECT id, name, city FROM users ORDER BY id"), "1|ada|oslo\n2|bob|paris\n5|eve|oslo",
               "psql: produced records are rows (upsert replaced 1, tombstone deleted 3)")
        tap.eq(psql(pg, "SELECT city, n FROM per_city ORDER BY city"), "oslo|2\nparis|1",
               "psql: the view follows the produced records")

        # SHOW TOPICS: the log's topics, what they hold and how far the lake is
        deadline, rows = time.time() + 30, {}
        while time.time() < deadline:
            rows = {r.split("|")[0]: r.split("|") for r in psql(pg, "SHOW TOPICS").splitlines()}
            u = rows.get("users")
            if u and u[6] == "0" and u[7] not in ("", "0"):
                break
            time.sleep(0.3)
        u = rows.get("users", [])
        tap.ok(len(u) == 9 and u[1:3] == ["2", "json"] and u[3] == u[4] and u[5] == u[4] and u[6] == "0"
               and int(u[7]) >= 1 and u[8] == "t",
               "SHOW TOPICS: users has 2 partitions, lake mode json, the lake caught up, the non-JSON record "
               "dead-lettered, backs a table", rows)
        tap.ok(rows.get("users.dlq", ["", "", "", "", "", "", "", "", "?"])[8] == "f",
               "SHOW TOPICS: the dead-letter topic is listed and backs no table", rows)

        # a table created over pgwire is a topic too
        tap.eq(psql(pg, "CREATE TABLE clicks (page text, ms bigint); "
                        "CREATE MATERIALIZED VIEW hot AS SELECT page, count(*) AS n FROM clicks GROUP BY page"),
               "CREATE TABLE\nCREATE MATERIALIZED VIEW", "psql: CREATE TABLE and a view over it")
        for i in range(5):
            p.produce("clicks", value=json.dumps({"page": "/a" if i % 2 else "/b", "ms": i}))
        p.flush(30)
        deadline = time.time() + 20  # the server's views follow the log on a 100 ms timer
        while time.time() < deadline and psql(pg, "SELECT page, n FROM hot ORDER BY page") != "/a|2\n/b|3":
            time.sleep(0.2)
        tap.eq(psql(pg, "SELECT page, n FROM hot ORDER BY page"), "/a|2\n/b|3", "psql: view over produced clicks")
        tap.eq(psql(pg, "INSERT INTO clicks VALUES ('/a', 9); SELECT n FROM hot WHERE page = '/a'"), "INSERT 0 1\n3",
               "psql: INSERT goes through the topic and the view sees it at once")
    finally:
        tap.eq(b.stop(), 0, "braid serve stops cleanly")

    rc, out, err = bsql(data, "-c", "SELECT city, n FROM per_city ORDER BY city; SELECT page, n FROM hot ORDER BY page")
    tap.eq((rc, out), (0, " city  | n \n-------+---\n oslo  | 2\n paris | 1\n(2 rows)\n\n"
                          " page | n \n------+---\n /a   | 3\n /b   | 3\n(2 rows)\n\n"),
           "after the server: braid sql sees both views with everything written")
    b.close()
    tap.finish()


if __name__ == "__main__":
    main()
