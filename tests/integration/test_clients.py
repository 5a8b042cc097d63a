# test_clients.py — real client libraries against braid: librdkafka (through
# python3-confluent-kafka) with an idempotent producer under every compression
# codec, kafka-python's producer and consumer, and the AdminClient's topic
# administration with its error cases. Every record is checked field by field
# (key, value, headers, timestamp, partition and offset as acknowledged).
import os
import struct
import sys
import time


sys.dont_write_bytecode = True  # keep tests/ free of __pycache__

from braidtest import Broker, tap

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewPartitions, NewTopic


def consume_all(bootstrap, topic, partitions, want, timeout=60):
    """Reads every partition of topic from the beginning until `want` records or
    EOF everywhere; returns the messages in arrival order."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "braid-test-reader", "enable.auto.commit": False,
                  "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    out, eof = [], set()
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and len(out) < want:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    eof.add(m.partition())
                    if len(eof) == partitions and len(out) >= want:
                        break
                    continue
                raise KafkaException(m.error())
            eof.discard(m.partition())
            out.append(m)
    finally:
        c.close()
    return out


def check_records(name, sent, got):
    """sent: {key: (value, headers, ts, partition, offset)}; got: consumed messages."""
    seen, problems = {}, []
    for m in got:
        k = m.key()
        if k in seen:
            problems.append("duplicate %r" % k)
        seen[k] = m
    missing = [k for k in sent if k not in seen]
    extra = [k for k in seen if k not in sent]
    for k, (v, hdrs, ts, p, off) in sent.items():
        m = seen.get(k)
        if m is None:
            continue
        if m.value() != v:
            problems.append("%r value differs" % k)
        if list(m.headers() or []) != hdrs:
            problems.append("%r headers %r != %r" % (k, m.headers(), hdrs))
        if m.timestamp()[1] != ts:
            problems.append("%r timestamp %r != %r" % (k, m.timestamp(), ts))
        if (m.partition(), m.offset()) != (p, off):
            problems.append("%r at %d/%d, acknowledged at %d/%d" % (k, m.partition(), m.offset(), p, off))
    tap.ok(not missing and not extra and not problems,
           "%s: %d records back exactly (keys, values, headers, timestamps, offsets)" % (name, len(sent)),
           "missing %d %r, extra %d, %s" % (len(missing), missing[:3], len(extra), problems[:5]))


def contiguous(name, msgs):
    parts = {}
    for m in msgs:
        parts.setdefault(m.partition(), []).append(m.offset())
    ok = all(sorted(o) == list(range(len(o))) for o in parts.values())
    tap.ok(ok, name + ": offsets contiguous from 0 per partition", {p: (min(o), max(o), len(o)) for p, o in parts.items()})


CODEC_BITS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def stored_codecs(b, topic):
    """The compression codecs of the batches braid stored for a topic, read from its
    segment files: a client that silently stops compressing would pass the round trip."""
    import glob
    seen = set()
    for path in glob.glob(os.path.join(b.data, "log", topic, "*", "*.log")):
        data = open(path, "rb").read()
        pos = 0
        while pos + 61 <= len(data):
            blen = struct.unpack(">i", data[pos + 8:pos + 12])[0]
            seen.add(struct.unpack(">h", data[pos + 21:pos + 23])[0] & 7)
            pos += 12 + blen
    return seen


def idempotent_codecs(b, admin):
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        topic = "cl-" + codec
        admin.create_topics([NewTopic(topic, 3, 1)])[topic].result(15)
        p = Producer({"bootstrap.servers": b.bootstrap, "enable.idempotence": True, "acks": "all",
                      "compression.type": codec, "linger.ms": 20, "batch.num.messages": 500})
        sent, errors = {}, []
        n = 3000

        def report(err, m):
            if err:
                errors.append(err)
            else:
                k = m.key()
                v, h, ts, _, _ = sent[k]
                sent[k] = (v, h, ts, m.partition(), m.offset())
        for i in range(n):
            k = b"%s-%05d" % (codec.encode(), i)
            v = (b"value %d " % i) + b"compressible " * (i % 40)
            h = [("i", b"%d" % i), ("codec", codec.encode())]
            ts = 1700000000000 + i
            sent[k] = (v, h, ts, None, None)
            while True:
                try:
                    p.produce(topic, key=k, value=v, headers=h, timestamp=ts, on_delivery=report)
                    break
                except BufferError:
                    p.poll(0.1)
            p.poll(0)
        left = p.flush(60)
        tap.ok(left == 0 and not errors, "%s: idempotent producer delivered %d records" % (codec, n), (left, errors[:3]))
        got = consume_all(b.bootstrap, topic, 3, n)
        check_records("confluent-kafka " + codec, sent, got)
        contiguous("confluent-kafka " + codec, got)
        codecs = stored_codecs(b, topic)
        tap.ok(codecs == {CODEC_BITS[codec]}, "%s: the stored batches are %s-compressed" % (codec, codec), sorted(codecs))


def kafka_python(b):
    from kafka import KafkaConsumer, KafkaProducer
    from kafka import TopicPartition as KTP
    for codec in (None, "gzip"):
        topic = "kp-" + (codec or "none")
        prod = KafkaProducer(bootstrap_servers=b.bootstrap, compression_type=codec, acks="all", linger_ms=5)
        futures, sent = [], {}
        n = 2000
        for i in range(n):
            k = b"kp-%05d" % i
            v = b"kafka-python %d" % i
            h = [("i", b"%d" % i)]
            ts = 1690000000000 + i * 3
            sent[k] = (v, h, ts)
            futures.append((k, prod.send(topic, key=k, value=v, headers=h, timestamp_ms=ts)))
        prod.flush(30)
        acked = {}
        errs = []
        for k, f in futures:
            try:
                md = f.get(10)
                acked[k] = (md.partition, md.offset)
            except Exception as e:  # noqa: BLE001
                errs.append(repr(e))
        prod.close(10)
        tap.ok(len(acked) == n, "kafka-python producer (%s): %d records acknowledged" % (codec or "no compression", n), errs[:3])
        cons = KafkaConsumer(bootstrap_servers=b.bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=10000)
        parts = cons.partitions_for_topic(topic) or {0}
        tps = [KTP(topic, p) for p in sorted(parts)]
        cons.assign(tps)
        cons.seek_to_beginning(*tps)
        got = {}
        bad = []
        deadline = time.time() + 60
        while len(got) < n and time.time() < deadline:
            for recs in cons.poll(timeout_ms=1000).values():
                for r in recs:
                    if r.key in got:
                        bad.append("dup %r" % r.key)
                    got[r.key] = r
        cons.close()
        for k, (v, h, ts) in sent.items():
            r = got.get(k)
            if r is None:
                bad.append("missing %r" % k)
            elif r.value != v or list(r.headers) != h or r.timestamp != ts or (r.partition, r.offset) != acked.get(k):
                bad.append("%r differs: %r" % (k, r))
        tap.ok(not bad and len(got) == n, "kafka-python consumer (%s): every record back exactly" % (codec or "no compression"), bad[:5])


def admin_errors(b, admin):
    def err_of(fut):
        try:
            fut.result(15)
            return None
        except KafkaException as e:
            return e.args[0].code()

    fs = admin.create_topics([NewTopic("cl-admin", 3, 1, config={"retention.ms": "86400000"})])
    tap.eq(err_of(fs["cl-admin"]), None, "AdminClient create_topics with a config")
    tap.eq(err_of(admin.create_topics([NewTopic("cl-admin", 3, 1)])["cl-admin"]), KafkaError.TOPIC_ALREADY_EXISTS,
           "AdminClient: duplicate topic -> TOPIC_ALREADY_EXISTS")
    tap.eq(err_of(admin.create_topics([NewTopic("bad name!", 1, 1)])["bad name!"]), KafkaError.TOPIC_EXCEPTION,
           "AdminClient: invalid name -> INVALID_TOPIC_EXCEPTION")
    tap.eq(err_of(admin.create_topics([NewTopic("cl-rf3", 1, 3)])["cl-rf3"]), KafkaError.INVALID_REPLICATION_FACTOR,
           "AdminClient: replication factor 3 -> INVALID_REPLICATION_FACTOR")
    tap.eq(err_of(admin.create_topics([NewTopic("cl-badcfg", 1, 1, config={"retention.ms": "soon"})])["cl-badcfg"]),
           KafkaError.INVALID_CONFIG, "AdminClient: bad config value -> INVALID_CONFIG")
    md = admin.list_topics(timeout=10)
    tap.ok("cl-admin" in md.topics and len(md.topics["cl-admin"].partitions) == 3 and "cl-rf3" not in md.topics,
           "list_topics shows the created topic with 3 partitions (and not the failed ones)")

    res = ConfigResource("topic", "cl-admin")
    cfg = admin.describe_configs([res])[res].result(15)
    e = cfg.get("retention.ms")
    tap.ok(e is not None and e.value == "86400000" and e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value,
           "describe_configs: retention.ms override with source DYNAMIC_TOPIC_CONFIG", e and (e.value, e.source))
    tap.ok("segment.bytes" in cfg and not cfg["segment.bytes"].is_read_only, "describe_configs lists defaults too", sorted(cfg))
    fs = admin.alter_configs([ConfigResource("topic", "cl-admin", set_config={"retention.ms": "3600000"})])
    tap.eq(err_of(list(fs.values())[0]), None, "alter_configs retention.ms")
    cfg = admin.describe_configs([res])[res].result(15)
    tap.eq(cfg["retention.ms"].value, "3600000", "describe_configs sees the altered value")
    bad = ConfigResource("topic", "cl-admin", set_config={"retention.ms": "-7"})
    tap.eq(err_of(list(admin.alter_configs([bad]).values())[0]), KafkaError.INVALID_CONFIG, "alter_configs bad value -> INVALID_CONFIG")
    br = ConfigResource("broker", "0")
    bcfg = admin.describe_configs([br])[br].result(15)
    tap.ok("num.partitions" in bcfg and bcfg["num.partitions"].is_read_only, "describe_configs of the broker", sorted(bcfg))

    tap.eq(err_of(admin.create_partitions([NewPartitions("cl-admin", 5)])["cl-admin"]), None, "create_partitions 3 -> 5")
    tap.eq(len(admin.list_topics(timeout=10).topics["cl-admin"].partitions), 5, "list_topics shows 5 partitions")
    tap.eq(err_of(admin.create_partitions([NewPartitions("cl-admin", 2)])["cl-admin"]), KafkaError.INVALID_PARTITIONS,
           "create_partitions 5 -> 2 -> INVALID_PARTITIONS")
    tap.eq(err_of(admin.delete_topics(["cl-admin"])["cl-admin"]), None, "delete_topics")
    tap.ok("cl-admin" not in admin.list_topics(timeout=10).topics, "deleted topic is gone")
    tap.eq(err_of(admin.delete_topics(["cl-never"])["cl-never"]), KafkaError.UNKNOWN_TOPIC_OR_PART,
           "delete_topics of an unknown topic -> UNKNOWN_TOPIC_OR_PARTITION")


def main():
    b = Broker()
    admin = AdminClient({"bootstrap.servers": b.bootstrap})
    tap.run("admin", admin_errors, b, admin)
    tap.run("idempotent codecs", idempotent_codecs, b, admin)
    tap.run("kafka-python", kafka_python, b)
    tap.ok(b.stop() == 0, "clean shutdown", b.log_tail())


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        tap.ok(False, "test_clients ran to the end", repr(e))
    tap.finish()
    sys.exit(0)
