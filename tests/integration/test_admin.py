# test_admin.py — topic administration at the wire level: CreateTopics,
# DeleteTopics, CreatePartitions, DescribeConfigs, AlterConfigs and
# IncrementalAlterConfigs at old, new and flexible versions, each per-topic error
# code, and that everything survives a restart. Raw requests (braidtest.KafkaConn)
# pin exact versions, which real clients each negotiate only one of.
import sys


sys.dont_write_bytecode = True  # keep tests/ free of __pycache__

from braidtest import (Broker, KafkaConn, Reader, api_versions, array, boolean, healthy, i8, i16, i32,
                       metadata_topics, string, tags, tap)

CREATE, DELETE, DESCRIBE, ALTER, CREATE_PARTS, INC_ALTER = 19, 20, 32, 33, 37, 44
TOPIC, BROKER = 2, 4


def create(c, v, topics, validate=False):
    """topics: list of (name, partitions, rf, assignments, configs). Returns list of dicts."""
    flex = v >= 5
    items = []
    for name, np, rf, assigns, configs in topics:
        items.append(string(name, flex) + i32(np) + i16(rf)
                     + array([i32(p) + array([i32(x) for x in ids], flex) + tags(flex) for p, ids in assigns], flex)
                     + array([string(k, flex) + string(val, flex) + tags(flex) for k, val in configs], flex)
                     + tags(flex))
    body = array(items, flex) + i32(10000) + (boolean(validate) if v >= 1 else b"") + tags(flex)
    r = c.request(CREATE, v, body, flex)
    if v >= 2:
        r.i32()

    def topic(x):
        d = {"name": x.string()}
        if v >= 7:
            d["id"] = x.uuid()
        d["error"] = x.i16()
        d["msg"] = x.string() if v >= 1 else None
        if v >= 5:
            d["np"], d["rf"] = x.i32(), x.i16()

            def cfg(y):
                e = (y.string(), y.string(), y.bool(), y.i8(), y.bool())
                y.tags()
                return e
            d["configs"] = {e[0]: e for e in (x.array(cfg) or [])}
        x.tags()
        return d
    res = r.array(topic)
    r.tags()
    return res


def one(c, v, name, np=1, rf=-1, assigns=(), configs=(), validate=False):
    return create(c, v, [(name, np, rf, list(assigns), list(configs))], validate)[0]


def delete(c, v, names=(), ids=()):
    flex = v >= 4
    if v >= 6:
        items = [string(n, flex) + bytes(16) + tags(flex) for n in names]
        items += [string(None, flex) + i + tags(flex) for i in ids]
    else:
        items = [string(n, flex) for n in names]
    r = c.request(DELETE, v, array(items, flex) + i32(10000) + tags(flex), flex)
    if v >= 1:
        r.i32()

    def res(x):
        d = {"name": x.string()}
        if v >= 6:
            d["id"] = x.uuid()
        d["error"] = x.i16()
        d["msg"] = x.string() if v >= 5 else None
        x.tags()
        return d
    out = r.array(res)
    r.tags()
    return out


def create_partitions(c, v, name, count, assigns=None, validate=False):
    flex = v >= 2
    a = None if assigns is None else [array([i32(x) for x in ids], flex) + tags(flex) for ids in assigns]
    body = array([string(name, flex) + i32(count) + array(a, flex) + tags(flex)], flex) + i32(10000) + boolean(validate) + tags(flex)
    r = c.request(CREATE_PARTS, v, body, flex)
    r.i32()

    def res(x):
        d = {"name": x.string(), "error": x.i16(), "msg": x.string()}
        x.tags()
        return d
    out = r.array(res)
    r.tags()
    return out[0]


def describe(c, v, resources, synonyms=False, docs=False):
    """resources: list of (type, name, keys or None). Returns list of dicts."""
    flex = v >= 4
    items = [i8(t) + string(n, flex) + array(None if k is None else [string(x, flex) for x in k], flex) + tags(flex)
             for t, n, k in resources]
    body = array(items, flex) + (boolean(synonyms) if v >= 1 else b"") + (boolean(docs) if v >= 3 else b"") + tags(flex)
    r = c.request(DESCRIBE, v, body, flex)
    r.i32()

    def entry(x):
        e = {"name": x.string(), "value": x.string(), "read_only": x.bool()}
        if v == 0:
            e["is_default"] = x.bool()
        else:
            e["source"] = x.i8()
        e["sensitive"] = x.bool()
        if v >= 1:
            def syn(y):
                s = (y.string(), y.string(), y.i8())
                y.tags()
                return s
            e["synonyms"] = x.array(syn)
        if v >= 3:
            e["type"], e["doc"] = x.i8(), x.string()
        x.tags()
        return e

    def res(x):
        d = {"error": x.i16(), "msg": x.string(), "type": x.i8(), "name": x.string()}
        d["configs"] = {e["name"]: e for e in x.array(entry)}
        x.tags()
        return d
    out = r.array(res)
    r.tags()
    return out


def topic_configs(c, name, v=1):
    d = describe(c, v, [(TOPIC, name, None)], synonyms=True)[0]
    assert d["error"] == 0, d
    return d["configs"]


def alter(c, v, resources, validate=False, incremental=False):
    """resources: list of (type, name, [(key, value)] or [(key, op, value)] when incremental)."""
    flex = v >= (1 if incremental else 2)
    items = []
    for t, n, cfgs in resources:
        if incremental:
            ce = [string(k, flex) + i8(op) + string(val, flex) + tags(flex) for k, op, val in cfgs]
        else:
            ce = [string(k, flex) + string(val, flex) + tags(flex) for k, val in cfgs]
        items.append(i8(t) + string(n, flex) + array(ce, flex) + tags(flex))
    r = c.request(INC_ALTER if incremental else ALTER, v, array(items, flex) + boolean(validate) + tags(flex), flex)
    r.i32()

    def res(x):
        d = {"error": x.i16(), "msg": x.string(), "type": x.i8(), "name": x.string()}
        x.tags()
        return d
    out = r.array(res)
    r.tags()
    return out


def all_topics(port):
    return metadata_topics(port)  # null topic list: every topic, creates none


def main():
    b = Broker()
    port = b.port
    c = KafkaConn(port)

    def versions():
        v = api_versions(port)
        want = {CREATE: 7, DELETE: 6, CREATE_PARTS: 3, DESCRIBE: 4, ALTER: 2, INC_ALTER: 1}
        tap.ok(all(k in v and v[k][0] == 0 and v[k][1] >= m for k, m in want.items()),
               "ApiVersions lists the admin APIs at their versions", repr({k: v.get(k) for k in want}))
    tap.run("api versions", versions)

    def create_versions():
        d = one(c, 0, "adm-v0", np=2)
        tap.eq(d["error"], 0, "CreateTopics v0 creates a 2-partition topic")
        tap.eq(all_topics(port).get("adm-v0"), (0, 2), "Metadata shows 2 partitions for it")
        d = one(c, 4, "adm-v4", np=-1, rf=-1)
        tap.ok(d["error"] == 0 and d["msg"] is None, "CreateTopics v4 with default partitions and replication", d)
        tap.ok(all_topics(port).get("adm-v4", (1, 0))[1] >= 1, "default-partition topic exists")
        d = one(c, 5, "adm-v5", np=3, configs=[("retention.ms", "3600000")])
        tap.ok(d["error"] == 0 and d["np"] == 3 and d["rf"] == 1, "CreateTopics v5 (flexible) returns partitions and replication", d)
        e = d["configs"].get("retention.ms")
        tap.ok(e is not None and e[1] == "3600000" and e[3] == 1, "v5 response reports the override with source TOPIC_CONFIG", e)
        tap.ok("segment.bytes" in d["configs"], "v5 response reports the defaults too", sorted(d["configs"]))
        d = one(c, 7, "adm-v7", np=1)
        tap.ok(d["error"] == 0 and d["id"] != bytes(16), "CreateTopics v7 returns a topic id", d)
        return d["id"]
    ids = {}

    def cv():
        ids["v7"] = create_versions()
    tap.run("create versions", cv)

    def create_errors():
        long_name = "x" * 250
        res = create(c, 1, [
            ("adm-v0", 1, 1, [], []),                        # exists
            ("bad/name", 1, 1, [], []),
            ("..", 1, 1, [], []),
            (long_name, 1, 1, [], []),
            ("", 1, 1, [], []),
            ("adm-rf3", 1, 3, [], []),
            ("adm-p0", 0, 1, [], []),
            ("adm-pneg", -5, 1, [], []),
            ("adm-assign", -1, -1, [(0, [0])], []),
            ("adm-badkey", 1, 1, [], [("no.such.config", "1")]),
            ("adm-badval", 1, 1, [], [("retention.ms", "soon")]),
            ("adm-dup", 1, 1, [], []),
            ("adm-dup", 2, 1, [], []),
            ("adm-good", 2, 1, [], []),
        ])
        want = [36, 17, 17, 17, 17, 38, 37, 37, 42, 40, 40, 42, 42, 0]
        got = [d["error"] for d in res]
        tap.eq(got, want, "CreateTopics: one error code per topic (exists, names, rf, partitions, assignment, configs, duplicates)")
        tap.ok(all(d["msg"] for d in res[:-1]) and res[-1]["msg"] is None, "every failure carries a message",
               [d["msg"] for d in res])
        tap.ok("bad/name" in (res[1]["msg"] or "") or "bad/name" == res[1]["name"], "the message or name identifies the topic", res[1])
        t = all_topics(port)
        tap.ok("adm-good" in t and "adm-dup" not in t and "adm-rf3" not in t, "only the valid topic of the batch was created", sorted(t))
        d = one(c, 1, "adm-validate", np=4, validate=True)
        tap.eq(d["error"], 0, "validate_only: a valid topic passes")
        tap.ok("adm-validate" not in all_topics(port), "validate_only: nothing is created")
        d = one(c, 1, "adm-validate", np=4, rf=2, validate=True)
        tap.eq(d["error"], 38, "validate_only still reports errors")
        tap.eq(one(c, 1, "adm_col", np=1)["error"], 0, "create adm_col")
        res = create(c, 1, [("adm.col", 1, 1, [], []), ("adm.x_y", 1, 1, [], []), ("adm_x.y", 1, 1, [], [])])
        tap.eq([d["error"] for d in res], [17, 0, 17], "names differing only in '.' vs '_' collide (existing and within one request)")
        d = one(c, 1, "adm-nul\x00/../x", np=1)
        tap.ok(d["error"] == 17 and "adm-nul" not in all_topics(port), "a NUL inside a topic name is invalid, not a cut-off name", d)
        d = one(c, 6, "bad name!", np=1)
        tap.eq(d["error"], 17, "CreateTopics v6 (flexible) invalid name -> INVALID_TOPIC_EXCEPTION")
    tap.run("create errors", create_errors)

    def partitions():
        d = create_partitions(c, 0, "adm-v0", 4)
        tap.eq(d["error"], 0, "CreatePartitions v0 grows 2 -> 4")
        tap.eq(all_topics(port).get("adm-v0"), (0, 4), "Metadata shows 4 partitions")
        tap.eq(create_partitions(c, 1, "adm-v0", 4)["error"], 37, "same count -> INVALID_PARTITIONS")
        d = create_partitions(c, 2, "adm-v0", 3)
        tap.ok(d["error"] == 37 and d["msg"], "shrinking -> INVALID_PARTITIONS with a message (v2 flexible)", d)
        tap.eq(create_partitions(c, 3, "adm-none", 5)["error"], 3, "unknown topic -> UNKNOWN_TOPIC_OR_PARTITION")
        tap.eq(create_partitions(c, 3, "adm-v0", 6, validate=True)["error"], 0, "validate_only passes")
        tap.eq(all_topics(port).get("adm-v0"), (0, 4), "validate_only changes nothing")
        tap.eq(create_partitions(c, 0, "adm-v0", 5, assigns=[[0]])["error"], 42, "manual assignment -> INVALID_REQUEST")
    tap.run("create partitions", partitions)

    def describe_configs():
        for v in range(5):
            d = describe(c, v, [(TOPIC, "adm-v5", None)], synonyms=True, docs=True)[0]
            cf = d["configs"]
            e = cf.get("retention.ms")
            ok = d["error"] == 0 and e is not None and e["value"] == "3600000" and not e["read_only"]
            if v == 0:
                ok = ok and e["is_default"] is False and cf["segment.bytes"]["is_default"] is True
            else:
                ok = ok and e["source"] == 1 and e["synonyms"] and e["synonyms"][0][2] == 1
                ok = ok and cf["segment.bytes"]["source"] in (4, 5)
            if v >= 3:
                ok = ok and e["type"] == 5  # LONG
            tap.ok(ok, "DescribeConfigs v%d topic: override, source, synonyms%s" % (v, ", type" if v >= 3 else ""), d)
        d = describe(c, 1, [(TOPIC, "adm-v5", ["retention.ms", "segment.bytes"])])[0]
        tap.eq(sorted(d["configs"]), ["retention.ms", "segment.bytes"], "DescribeConfigs returns only the keys asked for")
        d = describe(c, 1, [(TOPIC, "adm-v5", None)], synonyms=False)[0]
        tap.ok(all(not e["synonyms"] for e in d["configs"].values()), "no synonyms unless asked for")
        res = describe(c, 4, [(TOPIC, "adm-missing", None), (TOPIC, "bad/name", None), (BROKER, "0", None), (BROKER, "", None), (8, "x", None)])
        tap.eq([d["error"] for d in res], [3, 17, 0, 0, 42], "DescribeConfigs: per-resource errors (unknown, invalid, broker, default broker, unsupported type)")
        bc = res[2]["configs"]
        tap.ok("num.partitions" in bc and all(e["read_only"] for e in bc.values()), "broker configs are listed read-only", sorted(bc))
        tap.ok("adm-missing" not in all_topics(port), "describing an unknown topic does not create it")
    tap.run("describe configs", describe_configs)

    def alter_configs():
        one(c, 1, "adm-alter", np=1, configs=[("retention.ms", "3600000"), ("retention.bytes", "1073741824")])
        r = alter(c, 0, [(TOPIC, "adm-alter", [("retention.ms", "7200000")])])
        tap.eq(r[0]["error"], 0, "AlterConfigs v0 sets retention.ms")
        cf = topic_configs(c, "adm-alter")
        tap.ok(cf["retention.ms"]["value"] == "7200000" and cf["retention.ms"]["source"] == 1,
               "retention.ms is now 7200000", cf["retention.ms"])
        tap.ok(cf["retention.bytes"]["source"] != 1, "AlterConfigs replaces all overrides (retention.bytes reverted)", cf["retention.bytes"])
        r = alter(c, 2, [(TOPIC, "adm-alter", [("retention.ms", "1000")])], validate=True)
        tap.ok(r[0]["error"] == 0 and topic_configs(c, "adm-alter")["retention.ms"]["value"] == "7200000",
               "AlterConfigs v2 validate_only changes nothing", r)
        r = alter(c, 1, [(TOPIC, "adm-alter", [("retention.ms", "never")]), (TOPIC, "adm-missing", [("retention.ms", "1")]),
                         (BROKER, "0", [("num.partitions", "9")]), (TOPIC, "adm-v4", [("segment.ms", "600000")])])
        tap.eq([x["error"] for x in r], [40, 3, 42, 0], "AlterConfigs: per-resource errors (bad value, unknown topic, broker read-only), valid one applied")
        tap.ok(r[0]["msg"] and "retention.ms" in r[0]["msg"], "bad value message names the config", r[0])
        tap.eq(topic_configs(c, "adm-alter")["retention.ms"]["value"], "7200000", "failed alter left the topic unchanged")
    tap.run("alter configs", alter_configs)

    def incremental():
        r = alter(c, 0, [(TOPIC, "adm-alter", [("retention.bytes", 0, "1048576"), ("retention.ms", 1, None)])], incremental=True)
        tap.eq(r[0]["error"], 0, "IncrementalAlterConfigs v0: SET and DELETE")
        cf = topic_configs(c, "adm-alter")
        tap.ok(cf["retention.bytes"]["value"] == "1048576" and cf["retention.bytes"]["source"] == 1
               and cf["retention.ms"]["source"] != 1, "SET added an override, DELETE removed one",
               (cf["retention.bytes"], cf["retention.ms"]))
        r = alter(c, 1, [(TOPIC, "adm-alter", [("segment.ms", 0, "3600000")])], incremental=True)
        cf = topic_configs(c, "adm-alter")
        tap.ok(r[0]["error"] == 0 and cf["segment.ms"]["value"] == "3600000" and cf["retention.bytes"]["value"] == "1048576",
               "IncrementalAlterConfigs v1 (flexible) keeps overrides it does not name", r)
        r = alter(c, 1, [(TOPIC, "adm-alter", [("retention.ms", 2, "5")]), (TOPIC, "adm-alter2", [("x", 0, "1")]),
                         (TOPIC, "adm-good", [("no.such.config", 0, "1")]), (TOPIC, "adm-v4", [("segment.ms", 9, "1")])],
                  incremental=True)
        errs = [x["error"] for x in r]
        tap.ok(errs[0] in (40, 42) and errs[1] == 3 and errs[2] == 40 and errs[3] == 42,
               "IncrementalAlterConfigs: APPEND on a non-list, unknown topic, unknown key, unknown operation", errs)
        r = alter(c, 1, [(TOPIC, "adm-good", [("segment.ms", 0, "60000")]), (TOPIC, "adm-good", [("segment.ms", 0, "120000")])],
                  incremental=True)
        tap.eq([x["error"] for x in r], [42, 42], "the same resource twice -> INVALID_REQUEST for both")
        r = alter(c, 0, [(TOPIC, "adm-alter", [("segment.ms", 0, "1"), ("segment.ms", 1, None)])], incremental=True)
        tap.eq(r[0]["error"], 42, "the same key twice in one resource -> INVALID_REQUEST")
    tap.run("incremental alter", incremental)

    def deletes():
        r = delete(c, 0, ["adm-v0"])
        tap.ok(r[0]["error"] == 0 and r[0]["name"] == "adm-v0", "DeleteTopics v0", r)
        tap.ok("adm-v0" not in all_topics(port), "deleted topic is gone from Metadata")
        r = delete(c, 4, ["adm-v4", "adm-missing", "bad/name"])
        tap.eq([x["error"] for x in r], [0, 3, 17], "DeleteTopics v4 (flexible): per-topic errors")
        r = delete(c, 5, ["adm-missing"])
        tap.ok(r[0]["error"] == 3 and r[0]["msg"], "DeleteTopics v5 error message", r)
        if "v7" in ids:
            r = delete(c, 6, ids=[ids["v7"]])
            tap.ok(r[0]["error"] == 0 and r[0]["name"] == "adm-v7" and r[0]["id"] == ids["v7"], "DeleteTopics v6 by topic id", r)
        r = delete(c, 6, ids=[b"\x01" * 16])
        tap.eq(r[0]["error"], 100, "DeleteTopics v6 unknown id -> UNKNOWN_TOPIC_ID")
        t = all_topics(port)
        tap.ok("adm-v7" not in t and "adm-v4" not in t, "topics deleted by name and id are gone", sorted(t))
        d = one(c, 1, "adm-v0", np=1)
        tap.ok(d["error"] == 0 and all_topics(port).get("adm-v0") == (0, 1), "a deleted topic's name can be reused", d)
    tap.run("delete topics", deletes)

    def malformed():
        # A CreateTopics whose array claims 1000 topics but carries one: closed, nothing created.
        body = i32(1000) + string("adm-trunc") + i32(1) + i16(1) + i32(0) + i32(0)
        c2 = KafkaConn(port)
        c2.send(CREATE, 1, body)
        tap.ok(c2.closed(), "truncated CreateTopics closes the connection")
        c2.close()
        body = array([string("adm-trunc2") + i32(1) + i16(1) + i32(0) + i32(0)])  # no timeout / validate_only
        c2 = KafkaConn(port)
        c2.send(CREATE, 1, body)
        tap.ok(c2.closed(), "CreateTopics missing its trailing fields closes the connection")
        c2.close()
        t = all_topics(port)
        tap.ok("adm-trunc" not in t and "adm-trunc2" not in t, "a malformed request creates nothing", sorted(t))
        for key in (DELETE, CREATE_PARTS, DESCRIBE, ALTER, INC_ALTER):
            c2 = KafkaConn(port)
            c2.send(key, 0, i32(5) + b"\x00")
            tap.ok(c2.closed(), "truncated request to api %d closes the connection" % key)
            c2.close()
        c2 = KafkaConn(port)
        c2.send(DELETE, 1, array([string("")] * 200000) + i32(1000))
        tap.ok(c2.closed(), "DeleteTopics naming 200,000 topics is refused (closed), not amplified")
        c2.close()
        r = delete(c, 1, [""] * 1000)
        tap.ok(len(r) == 1000 and all(x["error"] == 42 for x in r), "1,000 duplicate names each get INVALID_REQUEST", r[:2])
        tap.ok(healthy(port), "broker still serves after malformed admin requests")
    tap.run("malformed", malformed)

    def delete_under_load():
        # A long-polling Fetch parked on a topic, then the topic is deleted from another
        # connection: the parked request must be answered (or its connection closed)
        # without the broker touching the deleted partition.
        from braidtest import i64
        tap.eq(one(c, 1, "adm-busy", np=2)["error"], 0, "create adm-busy")
        f = KafkaConn(port)
        parts = array([i32(p) + i64(0) + i32(1 << 20) for p in range(2)])
        f.send(1, 4, i32(-1) + i32(3000) + i32(1 << 20) + i32(1 << 20) + i8(0) + array([string("adm-busy") + parts]))
        import time as _t
        _t.sleep(0.3)
        r = delete(c, 1, ["adm-busy"])
        tap.eq(r[0]["error"], 0, "delete a topic with a Fetch parked on it")
        f.sock.settimeout(10)
        frame = f.recv_frame()
        tap.ok(True, "the parked Fetch got %s" % ("an answer" if frame else "a closed connection"))
        f.close()
        tap.ok(healthy(port) and "adm-busy" not in all_topics(port), "broker healthy after deleting a topic under a parked Fetch")
        tap.eq(one(c, 1, "adm-busy", np=1)["error"], 0, "the name can be created again at once")
        delete(c, 1, ["adm-busy"])

    tap.run("delete under load", delete_under_load)

    def delete_while_producing():
        # acks=all produces wait for the group commit; deleting the topic meanwhile
        # must not leave the broker holding the deleted partition. Auto-creation
        # may bring the topic back: only the broker's survival is asserted.
        import threading
        import time as _t
        from confluent_kafka import Producer
        tap.eq(one(c, 1, "adm-stream", np=3)["error"], 0, "create adm-stream")
        stop = threading.Event()
        stats = {"ok": 0, "err": 0}

        def cb(err, m):
            stats["err" if err else "ok"] += 1

        def run():
            p = Producer({"bootstrap.servers": b.bootstrap, "acks": "all", "linger.ms": 1,
                          "message.timeout.ms": 5000})
            i = 0
            while not stop.is_set():
                try:
                    p.produce("adm-stream", value=b"%d" % i, on_delivery=cb)
                    i += 1
                except BufferError:
                    pass
                p.poll(0.0005 if i % 50 else 0.005)
            p.flush(10)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        for _ in range(3):
            _t.sleep(0.6)
            delete(c, 1, ["adm-stream"])
        _t.sleep(0.5)
        stop.set()
        th.join(30)
        tap.note("produced %d ok, %d failed around 3 deletions" % (stats["ok"], stats["err"]))
        tap.ok(b.running() and healthy(port), "broker healthy after deleting a topic under an acks=all stream", b.log_tail())
        delete(c, 1, ["adm-stream"])

    tap.run("delete while producing", delete_while_producing)

    def restart():
        c.close()
        b.restart()
        c2 = KafkaConn(port)
        t = all_topics(port)
        tap.ok(t.get("adm-v5") == (0, 3) and t.get("adm-good") == (0, 2) and "adm-v4" not in t,
               "topics, partition counts and deletions survive a restart", sorted(t.items()))
        cf = topic_configs(c2, "adm-alter")
        tap.ok(cf["retention.bytes"]["value"] == "1048576" and cf["segment.ms"]["value"] == "3600000"
               and cf["retention.ms"]["source"] != 1, "config overrides survive a restart",
               (cf["retention.bytes"], cf["segment.ms"], cf["retention.ms"]))
        c2.close()
    tap.run("restart", restart)

    def kafka_python_admin():
        from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewPartitions, NewTopic
        from kafka.errors import TopicAlreadyExistsError
        a = KafkaAdminClient(bootstrap_servers=b.bootstrap, client_id="adm")
        try:
            r = a.create_topics([NewTopic("adm-kp", 2, 1, topic_configs={"retention.ms": "60000"})])
            tap.ok(all(e[1] == 0 for e in r.topic_errors), "kafka-python create_topics", r)
            try:
                a.create_topics([NewTopic("adm-kp", 2, 1)])
                tap.ok(False, "kafka-python: duplicate topic raises TopicAlreadyExistsError")
            except TopicAlreadyExistsError:
                tap.ok(True, "kafka-python: duplicate topic raises TopicAlreadyExistsError")
            a.create_partitions({"adm-kp": NewPartitions(3)})
            tap.eq(all_topics(port).get("adm-kp"), (0, 3), "kafka-python create_partitions")
            r = a.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "adm-kp")])
            resp = r[0] if isinstance(r, list) else r
            res = resp.resources[0]
            cfg = {e[0]: e[1] for e in res[4]}
            tap.ok(res[0] == 0 and cfg.get("retention.ms") == "60000", "kafka-python describe_configs", res[:4])
            a.alter_configs([ConfigResource(ConfigResourceType.TOPIC, "adm-kp", configs={"retention.ms": "120000"})])
            tap.eq(topic_configs(KafkaConn(port), "adm-kp")["retention.ms"]["value"], "120000", "kafka-python alter_configs")
            r = a.delete_topics(["adm-kp"])
            tap.ok(all(e[1] == 0 for e in r.topic_error_codes) and "adm-kp" not in all_topics(port), "kafka-python delete_topics", r)
        finally:
            a.close()
    tap.run("kafka-python admin", kafka_python_admin)

    tap.ok(b.stop() == 0, "clean shutdown on SIGTERM exits 0", b.log_tail())


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        tap.ok(False, "test_admin ran to the end", repr(e))
    tap.finish()
    sys.exit(0)
