# test_badinput.py — hostile and broken bytes on the Kafka port: malformed frames,
# unknown API keys, unsupported versions, oversized frames, truncated requests,
# invalid topic names, record batches with a bad CRC or magic. Each must get the
# protocol's error code or a closed connection, and afterwards the broker must
# still serve a normal client (ApiVersions + Metadata from a fresh connection).
import socket
import struct
import sys
import time


sys.dont_write_bytecode = True  # keep tests/ free of __pycache__

from braidtest import (Broker, KafkaConn, Reader, array, boolean, healthy, i8, i16, i32, i64, metadata_topics,
                       string, tap, uvarint)

MAX_REQ = 1 << 20  # --max-request-bytes for this test: 1 MiB


def crc32c(data, _table=[]):
    if not _table:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _table.append(c)
    c = 0xFFFFFFFF
    for b in data:
        c = _table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def zigzag(v):
    return uvarint((v << 1) ^ (v >> 63))


def record_batch(values, ts=1700000000000, magic=2, corrupt_crc=False):
    """A RecordBatch v2 holding one record per value (no compression)."""
    recs = b""
    for i, v in enumerate(values):
        body = i8(0) + zigzag(0) + zigzag(i) + zigzag(-1) + zigzag(len(v)) + v + zigzag(0)
        recs += zigzag(len(body)) + body
    after_crc = (i16(0) + i32(len(values) - 1) + i64(ts) + i64(ts) + i64(-1) + i16(-1) + i32(-1)
                 + i32(len(values)) + recs)
    crc = crc32c(after_crc)
    if corrupt_crc:
        crc ^= 0x1
    tail = i32(0) + i8(magic) + struct.pack(">I", crc) + after_crc
    return i64(0) + i32(len(tail)) + tail


def produce(c, topic, records, partition=0):
    """Produce v3, acks=1. Returns (error, base_offset) or None if the connection closed."""
    body = (string(None) + i16(1) + i32(10000)
            + array([string(topic) + array([i32(partition) + i32(len(records)) + records])]))
    try:
        r = c.request(0, 3, body)
    except ConnectionError:
        return None
    topics = r.array(lambda x: (x.string(), x.array(lambda y: (y.i32(), y.i16(), y.i64(), y.i64()))))
    _, parts = topics[0]
    return parts[0][1], parts[0][2]


def create_topic(c, name, partitions=1):
    body = array([string(name) + i32(partitions) + i16(1) + i32(0) + i32(0)]) + i32(10000) + boolean(False)
    r = c.request(19, 1, body)  # v1: no throttle time
    res = r.array(lambda x: (x.string(), x.i16(), x.string()))
    return res[0][1]


def raw_closes(port, data, name, allow_response=False, eof=False):
    """Sends raw bytes on a fresh connection; the broker must close it (or, when
    allow_response, may answer instead). Then checks the broker is still healthy."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
        if eof:
            s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        got = b""
        closed = False
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    closed = True
                    break
                got += d
                if allow_response and len(got) >= 4 and len(got) >= 4 + struct.unpack(">i", got[:4])[0]:
                    break
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            pass
        tap.ok(closed or (allow_response and got), name, "closed=%s response=%r" % (closed, got[:64]))
    finally:
        s.close()
    tap.ok(healthy(port), name + ": broker still serves a fresh client")


def frame(key, version, corr, body, client_id=b"bad"):
    hdr = i16(key) + i16(version) + i32(corr) + i16(len(client_id)) + client_id
    msg = hdr + body
    return i32(len(msg)) + msg


def main():
    b = Broker("--max-request-bytes", MAX_REQ)
    port = b.port
    tap.ok(healthy(port), "broker serves ApiVersions + Metadata")

    # ---- malformed frames
    raw_closes(port, i32(-1), "negative frame size closes the connection")
    raw_closes(port, i32(0), "empty frame closes the connection")
    raw_closes(port, i32(3) + b"\x00\x12\x00", "frame shorter than a request header closes the connection")
    raw_closes(port, i32(10) + i16(18) + i16(0) + i32(1) + i16(500), "client id longer than the frame closes the connection")
    raw_closes(port, i32(64) + bytes(range(64)), "garbage frame gets an answer or a close", allow_response=True)
    raw_closes(port, i32(40) + b"\x00\x00" + b"\xff" * 10, "frame cut short by the client, then EOF", eof=True)

    # ---- unknown API key and unsupported versions
    raw_closes(port, frame(999, 0, 7, b""), "unknown API key 999 gets an answer or a close", allow_response=True)
    raw_closes(port, frame(-5, 0, 7, b""), "negative API key gets an answer or a close", allow_response=True)

    def api_versions_unsupported():
        c = KafkaConn(port)
        r = c.request(18, 99, b"")
        err = r.i16()
        apis = r.array(lambda x: (x.i16(), x.i16(), x.i16()))
        tap.eq(err, 35, "ApiVersions v99 answers UNSUPPORTED_VERSION")
        tap.ok(apis and any(k == 18 for k, _, _ in apis), "... with its version list", apis)
        c.close()
    tap.run("api versions unsupported", api_versions_unsupported)
    raw_closes(port, frame(3, 99, 9, b""), "Metadata v99 gets an answer or a close", allow_response=True)
    raw_closes(port, frame(0, 99, 9, b""), "Produce v99 gets an answer or a close", allow_response=True)

    # ---- frames over the limit
    raw_closes(port, i32(MAX_REQ + 1) + frame(18, 0, 1, b"")[4:], "frame header over --max-request-bytes closes the connection")
    raw_closes(port, i32(0x7FFFFFFF), "2 GiB frame header closes the connection")

    def big_but_allowed():
        c = KafkaConn(port)
        c.send(3, 1, array([string("trailing")]) + b"\x00" * 16)  # junk after a valid body: ignored or closed
        c.close()
        tap.ok(healthy(port), "broker healthy after a request with trailing bytes")
    tap.run("trailing bytes", big_but_allowed)

    def under_limit():
        # A frame just under the limit is read whole (then answered or refused), not cut.
        c = KafkaConn(port)
        # header + topic array take a few hundred bytes: keep the whole frame <= the limit
        # (a frame even a byte over is refused at once, and the client's send could then
        # fail with EPIPE, depending on timing)
        pad = MAX_REQ - 1024
        c.send(3, 1, array([string("x" * 200)] * 1) + b"\x00" * pad)
        c.close()
        tap.ok(healthy(port), "broker healthy after a frame just under the limit")
    tap.run("under limit", under_limit)

    # ---- truncated requests
    raw_closes(port, frame(3, 1, 2, i32(5)), "Metadata claiming 5 topics with none closes the connection")
    raw_closes(port, frame(3, 1, 2, i32(1) + i16(30) + b"abc"), "Metadata with a truncated topic name closes the connection")
    raw_closes(port, frame(0, 3, 2, string(None) + i16(1)), "Produce cut after acks closes the connection")
    raw_closes(port, frame(0, 3, 2, string(None) + i16(1) + i32(1000) + i32(1) + string("x") + i32(1) + i32(0) + i32(500) + b"\x00" * 10),
               "Produce whose records length exceeds the frame closes the connection")
    raw_closes(port, frame(1, 4, 2, i32(-1) + i32(100)), "truncated Fetch closes the connection")
    raw_closes(port, frame(19, 1, 2, i32(0x7FFFFFFF)), "CreateTopics with a huge array count closes the connection")
    raw_closes(port, frame(18, 3, 2, b"\x05"), "ApiVersions v3 truncated body gets an answer or a close", allow_response=True)

    # ---- invalid topic names
    def invalid_names():
        c = KafkaConn(port)
        for name in ["bad/name", "..", ".", "x" * 250, "a b", "../etc"]:
            tap.eq(create_topic(c, name), 17, "CreateTopics %r -> INVALID_TOPIC_EXCEPTION" % name[:20])
        for name in ["bad/name", "..", "../../escape"]:
            res = produce(c, name, record_batch([b"v"]))
            if res is None:
                c = KafkaConn(port)
            tap.ok(res is None or res[0] in (17, 3), "Produce to %r -> INVALID_TOPIC_EXCEPTION (or unknown/closed)" % name, res)
        t = metadata_topics(port)
        tap.ok(not any("/" in n or n in (".", "..") for n in t), "no invalid topic was created", sorted(t))
        c.close()
        tap.ok(healthy(port), "broker healthy after invalid topic names")
    tap.run("invalid names", invalid_names)

    # ---- invalid record batches
    def bad_batches():
        c = KafkaConn(port)
        tap.eq(create_topic(c, "badinput"), 0, "create topic badinput")
        cases = [
            ("bad CRC", record_batch([b"one", b"two"], corrupt_crc=True), (2,)),
            ("bad magic", record_batch([b"one"], magic=9), (2, 43, 87)),
            ("magic 1 (old message format)", record_batch([b"one"], magic=1), (2, 43, 87)),
            ("batch length past the records", record_batch([b"one"])[:8] + i32(9999) + record_batch([b"one"])[12:], (2, 87)),
            ("half a batch", record_batch([b"one", b"two"])[:30], (2, 87)),
            ("record count lies", None, (2, 87)),
        ]
        good = record_batch([b"x"])
        lie = bytearray(record_batch([b"a", b"b"]))
        struct.pack_into(">i", lie, 57, 50)  # records count field
        struct.pack_into(">I", lie, 17, crc32c(bytes(lie[21:])))
        cases[-1] = ("record count lies (valid CRC)", bytes(lie), (2, 87))
        for name, batch, codes in cases:
            res = produce(c, "badinput", batch)
            if res is None:
                c = KafkaConn(port)
            tap.ok(res is None or res[0] in codes, "Produce with %s -> CORRUPT_MESSAGE or close" % name, res)
            tap.note("%s: %s" % (name, "closed" if res is None else "error %d" % res[0]))
            tap.ok(healthy(port), "broker healthy after %s" % name)
        res = produce(c, "badinput", good)
        tap.eq(res, (0, 0), "a valid batch afterwards lands at offset 0 (nothing bad was written)")
        c.close()
    tap.run("bad batches", bad_batches)

    # ---- mutated admin requests: truncations, flipped bytes, hostile counts
    def mutations():
        import random
        rnd = random.Random(1234)
        c = KafkaConn(port)
        create_topic(c, "fuzz-target")
        c.close()

        def seeds():
            for flex, v in ((False, 1), (True, 5)):  # CreateTopics (validate_only)
                yield 19, v, flex, (array([string("fuzz-new", flex) + i32(2) + i16(1) + array([], flex)
                                           + array([string("retention.ms", flex) + string("1000", flex) + (b"\x00" if flex else b"")], flex)
                                           + (b"\x00" if flex else b"")], flex) + i32(1000) + boolean(True) + (b"\x00" if flex else b"")), True
            for flex, v in ((False, 1), (True, 4)):  # DeleteTopics of unknown names
                yield 20, v, flex, array([string("fuzz-none-%d" % k, flex) for k in range(3)], flex) + i32(1000) + (b"\x00" if flex else b""), False
            yield 20, 6, True, array([string(None, True) + bytes(range(16)) + b"\x00"], True) + i32(1000) + b"\x00", False
            for flex, v in ((False, 0), (True, 2)):  # CreatePartitions of an unknown topic
                yield 37, v, flex, array([string("fuzz-none", flex) + i32(4) + array(None, flex) + (b"\x00" if flex else b"")], flex) + i32(1000) + boolean(True) + (b"\x00" if flex else b""), False
            for flex, v in ((False, 1), (False, 3), (True, 4)):  # DescribeConfigs
                yield 32, v, flex, array([i8(2) + string("fuzz-target", flex) + array([string("retention.ms", flex)], flex) + (b"\x00" if flex else b""),
                                          i8(4) + string("0", flex) + array(None, flex) + (b"\x00" if flex else b"")], flex) \
                    + boolean(True) + (boolean(True) if v >= 3 else b"") + (b"\x00" if flex else b""), False
            for flex, v in ((False, 0), (True, 2)):  # AlterConfigs (validate_only)
                yield 33, v, flex, array([i8(2) + string("fuzz-target", flex) + array([string("retention.ms", flex) + string("5000", flex) + (b"\x00" if flex else b"")], flex)
                                          + (b"\x00" if flex else b"")], flex) + boolean(True) + (b"\x00" if flex else b""), False
            for flex, v in ((False, 0), (True, 1)):  # IncrementalAlterConfigs (validate_only)
                yield 44, v, flex, array([i8(2) + string("fuzz-target", flex) + array([string("cleanup.policy", flex) + i8(2) + string("compact", flex) + (b"\x00" if flex else b"")], flex)
                                          + (b"\x00" if flex else b"")], flex) + boolean(True) + (b"\x00" if flex else b""), False

        def mutate(body, truncate_only):
            b2 = bytearray(body)
            kind = rnd.randrange(4) if not truncate_only else 0
            if kind == 0 and b2:
                del b2[rnd.randrange(len(b2)):]
            elif kind == 1 and b2:
                for _ in range(rnd.randrange(1, 4)):
                    b2[rnd.randrange(len(b2))] ^= 1 << rnd.randrange(8)
            elif kind == 2 and len(b2) > 4:
                at = rnd.randrange(len(b2) - 3)
                b2[at:at + 4] = rnd.choice([b"\x7f\xff\xff\xff", b"\xff\xff\xff\xff", b"\x80\x00\x00\x00", b"\x00\x01\x00\x00"])
            else:
                at = rnd.randrange(len(b2) + 1)
                b2[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 8)))
            return bytes(b2)

        hung, cases = [], 0
        for key, v, flex, body, truncate_only in list(seeds()):
            for _ in range(25):
                m = mutate(body, truncate_only)
                cases += 1
                k = KafkaConn(port, timeout=3)
                k.send(key, v, m, flex)
                try:
                    k.sock.settimeout(3)
                    k.recv_frame()  # an answer or a close; either is fine
                except socket.timeout:
                    hung.append((key, v, m.hex()[:80]))
                k.close()
        tap.ok(not hung, "%d mutated admin requests each got an answer or a close" % cases, hung[:3])
        tap.ok(b.running() and healthy(port), "broker healthy after mutated admin requests", b.log_tail())
        t = metadata_topics(port)
        tap.ok(not any(n.startswith("fuzz-new") for n in t), "validate_only seeds created nothing", sorted(t))
    tap.run("mutations", mutations)

    # ---- a slow client holding a half-sent frame does not block others
    def slow_client():
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(i32(100) + b"\x00\x03")
        t0 = time.time()
        ok = healthy(port)
        tap.ok(ok and time.time() - t0 < 5, "a half-sent frame on one connection does not block another")
        s.close()
    tap.run("slow client", slow_client)

    tap.ok(b.running(), "broker process is still alive", b.log_tail())
    tap.ok(b.stop() == 0, "clean shutdown after bad input", b.log_tail())


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        tap.ok(False, "test_badinput ran to the end", repr(e))
    tap.finish()
    sys.exit(0)
