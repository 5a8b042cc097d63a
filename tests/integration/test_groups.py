#!/usr/bin/python3
# test_groups.py — consumer groups and committed offsets with real clients:
# librdkafka (python3-confluent-kafka) groups that rebalance as members join and
# leave, offsets that survive a broker restart, kafka-python's KafkaConsumer and
# kcat -G. Prints TAP lines; the broker and its temp dir are always cleaned up.
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BRAID = os.environ.get("BRAID_BIN") or os.path.join(ROOT, "build", "braid")

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

failures = 0


def ok(cond, name, detail=""):
    global failures
    if cond:
        print("ok - %s" % name, flush=True)
    else:
        failures += 1
        print("not ok - %s" % name, flush=True)
        if detail:
            for line in str(detail).splitlines():
                print("# " + line, flush=True)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Broker:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="braid-groups-")
        self.data = os.path.join(self.tmp, "data")
        self.log = os.path.join(self.tmp, "braid.log")
        self.port = free_port()
        self.proc = None

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([BRAID, "serve", "--data", self.data, "--kafka", self.bootstrap,
                                          "--pg", "127.0.0.1:0", "--default-partitions", str(PARTS)],
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("braid exited during start-up:\n" + self.tail())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("braid did not start:\n" + self.tail())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode if self.proc else None

    def tail(self, n=40):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


TOPIC = "groups-t"
PARTS = 6
N = 3000


def consumer(b, group, name, **extra):
    conf = {
        "bootstrap.servers": b.bootstrap,
        "group.id": group,
        "client.id": name,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 300,
        "partition.assignment.strategy": "range",
        "topic.metadata.refresh.interval.ms": 2000,
    }
    conf.update(extra)
    return Consumer(conf)


class Tracker:
    """What the group consumed and committed, to check exactly-once-after-commit."""

    def __init__(self):
        self.seen = {}        # (partition, offset) -> times consumed
        self.committed = {}   # partition -> next offset, as last acknowledged by the broker
        self.bad_dups = []    # re-deliveries of offsets that were already committed
        self.commit_errors = 0

    def on_msg(self, m):
        key = (m.partition(), m.offset())
        if key in self.seen and m.offset() < self.committed.get(m.partition(), -1):
            self.bad_dups.append(key)
        self.seen[key] = self.seen.get(key, 0) + 1

    def commit(self, c, offsets):
        if not offsets:
            return
        tps = [TopicPartition(TOPIC, p, o) for p, o in offsets.items()]
        try:
            res = c.commit(offsets=tps, asynchronous=False)
            for tp in res:
                if tp.error is None:
                    self.committed[tp.partition] = max(self.committed.get(tp.partition, 0), tp.offset)
                else:
                    self.commit_errors += 1
        except KafkaException:
            # e.g. REBALANCE_IN_PROGRESS: the records will be re-delivered, legitimately
            self.commit_errors += 1


def make_member(b, group, name, tr, members):
    c = consumer(b, group, name)
    st = {"c": c, "name": name, "pending": {}}

    def on_revoke(cons, parts):
        tr.commit(cons, st["pending"])
        st["pending"] = {}

    c.subscribe([TOPIC], on_revoke=on_revoke)
    members.append(st)
    return st


def poll_round(members, tr, timeout=0.05):
    got = 0
    for st in members:
        msgs = st["c"].consume(num_messages=200, timeout=timeout)
        for m in msgs:
            if m.error():
                continue
            tr.on_msg(m)
            st["pending"][m.partition()] = m.offset() + 1
            got += 1
        if st["pending"]:
            tr.commit(st["c"], st["pending"])
            st["pending"] = {}
    return got


def assignment_sizes(members):
    return sorted(len(st["c"].assignment()) for st in members)


def settle(members, tr, want, limit=60, consume_until=None):
    """Polls every member until their assignment sizes are `want` (and, if given,
    until consume_until() holds). Returns whether that happened in time."""
    deadline = time.time() + limit
    while time.time() < deadline:
        poll_round(members, tr)
        if assignment_sizes(members) == want and (consume_until is None or consume_until()):
            return True
    return False


def high_watermarks(b):
    c = consumer(b, "hw-probe", "hw")
    hw = {}
    for p in range(PARTS):
        lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
        hw[p] = hi
    c.close()
    return hw


def produce(b, start, n):
    p = Producer({"bootstrap.servers": b.bootstrap, "linger.ms": 5, "acks": "all"})
    for i in range(start, start + n):
        p.produce(TOPIC, key=("k%d" % i).encode(), value=("v%d" % i).encode())
        if i % 500 == 0:
            p.poll(0)
    left = p.flush(30)
    return left


def main():
    b = Broker()
    try:
        b.start()
        run(b)
        rc = b.stop()
        with open(b.log, errors="replace") as f:
            log = f.read()
        bad = [l for l in log.splitlines() if "AddressSanitizer" in l or "runtime error" in l or "LeakSanitizer" in l]
        ok(rc == 0 and not bad, "broker exits cleanly at the end, with no sanitizer report",
           "exit %s\n%s" % (rc, "\n".join(bad[:10]) or b.tail()))
    finally:
        b.cleanup()


def run(b):
    # the topic is auto-created with --default-partitions (no dependency on CreateTopics)
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    ok(produce(b, 0, N) == 0, "produce %d keyed records" % N)
    hw = high_watermarks(b)
    ok(sum(hw.values()) == N and all(v > 0 for v in hw.values()), "records spread over all partitions", hw)
    total = sum(hw.values())

    tr = Tracker()
    members = []
    m1 = make_member(b, "grp", "c1", tr, members)
    m2 = make_member(b, "grp", "c2", tr, members)
    ok(settle(members, tr, [3, 3], consume_until=lambda: len(tr.seen) >= total // 4),
       "two consumers split the 6 partitions 3/3", assignment_sizes(members) + [b.tail()])

    m3 = make_member(b, "grp", "c3", tr, members)
    ok(settle(members, tr, [2, 2, 2], consume_until=lambda: len(tr.seen) >= total // 2),
       "a third consumer joins: 2/2/2", assignment_sizes(members))

    m1["c"].close()  # LeaveGroup: the others take over at once
    members.remove(m1)
    t0 = time.time()
    ok(settle(members, tr, [3, 3], limit=30), "a member leaves: the other two take 3/3",
       assignment_sizes(members))
    ok(time.time() - t0 < 6, "the leave triggered the rebalance (not the session timeout)",
       "took %.1fs" % (time.time() - t0))

    deadline = time.time() + 60
    while len(tr.seen) < total and time.time() < deadline:
        poll_round(members, tr, 0.1)
    missing = [(p, o) for p in range(PARTS) for o in range(hw[p]) if (p, o) not in tr.seen]
    ok(not missing, "across the rebalances every record was consumed",
       "%d missing, e.g. %s" % (len(missing), missing[:5]))
    dups = sum(n - 1 for n in tr.seen.values() if n > 1)
    ok(not tr.bad_dups, "no committed record was delivered again",
       "%d bad duplicates (%s), %d duplicates in all, %d failed commits\n%s" % (len(tr.bad_dups), tr.bad_dups[:5],
                                                                           dups, tr.commit_errors, b.tail(80)))
    print("# %d duplicates (re-delivery of uncommitted records), %d failed commits" % (dups, tr.commit_errors))

    for st in members:
        poll_round([st], tr)
    committed = m2["c"].committed([TopicPartition(TOPIC, p) for p in range(PARTS)], timeout=10)
    got = {tp.partition: tp.offset for tp in committed}
    ok(got == hw, "committed offsets are the end of every partition", {"committed": got, "end": hw})
    for st in members:
        st["c"].close()

    # restart the broker; a new member resumes at the committed offsets
    ok(produce(b, N, 600) == 0, "produce 600 more records")
    rc = b.stop()
    ok(rc == 0, "broker stops cleanly on SIGTERM", "exit code %s" % rc)
    b.start()
    c = consumer(b, "grp", "c4")
    c.subscribe([TOPIC])
    first, count = {}, 0
    deadline = time.time() + 60
    while count < 600 and time.time() < deadline:
        for m in c.consume(num_messages=200, timeout=0.2):
            if m.error():
                continue
            first.setdefault(m.partition(), m.offset())
            count += 1
    extra = c.consume(num_messages=10, timeout=1.0)
    count += len([m for m in extra if not m.error()])
    ok(count == 600, "after the restart the group reads exactly the 600 new records", "read %d" % count)
    ok(all(first[p] == hw[p] for p in first), "each partition resumes at its committed offset",
       {"first": first, "committed": hw})
    c.commit(asynchronous=False)
    c.close()

    # group administration: ListGroups and DescribeGroups through librdkafka
    try:
        groups = admin.list_groups(timeout=10)
        names = {g.id: g for g in groups}
        ok("grp" in names and names["grp"].state == "Empty", "ListGroups/DescribeGroups show the group Empty",
           {k: (v.state, v.protocol_type) for k, v in names.items()})
    except Exception as e:  # noqa: BLE001
        ok(False, "ListGroups/DescribeGroups show the group Empty", e)

    kafka_python(b, hw)
    kcat(b)
    killed_member(b)
    static_members(b)
    commits_survive_kill9(b)
    waiting_join_at_shutdown(b)


def commits_survive_kill9(b):
    """An acknowledged OffsetCommit is on disk: kill -9 right after it loses nothing."""
    want = {}
    c = consumer(b, "grp-k9", "k9")
    for rnd in range(20):
        offs = [TopicPartition(TOPIC, p, rnd * 10 + p) for p in range(PARTS)]
        c.commit(offsets=offs, asynchronous=False)
        want = {tp.partition: tp.offset for tp in offs}
    b.proc.kill()
    b.proc.wait()
    c.close()
    b.start()
    c = consumer(b, "grp-k9", "k9b")
    got = c.committed([TopicPartition(TOPIC, p) for p in range(PARTS)], timeout=10)
    c.close()
    got = {tp.partition: tp.offset for tp in got}
    ok(got == want, "offsets acknowledged before kill -9 are there after restart",
       {"want": want, "got": got})


def raw_request(sock, key, ver, corr, body):
    client = b"raw"
    hdr = struct.pack(">hhih", key, ver, corr, len(client)) + client
    sock.sendall(struct.pack(">i", len(hdr) + len(body)) + hdr + body)


def raw_response(sock, timeout):
    sock.settimeout(timeout)
    size = b""
    while len(size) < 4:
        chunk = sock.recv(4 - len(size))
        if not chunk:
            return None
        size += chunk
    n = struct.unpack(">i", size)[0]
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def join_v3(group, member):
    def s(x):
        return struct.pack(">h", len(x)) + x
    return (s(group) + struct.pack(">ii", 10000, 30000) + s(member) + s(b"consumer") +
            struct.pack(">i", 1) + s(b"range") + struct.pack(">i", 2) + b"md")


def waiting_join_at_shutdown(b):
    """A JoinGroup still waiting for the rebalance when the broker stops: the broker
    must still exit cleanly (its slot is freed, nothing leaks)."""
    a = socket.create_connection(("127.0.0.1", b.port))
    w = socket.create_connection(("127.0.0.1", b.port))
    try:
        raw_request(a, 11, 3, 1, join_v3(b"grp-raw", b""))
        ra = raw_response(a, 10)
        err, gen = struct.unpack(">hi", ra[8:14]) if ra else (None, None)
        ok(err == 0 and gen == 1, "raw JoinGroup v3 of a lone member completes at once", (err, gen))
        raw_request(w, 11, 3, 2, join_v3(b"grp-raw", b""))
        try:
            early = raw_response(w, 1.0)
        except socket.timeout:
            early = None
        ok(early is None, "a second member's JoinGroup waits for the first to rejoin")
    finally:
        a.close()
        # w stays open: the broker is stopped with its JoinGroup waiting (main checks the exit)
        b._keep = w


CHILD = r"""
import sys, time
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], "client.id": "child",
              "session.timeout.ms": 6000, "heartbeat.interval.ms": 300, "auto.offset.reset": "earliest",
              "partition.assignment.strategy": "range", "enable.auto.commit": False})
c.subscribe([sys.argv[3]])
while True:
    c.poll(0.1)
    print(len(c.assignment()), flush=True)
"""


def killed_member(b):
    """A member that dies without leaving is removed after its session timeout."""
    tr = Tracker()
    members = []
    make_member(b, "grp-kill", "survivor", tr, members)
    child = subprocess.Popen([sys.executable, "-c", CHILD, b.bootstrap, "grp-kill", TOPIC],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        os.set_blocking(child.stdout.fileno(), False)
        child_parts, deadline = 0, time.time() + 60
        while time.time() < deadline and not (child_parts == 3 and assignment_sizes(members) == [3]):
            poll_round(members, tr)
            try:
                for line in os.read(child.stdout.fileno(), 65536).split():
                    child_parts = int(line)
            except BlockingIOError:
                pass
        ok(child_parts == 3 and assignment_sizes(members) == [3], "a consumer in another process shares the group 3/3",
           "child %d, here %s" % (child_parts, assignment_sizes(members)))
        child.kill()
        child.wait()
        t0 = time.time()
        took = None
        while time.time() - t0 < 30:
            poll_round(members, tr)
            if assignment_sizes(members) == [6]:
                took = time.time() - t0
                break
        ok(took is not None and took >= 3, "after kill -9 of a member its partitions move on session timeout",
           "took %s s" % took)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for st in members:
            st["c"].close()


def static_members(b):
    """A static member (group.instance.id) that restarts gets its partitions back
    without a rebalance of the others."""
    assigns = {"s2": 0}
    tr = Tracker()
    members = []

    def static(name, counted=False):
        c = consumer(b, "grp-static", name, **{"group.instance.id": name})
        st = {"c": c, "name": name, "pending": {}}

        def on_assign(cons, parts):
            if counted:
                assigns[name] += 1

        c.subscribe([TOPIC], on_assign=on_assign)
        members.append(st)
        return st

    s1 = static("s1")
    s2 = static("s2", counted=True)
    ok(settle(members, tr, [3, 3]), "two static members split 3/3", assignment_sizes(members))
    before = sorted(tp.partition for tp in s1["c"].assignment())
    n_assign = assigns["s2"]
    s1["c"].close()  # a static member does not send LeaveGroup on close
    members.remove(s1)
    s1b = static("s1")
    ok(settle(members, tr, [3, 3], limit=20), "the restarted static member is back", assignment_sizes(members))
    after = sorted(tp.partition for tp in s1b["c"].assignment())
    ok(after == before, "it got the same partitions", {"before": before, "after": after})
    for _ in range(10):
        poll_round(members, tr)
    ok(assigns["s2"] == n_assign, "the other member was not rebalanced",
       "s2 assigned %d times, was %d" % (assigns["s2"], n_assign))
    for st in members:
        st["c"].close()


def kafka_python(b, hw):
    try:
        from kafka import KafkaConsumer
    except ImportError:
        print("# kafka-python not installed: skipped")
        return
    end = sum(hw.values()) + 600
    kc = KafkaConsumer(TOPIC, bootstrap_servers=b.bootstrap, group_id="kp-grp", auto_offset_reset="earliest",
                       enable_auto_commit=False, consumer_timeout_ms=3000, session_timeout_ms=6000,
                       heartbeat_interval_ms=500)
    n = 0
    deadline = time.time() + 60
    while n < end and time.time() < deadline:
        for recs in kc.poll(timeout_ms=500, max_records=1000).values():
            n += len(recs)
    kc.commit()
    kc.close()
    ok(n == end, "kafka-python KafkaConsumer in a group reads every record", "read %d of %d" % (n, end))
    kc = KafkaConsumer(TOPIC, bootstrap_servers=b.bootstrap, group_id="kp-grp", auto_offset_reset="earliest",
                       enable_auto_commit=False, session_timeout_ms=6000, heartbeat_interval_ms=500)
    again = 0
    deadline = time.time() + 8
    while time.time() < deadline:
        for recs in kc.poll(timeout_ms=500).values():
            again += len(recs)
    kc.close()
    ok(again == 0, "kafka-python resumes after its commit (nothing re-read)", "re-read %d" % again)

    # offset metadata is kept and returned
    from kafka import TopicPartition as KTP
    from kafka.structs import OffsetAndMetadata
    kc = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id="kp-meta", enable_auto_commit=False)
    kc.assign([KTP(TOPIC, 0)])
    kc.commit({KTP(TOPIC, 0): OffsetAndMetadata(7, "note: ü-ok")})
    kc.close()
    kc = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id="kp-meta", enable_auto_commit=False)
    got = kc.committed(KTP(TOPIC, 0), metadata=True)
    got = (got.offset, got.metadata) if got is not None else None
    kc.close()
    ok(got == (7, "note: ü-ok"), "a commit's metadata string is returned by OffsetFetch", got)


def kcat(b):
    if not shutil.which("kcat"):
        print("# kcat not installed: skipped")
        return
    try:
        out = subprocess.run(["kcat", "-b", b.bootstrap, "-G", "kcat-grp", "-o", "beginning", "-e", "-q",
                              "-f", "%p %o\n", "-X", "session.timeout.ms=6000", TOPIC],
                             capture_output=True, text=True, timeout=60)
        lines = [l for l in out.stdout.splitlines() if l.strip()]
        ok(len(lines) == N + 600, "kcat -G consumes the topic in a group", "got %d lines; stderr: %s" %
           (len(lines), out.stderr[-500:]))
    except subprocess.TimeoutExpired:
        ok(False, "kcat -G consumes the topic in a group", "timed out")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        import traceback
        ok(False, "test ran to completion", traceback.format_exc())
    sys.exit(1 if failures else 0)
