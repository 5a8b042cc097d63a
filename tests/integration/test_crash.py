# test_crash.py — kill -9 of the broker during a stream of acks=all idempotent
# produces, several times. A record whose delivery librdkafka acknowledged was
# durable before the answer, so after each restart it must be in the log exactly
# once; records never acknowledged may or may not be there, but never twice (the
# idempotent producer retries with the same sequence numbers). The log must read
# end to end with contiguous offsets.
# A second phase does the same to topic administration: creates, partition
# growth, config changes and deletions acknowledged before a kill -9 must all be
# in effect after the restart.
import random
import sys
import threading
import time


sys.dont_write_bytecode = True  # keep tests/ free of __pycache__

from braidtest import Broker, KafkaConn, array, boolean, create_topic, i8, i16, i32, metadata_topics, string, tap

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

TOPIC = "crash"
PARTS = 3
KILLS = 4


class Stream:
    """Produces records with unique ids from a thread until stopped. A fatal
    producer error (possible when a crash loses in-flight state) ends that
    producer; a new one continues with fresh ids, never re-sending old ones."""

    def __init__(self, bootstrap):
        self.bootstrap = bootstrap
        self.acked = {}       # id -> (partition, offset)
        self.failed = set()
        self.sent = 0
        self.fatal = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def new_producer(self):
        return Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 2, "message.timeout.ms": 60000, "reconnect.backoff.ms": 50,
                         "reconnect.backoff.max.ms": 500, "socket.connection.setup.timeout.ms": 2000,
                         "error_cb": self.on_error})

    def on_error(self, err):
        if err.fatal():
            self.fatal.append(err)

    def report(self, err, m):
        rid = m.value()
        with self.lock:
            if err:
                self.failed.add(rid)
            else:
                self.acked[rid] = (m.partition(), m.offset())

    def run(self):
        p = self.new_producer()
        n_fatal = 0
        while not self.stop.is_set():
            if len(self.fatal) > n_fatal:  # fatal: the producer is unusable; start a new one
                n_fatal = len(self.fatal)
                p.flush(1)
                p = self.new_producer()
            rid = b"rec-%08d" % self.sent
            try:
                p.produce(TOPIC, key=rid[-3:], value=rid, on_delivery=self.report)
                self.sent += 1
            except BufferError:
                p.poll(0.05)
                continue
            except Exception:  # noqa: BLE001 — fatal state raises on produce; handled above
                time.sleep(0.05)
                continue
            p.poll(0)
            if self.sent % 200 == 0:
                time.sleep(0.01)  # a steady stream, not a flood the kill always lands in
        self.remaining = p.flush(60)


def read_log(bootstrap):
    """Every record of every partition, from offset 0 to the end."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "crash-reader", "enable.auto.commit": False,
                  "enable.partition.eof": True})
    c.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in range(PARTS)])
    out, eof, errors = [], set(), []
    deadline = time.time() + 120
    while len(eof) < PARTS and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == KafkaError._PARTITION_EOF:
                eof.add(m.partition())
            else:
                errors.append(m.error())
            continue
        eof.discard(m.partition())
        out.append((m.partition(), m.offset(), m.value()))
    complete = len(eof) == PARTS
    if not complete:  # say where each partition stopped, for the failure message
        for p in range(PARTS):
            last = max((o for q, o, _ in out if q == p), default=-1)
            errors.append("partition %d: eof=%s last offset read %d, watermarks %r" % (
                p, p in eof, last, c.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=5)))
    c.close()
    return out, errors, complete


class AdminChurn:
    """Creates, grows, reconfigures and deletes topics in a loop from a thread,
    recording what the broker acknowledged. A request whose connection dies (the
    kill) has an unknown outcome: its topic is left out of the verification."""

    def __init__(self, port):
        self.port = port
        self.state = {}      # name -> None (deleted) or (partitions, retention.ms)
        self.unknown = set()
        self.refused = []
        self.acks = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def call(self, c, key, v, body):
        r = c.request(key, v, body)
        r.i32() if key != 19 else None  # throttle (CreateTopics v1 has none)
        return r

    def run(self):
        i = 0
        c = None
        while not self.stop.is_set():
            name = "churn-%04d" % (i // 4)
            step = i % 4
            if c is None:
                try:
                    c = KafkaConn(self.port, timeout=5)
                except OSError:  # broker down: nothing was sent, try again
                    time.sleep(0.05)
                    continue
            try:
                if step == 0:
                    ret = "%d" % (60000 + i)
                    body = array([string(name) + i32(1) + i16(1) + i32(0)
                                  + array([string("retention.ms") + string(ret)])]) + i32(5000) + boolean(False)
                    r = self.call(c, 19, 1, body)
                    res = r.array(lambda x: (x.string(), x.i16(), x.string()))
                    ok, new = res[0][1] == 0, (1, ret)
                elif step == 1:
                    body = array([string(name) + i32(3) + i32(-1)]) + i32(5000) + boolean(False)
                    r = self.call(c, 37, 0, body)
                    res = r.array(lambda x: (x.string(), x.i16(), x.string()))
                    ok, new = res[0][1] == 0, (3, self.state[name][1])
                elif step == 2:
                    ret = "%d" % (120000 + i)
                    body = array([i8(2) + string(name) + array([string("retention.ms") + string(ret)])]) + boolean(False)
                    r = self.call(c, 33, 0, body)
                    res = r.array(lambda x: (x.i16(), x.string(), x.i8(), x.string()))
                    ok, new = res[0][0] == 0, (3, ret)
                else:
                    if (i // 4) % 2:  # keep every other topic, delete the rest
                        i += 1
                        continue
                    r = self.call(c, 20, 1, array([string(name)]) + i32(5000))
                    res = r.array(lambda x: (x.string(), x.i16()))
                    ok, new = res[0][1] == 0, None
                if not ok:
                    self.unknown.add(name)  # refused: reported below, not guessed at
                    self.refused.append((name, step, res[0]))
                else:
                    self.state[name] = new
                    self.acks += 1
            except (OSError, ConnectionError, ValueError, KeyError):
                self.unknown.add(name)
                if c is not None:
                    c.close()
                c = None
                time.sleep(0.05)
                i = (i // 4 + 1) * 4  # the topic's outcome is unknown: go on with a fresh name
                continue
            i += 1
        if c is not None:
            c.close()


def admin_phase(b):
    ch = AdminChurn(b.port)
    ch.thread.start()
    rnd = random.Random(11)
    for k in range(3):
        base = ch.acks
        deadline = time.time() + 30
        while ch.acks < base + 20 and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(rnd.uniform(0.0, 0.2))
        b.kill()
        tap.ok(ch.acks >= base + 20, "admin churn: kill -9 #%d after %d acknowledged operations" % (k + 1, ch.acks))
        try:
            b.start()
        except RuntimeError as e:
            tap.ok(False, "admin churn: restart #%d" % (k + 1), e)
            return
    time.sleep(0.5)
    ch.stop.set()
    ch.thread.join(30)
    b.kill()
    b.start()
    topics = metadata_topics(b.port)
    c = KafkaConn(b.port)
    wrong = []
    checked = 0
    for name, st in sorted(ch.state.items()):
        if name in ch.unknown:
            continue
        checked += 1
        if st is None:
            if name in topics:
                wrong.append("%s: deleted but present" % name)
            continue
        if topics.get(name) != (0, st[0]):
            wrong.append("%s: want %d partitions, metadata says %r" % (name, st[0], topics.get(name)))
            continue
        body = array([i8(2) + string(name) + array([string("retention.ms")])]) + boolean(False)
        r = c.request(32, 1, body)
        r.i32()
        r.i32()  # one result
        err, _msg, _t, _n = r.i16(), r.string(), r.i8(), r.string()
        r.i32()
        cfg = (r.string(), r.string())
        if err or cfg[1] != st[1]:
            wrong.append("%s: retention.ms %r, want %r (error %d)" % (name, cfg[1], st[1], err))
    c.close()
    tap.note("admin churn: %d acknowledged operations, %d topics checked, %d with unknown outcome"
             % (ch.acks, checked, len(ch.unknown)))
    tap.ok(checked > 5 and not wrong, "admin churn: every acknowledged create/grow/alter/delete survived kill -9", wrong[:10])
    tap.ok(not ch.refused, "admin churn: no operation was refused", ch.refused[:5])


def main():
    b = Broker()
    err, msg = create_topic(b.port, TOPIC, PARTS)
    tap.eq((err, msg), (0, None), "create topic")
    s = Stream(b.bootstrap)
    s.thread.start()
    rnd = random.Random(7)
    for k in range(KILLS):
        # Kill only once the stream has made progress since the last restart (on a
        # loaded machine the producer may need a while to reconnect), then at a
        # random moment, so kills land in different phases of request handling.
        base = len(s.acked)
        deadline = time.time() + 60
        while len(s.acked) < base + 3000 and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(rnd.uniform(0.0, 0.5))
        before = len(s.acked)
        b.kill()
        tap.ok(before >= base + 3000, "kill -9 #%d mid-stream, %d records acknowledged so far" % (k + 1, before))
        time.sleep(rnd.uniform(0.05, 0.4))
        try:
            b.start()
            tap.ok(True, "restart #%d recovers and listens" % (k + 1))
        except RuntimeError as e:
            tap.ok(False, "restart #%d recovers and listens" % (k + 1), e)
            return
    time.sleep(1.0)
    s.stop.set()
    s.thread.join(90)
    tap.ok(not s.thread.is_alive() and s.remaining == 0, "producer drained after the last restart",
           (s.thread.is_alive(), getattr(s, "remaining", None), len(s.failed)))
    tap.note("sent %d, acknowledged %d, failed %d, fatal producer errors %d" % (s.sent, len(s.acked), len(s.failed), len(s.fatal)))

    def verify(stage):
        recs, errors, complete = read_log(b.bootstrap)
        tap.ok(complete and not errors, "%s: the log reads end to end on every partition" % stage, errors[:5])
        per = {}
        count = {}
        for p, o, v in recs:
            per.setdefault(p, []).append(o)
            count[v] = count.get(v, 0) + 1
        tap.ok(all(sorted(o) == list(range(len(o))) for o in per.values()), "%s: offsets contiguous from 0" % stage,
               {p: (len(o), o[:3]) for p, o in per.items()})
        where = {}
        for p, o, v in recs:
            where[v] = (p, o)
        lost = [r for r in s.acked if r not in count]
        moved = [r for r, po in s.acked.items() if r in where and where[r] != po]
        twice = [r for r, n in count.items() if n > 1]
        tap.ok(not lost, "%s: every acknowledged record is in the log (%d)" % (stage, len(s.acked)), lost[:10])
        tap.ok(not moved, "%s: ... at the partition and offset acknowledged" % stage, [(r, s.acked[r], where[r]) for r in moved[:5]])
        tap.ok(not twice, "%s: no record appears twice" % stage, twice[:10])
    verify("after kill -9 x%d" % KILLS)
    b.restart()
    verify("after a clean restart")
    tap.run("admin churn", admin_phase, b)
    tap.ok(b.stop() == 0, "clean shutdown", b.log_tail())


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        tap.ok(False, "test_crash ran to the end", repr(e))
    tap.finish()
    sys.exit(0)
