#!/usr/bin/python3
# test_view_restart.py — materialized views survive kill -9 (src/sql/checkpoint.c).
# Two tables over topics (ev: keyless events, 4 partitions; dim: an upsert table)
# and two views: a group-by (agg) and a join + group-by (jagg). braid runs with a
# short checkpoint interval. The process is killed with SIGKILL
#   - 10 times while it starts up over a large lake backlog (tables loading from
#     the lake, views loading from their checkpoint or rebuilding), and
#   - 10 times while records are produced live (events, and dim upserts that
#     change labels: retractions across the checkpoint's offsets);
# after every restart both views equal the batch SELECT over the tables. A
# SUBSCRIBE client (psql, COPY out) reconnects after every restart: each
# connection's stream is a snapshot at one frontier then deltas whose
# frontiers ("ev:0=..,1=..") never go back, also across reconnects, and the
# last connection's snapshot + deltas equal the view. A corrupt checkpoint is
# detected, logged, and the views rebuild from lake + log.
import json
import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from braidtest import Broker, free_port, tap  # noqa: E402

from confluent_kafka import Producer  # noqa: E402

PARTS = 4
GROUPS = 13
AGG_VIEW = "SELECT grp, count(*) AS n, sum(v) AS s FROM ev GROUP BY grp"
AGG_BATCH = "SELECT grp, count(*), sum(v) FROM ev GROUP BY grp ORDER BY grp"
JOIN_VIEW = ("SELECT d.label, count(*) AS n, sum(e.v) AS s FROM ev e JOIN dim d ON e.grp = d.grp "
             "GROUP BY d.label")
JOIN_BATCH = ("SELECT d.label, count(*), sum(e.v) FROM ev e JOIN dim d ON e.grp = d.grp "
              "GROUP BY d.label ORDER BY d.label")


def psql(port, sql, timeout=120):
    p = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "braid", "-d", "braid", "-X", "-At",
                        "-F", "|", "-c", sql], capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
    return p.stdout.strip() + (("\nERR " + p.stderr.strip()) if p.returncode else "")


def wait_pg(pg, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if psql(pg, "SELECT 1", timeout=20) == "1":
                return True
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.1)
    return False


def spawn(b):
    """Starts braid without waiting for its ports (so a kill can land during start-up)."""
    pg = ["--pg", "127.0.0.1:%d" % b.pg]
    args = [b.bin, "serve", "--data", b.data, "--kafka", b.bootstrap] + pg + b.extra
    log = open(b.logpath, "ab")
    log.write(("\n==== spawn %d\n" % b.starts).encode())
    log.flush()
    b.stopping = False
    b.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    b.starts += 1


class Producing:
    """Produces events (and now and then a dim upsert) until stopped; pause()
    waits until everything sent is acknowledged. Records lost to a kill are
    retried by librdkafka; duplicates are fine (the views and the batch query
    read the same log)."""

    def __init__(self, bootstrap, start_id):
        self.p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "acks": "all", "log_level": 0,
                           "partitioner": "murmur2_random", "sticky.partitioning.linger.ms": 0,
                           "message.timeout.ms": 120000, "retries": 1000000,
                           "queue.buffering.max.messages": 20000})
        self.next = start_id
        self.run = threading.Event()
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        rnd = random.Random(7)
        while not self.stop:
            if not self.run.is_set():
                time.sleep(0.02)
                continue
            for _ in range(20):  # about 2,000 events/s
                i = self.next
                self.next += 1
                self.send("ev", None, {"id": i, "grp": "g%d" % (i % GROUPS), "v": i * 7 % 1009})
                if i % 97 == 0:
                    g = rnd.randrange(GROUPS)
                    # the key as SQL writes it, murmur2-partitioned: one key, one partition
                    self.send("dim", json.dumps({"grp": "g%d" % g}, separators=(",", ":")),
                              {"grp": "g%d" % g, "label": "L%d" % rnd.randrange(5)})
            self.p.poll(0)
            time.sleep(0.01)

    def send(self, topic, key, val):
        while True:
            try:
                self.p.produce(topic, key=key, value=json.dumps(val))
                return
            except BufferError:
                self.p.poll(0.05)

    def pause(self):
        self.run.clear()
        time.sleep(0.05)
        return self.p.flush(120)

    def close(self):
        self.stop = True
        self.t.join()
        self.p.flush(60)


class Subscriber:
    """psql running COPY (SUBSCRIBE view) TO STDOUT, collecting lines until braid goes away."""

    def __init__(self, pg, view):
        self.lines = []
        self.proc = subprocess.Popen(["stdbuf", "-oL", "psql", "-X", "-h", "127.0.0.1", "-p", str(pg), "-U", "braid",
                                      "-d", "braid", "-c", "COPY (SUBSCRIBE %s) TO STDOUT" % view],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.t = threading.Thread(target=self.read, daemon=True)
        self.t.start()

    def read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait()
        self.t.join(5)


def parse_frontier(text):
    """'ev:0=1,1=2' -> {('ev',0):1, ...}"""
    out = {}
    for part in text.split(";"):
        if ":" not in part:
            return None
        t, offs = part.split(":", 1)
        for kv in offs.split(","):
            p, o = kv.split("=")
            out[(t, int(p))] = int(o)
    return out


def frontier_le(a, b):
    return all(b.get(k, 0) >= v for k, v in a.items())


def check_stream(sessions, final_rows):
    """Each session: snapshot rows share one frontier; frontiers never go back
    within and across sessions; the last session adds up to final_rows."""
    prev = {}
    ok = True
    why = ""
    for n, lines in enumerate(sessions):
        if not lines:
            continue
        first = None
        for ln in lines:
            f = ln.split("\t")
            fr = parse_frontier(f[0])
            if fr is None:
                return False, "session %d: frontier %r is not offsets" % (n, f[0])
            if not frontier_le(prev, fr):
                ok, why = False, "session %d: frontier %s after %s" % (n, f[0], prev)
                break
            prev = fr
            if first is None:
                first = fr
        if not ok:
            break
    if ok and sessions and sessions[-1]:
        acc = {}
        for ln in sessions[-1]:
            f = ln.split("\t")
            key = "|".join(f[2:])
            acc[key] = acc.get(key, 0) + int(f[1])
        rows = sorted(k for k, w in acc.items() for _ in range(w) if w > 0)
        if any(w < 0 for w in acc.values()) or rows != sorted(final_rows):
            ok, why = False, "last session adds up to %s, the view holds %s" % (rows[:5], sorted(final_rows)[:5])
    return ok, why


def views_match(pg, what):
    a, ab = psql(pg, "SELECT grp, n, s FROM agg ORDER BY grp"), psql(pg, AGG_BATCH)
    j, jb = psql(pg, "SELECT label, n, s FROM jagg ORDER BY label"), psql(pg, JOIN_BATCH)
    good = a == ab and j == jb and a and "ERR" not in a + j
    tap.ok(good, "%s: both views equal the batch answer" % what,
           "agg %r\nbatch %r\njagg %r\nbatch %r" % (a[:300], ab[:300], j[:300], jb[:300]))
    return good


def main():
    pg = free_port()
    b = Broker("--checkpoint-interval", "300ms", "--checkpoint-records", "20000", "--pg", "127.0.0.1:%d" % pg)
    b.pg = pg
    b.bin = os.environ.get("BRAID_BIN") or os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "build", "braid")
    try:
        tap.eq(psql(pg, "CREATE TABLE ev (id bigint, grp text, v bigint) WITH (partitions = %d, "
                        "commit_interval = '200 ms'); CREATE TABLE dim (grp text PRIMARY KEY, label text) "
                        "WITH (partitions = 2, commit_interval = '200 ms')" % PARTS),
               "CREATE TABLE\nCREATE TABLE", "tables ev (keyless, 4 partitions) and dim (upsert)")
        vals = ",".join("('g%d','L%d')" % (g, g % 5) for g in range(GROUPS))
        tap.eq(psql(pg, "INSERT INTO dim VALUES %s" % vals), "INSERT 0 %d" % GROUPS, "dim rows")
        tap.eq(psql(pg, "CREATE MATERIALIZED VIEW agg AS %s; CREATE MATERIALIZED VIEW jagg AS %s" %
                    (AGG_VIEW, JOIN_VIEW)), "CREATE MATERIALIZED VIEW\nCREATE MATERIALIZED VIEW",
               "a group-by view and a join view")
        # the lake backlog
        prod = Producing(b.bootstrap, 0)
        backlog = int(os.environ.get("VIEW_RESTART_ROWS", "40000"))
        prod.run.set()
        t0 = time.time()
        while prod.next < backlog and time.time() - t0 < 60:
            time.sleep(0.1)
        tap.eq(prod.pause(), 0, "produced a backlog of %d events" % prod.next)
        time.sleep(1.0)  # let tiering commit most of it
        b.stop()
        t = time.time()
        b.start()
        tap.ok(wait_pg(pg), "clean restart over the backlog")
        startup = time.time() - t
        tap.note("start-up over the backlog: %.2fs" % startup)
        views_match(pg, "after a clean restart")

        # kill -9 during start-up (tables loading from the lake, views from their checkpoint)
        rnd = random.Random(11)
        for k in range(10):
            b.kill()
            spawn(b)
            time.sleep(rnd.uniform(0.02, max(0.1, startup)))
            b.kill()
            b.start()
            if not wait_pg(pg):
                tap.ok(False, "backfill kill %d: restarted" % (k + 1), b.log_tail())
                return
            if not views_match(pg, "backfill kill %d" % (k + 1)):
                return

        # kill -9 while records are produced live, with subscribers reconnecting
        sessions = []
        sub = Subscriber(pg, "agg")
        prod.run.set()
        for k in range(10):
            time.sleep(rnd.uniform(0.3, 1.2))
            b.kill()
            sub.close()
            sessions.append(sub.lines)
            b.start()
            if not wait_pg(pg):
                if os.environ.get("BRAID_TEST_GDB"):
                    os.system("gdb -batch -p %d -ex 'thread apply all bt 12' 2>/dev/null | grep -E '^#|^Thread'"
                              % b.proc.pid)
                tap.ok(False, "tail kill %d: restarted" % (k + 1), b.log_tail())
                return
            sub = Subscriber(pg, "agg")
            if k % 3 == 2 or k == 9:
                prod.pause()
                time.sleep(0.4)  # the 100 ms follower reads what was acknowledged
                if not views_match(pg, "tail kill %d (%d events produced)" % (k + 1, prod.next)):
                    return
                prod.run.set()
            else:
                time.sleep(0.3)
        tap.eq(prod.pause(), 0, "every live record acknowledged")
        time.sleep(0.5)
        views_match(pg, "after the live kills")
        final = psql(pg, "SELECT grp, n, s FROM agg ORDER BY grp").splitlines()
        time.sleep(0.3)
        sub.close()
        sessions.append(sub.lines)
        good, why = check_stream(sessions, final)
        tap.ok(good, "SUBSCRIBE across %d reconnects: snapshot + deltas, frontiers never go back, last stream "
               "adds up to the view" % (len(sessions) - 1), why)
        tap.ok(all(s and s[0].startswith("ev:0=") for s in sessions if s),
               "SUBSCRIBE _frontier is the view's input offsets (ev:0=..,1=..)", sessions[-1][:2])
        prod.close()

        with open(b.logpath) as f:
            log = f.read()
        loaded = log.count("view agg: loaded from its checkpoint")
        tap.ok(loaded >= 10, "views restarted from their checkpoint (agg %d times of %d starts)" % (loaded, b.starts))

        # a corrupt checkpoint: detected, logged, views rebuild and are right
        b.stop()
        path = os.path.join(b.data, "sql", "views.ckpt")
        with open(path, "r+b") as f:
            f.seek(os.path.getsize(path) // 2)
            c = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([c[0] ^ 0x40]))
        b.start()
        tap.ok(wait_pg(pg), "restart over a corrupt checkpoint")
        with open(b.logpath) as f:
            tail = f.read()[len(log):]
        tap.ok("view checkpoint unusable" in tail and "checksum" in tail,
               "the corrupt checkpoint is reported (checksum) and not used",
               "\n".join(ln for ln in tail.splitlines() if "checkpoint" in ln)[:500])
        views_match(pg, "after a corrupt checkpoint")
    finally:
        b.close()


if __name__ == "__main__":
    tap.run("view restart", main)
    tap.finish()
