#!/usr/bin/python3
"""test_avro_python.py — python3-avro (Debian's reference Avro implementation)
reads every manifest list and manifest braid writes, and finds in them what the
Iceberg spec requires: field ids on every field, v2 header metadata, sequence
numbers (explicit or inherited), and data files that exist with the row counts
braid reports. braid builds the table through `build/tests/test_iceberg
--scenario DIR` (appends, a file delete, schema evolution, a row delete,
compaction). It also checks the reverse direction: braid reads every Avro type
that python3-avro writes, and refuses truncated files by name."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import avro.datafile
import avro.errors
import avro.io
import avro.schema

# Iceberg marks int-keyed maps (arrays of key/value records) with logicalType "map",
# which Avro readers rightly ignore.
warnings.filterwarnings("ignore", category=avro.errors.IgnoredLogicalType)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
failures = 0


def check(name, ok, detail=""):
    global failures
    if ok:
        print(f"ok - {name}")
    else:
        failures += 1
        print(f"not ok - {name}" + (f": {detail}" if detail else ""))


def read_avro(path):
    with open(path, "rb") as f:
        reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
        meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in reader.meta.items()}
        records = list(reader)
        reader.close()
    return meta, records


def field_ids_everywhere(schema, where, missing):
    """Every record field must carry a field-id (Iceberg's schema mapping)."""
    if isinstance(schema, list):
        for s in schema:
            field_ids_everywhere(s, where, missing)
    elif isinstance(schema, dict):
        if schema.get("type") == "record":
            for f in schema["fields"]:
                if "field-id" not in f:
                    missing.append(f"{where}.{f['name']}")
                field_ids_everywhere(f["type"], f"{where}.{f['name']}", missing)
        elif schema.get("type") == "array":
            field_ids_everywhere(schema["items"], where, missing)


ALL_TYPES = {
    "type": "record", "name": "all", "namespace": "t", "fields": [
        {"name": "n", "type": "null"},
        {"name": "b", "type": "boolean"},
        {"name": "i", "type": "int"},
        {"name": "l", "type": "long"},
        {"name": "f", "type": "float"},
        {"name": "d", "type": "double"},
        {"name": "by", "type": "bytes"},
        {"name": "s", "type": "string"},
        {"name": "e", "type": {"type": "enum", "name": "color", "symbols": ["R", "G", "B"]}},
        {"name": "a", "type": {"type": "array", "items": "long"}},
        {"name": "m", "type": {"type": "map", "values": "string"}},
        {"name": "u", "type": ["null", "string", "long"]},
        {"name": "fx", "type": {"type": "fixed", "name": "four", "size": 4}},
        {"name": "r", "type": {"type": "record", "name": "inner", "fields": [{"name": "x", "type": "int"}]}},
        {"name": "r2", "type": "inner"},
        {"name": "ra", "type": {"type": "array", "items": "t.inner"}},
    ]}


def all_types_row(k):
    return {"n": None, "b": k % 2 == 1, "i": -k * 1000, "l": k * 123456789012, "f": 1.5 * k, "d": -2.25 * k,
            "by": bytes([k % 256, 0, 255]), "s": f"str\"{k}\u00e9", "e": ["R", "G", "B"][k % 3],
            "a": list(range(k % 4)), "m": {f"k{j}": f"v{j}" for j in range(k % 3)},
            "u": [None, f"u{k}", k][k % 3], "fx": b"ab" + bytes([k % 256, 7]), "r": {"x": k}, "r2": {"x": -k},
            "ra": [{"x": j} for j in range(k % 3)]}


def expected_json(row):
    out = {}
    for k, v in row.items():
        if isinstance(v, bytes):
            v = v.hex()
        out[k] = v
    return out


def reverse_direction(tmp):
    """python3-avro writes every Avro type (null and deflate codecs, several
    blocks); braid's reader decodes the same values."""
    tool = os.path.join(ROOT, "build", "tests", "test_avro")
    if not os.access(tool, os.X_OK):
        subprocess.run(["make", "-C", ROOT, "-j2", "build/tests/test_avro"], check=True, stdout=subprocess.DEVNULL)
    schema = avro.schema.parse(json.dumps(ALL_TYPES))
    rows = [all_types_row(k) for k in range(300)]
    for codec in ("null", "deflate"):
        path = os.path.join(tmp, f"all-{codec}.avro")
        with open(path, "wb") as f:
            w = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(), schema, codec=codec)
            for j, r in enumerate(rows):
                w.append(r)
                if j % 50 == 49:
                    w.flush()  # several blocks
            w.close()
        res = subprocess.run([tool, "--dump", path], capture_output=True, text=True)
        got = [json.loads(line) for line in res.stdout.splitlines()]
        want = [expected_json(r) for r in rows]
        diff = next((i for i, (g, e) in enumerate(zip(got, want)) if g != e), None)
        check(f"braid reads every Avro type python3-avro wrote ({codec} codec)",
              res.returncode == 0 and len(got) == len(want) and diff is None,
              res.stderr.strip() or (f"row {diff}: {got[diff]} vs {want[diff]}" if diff is not None
                                     else f"{len(got)} rows"))
        # A truncated copy is refused with the file's name, never a crash.
        data = open(path, "rb").read()
        cut = os.path.join(tmp, f"cut-{codec}.avro")
        with open(cut, "wb") as f:
            f.write(data[: len(data) * 2 // 3])
        res = subprocess.run([tool, "--dump", cut], capture_output=True, text=True)
        check(f"braid refuses a truncated {codec} file naming it", res.returncode == 1 and cut in res.stderr,
              res.stderr.strip()[:200])


def main():
    tool = os.path.join(ROOT, "build", "tests", "test_iceberg")
    if not os.access(tool, os.X_OK):
        subprocess.run(["make", "-C", ROOT, "-j2", "build/tests/test_iceberg"], check=True,
                       stdout=subprocess.DEVNULL)
    tmp = tempfile.mkdtemp(prefix="braid-avro-py-")
    try:
        out = subprocess.run([tool, "--scenario", tmp], check=True, capture_output=True, text=True).stdout
        scenario = json.loads(out)
        check("braid builds the scenario table", len(scenario["versions"]) >= 5)
        mdir = os.path.join(tmp, "lake", "db", "events", "metadata")
        lists = sorted(glob.glob(os.path.join(mdir, "snap-*.avro")))
        manifests = sorted(set(glob.glob(os.path.join(mdir, "*.avro"))) - set(lists))
        check("manifest lists and manifests were written", len(lists) >= 5 and len(manifests) >= 5,
              f"{len(lists)} lists, {len(manifests)} manifests")

        # Manifest lists
        bad = []
        listed = {}
        for path in lists:
            try:
                meta, recs = read_avro(path)
            except Exception as e:  # noqa: BLE001 - any failure is a test failure
                bad.append(f"{os.path.basename(path)}: {e}")
                continue
            schema = json.loads(meta["avro.schema"])
            missing = []
            field_ids_everywhere(schema, "manifest_file", missing)
            if missing:
                bad.append(f"{os.path.basename(path)} fields without field-id: {missing}")
            if meta.get("format-version") != "2" or "snapshot-id" not in meta or "sequence-number" not in meta:
                bad.append(f"{os.path.basename(path)} header metadata {sorted(meta)}")
            for r in recs:
                for key in ("manifest_path", "manifest_length", "partition_spec_id", "content", "sequence_number",
                            "min_sequence_number", "added_snapshot_id", "added_files_count",
                            "existing_files_count", "deleted_files_count", "added_rows_count",
                            "existing_rows_count", "deleted_rows_count"):
                    if r.get(key) is None:
                        bad.append(f"{os.path.basename(path)}: {key} is null")
                mp = r["manifest_path"].removeprefix("file://")
                if not os.path.exists(mp) or os.path.getsize(mp) != r["manifest_length"]:
                    bad.append(f"{os.path.basename(path)}: manifest {mp} missing or of another length")
                if r["min_sequence_number"] > r["sequence_number"]:
                    bad.append(f"{os.path.basename(path)}: min_sequence_number > sequence_number")
                if len(r.get("partitions") or []) != 2:
                    bad.append(f"{os.path.basename(path)}: expected 2 partition summaries")
                listed[mp] = r
        check("python3-avro reads every manifest list with the spec's fields", not bad, "; ".join(bad[:5]))

        # Manifests
        bad = []
        live_rows = {}
        for path in manifests:
            try:
                meta, recs = read_avro(path)
            except Exception as e:  # noqa: BLE001
                bad.append(f"{os.path.basename(path)}: {e}")
                continue
            schema = json.loads(meta["avro.schema"])
            missing = []
            field_ids_everywhere(schema, "manifest_entry", missing)
            if missing:
                bad.append(f"{os.path.basename(path)} fields without field-id: {missing}")
            for key in ("schema", "schema-id", "partition-spec", "partition-spec-id", "format-version", "content"):
                if key not in meta:
                    bad.append(f"{os.path.basename(path)} header lacks {key}")
            json.loads(meta["schema"])
            spec = json.loads(meta["partition-spec"])
            if [f["transform"] for f in spec] != ["bucket[2]", "day"]:
                bad.append(f"{os.path.basename(path)} partition-spec {spec}")
            for r in recs:
                st, df = r["status"], r["data_file"]
                if st not in (0, 1, 2):
                    bad.append(f"status {st}")
                if st != 1 and (r["sequence_number"] is None or r["file_sequence_number"] is None):
                    bad.append("EXISTING/DELETED entry without explicit sequence numbers")
                fp = df["file_path"].removeprefix("file://")
                if df["file_format"] != "PARQUET" or df["content"] != 0:
                    bad.append(f"{fp}: format {df['file_format']} content {df['content']}")
                if set(df["partition"]) != {"id_bucket", "ts_day"}:
                    bad.append(f"partition tuple {df['partition']}")
                if st != 2 and (not os.path.exists(fp) or os.path.getsize(fp) != df["file_size_in_bytes"]):
                    bad.append(f"{fp}: live data file missing or of another size")
                vc = {e["key"]: e["value"] for e in (df["value_counts"] or [])}
                if vc.get(1) != df["record_count"]:
                    bad.append(f"{fp}: value_counts[id] {vc.get(1)} != record_count {df['record_count']}")
                lo = {e["key"]: e["value"] for e in (df["lower_bounds"] or [])}
                hi = {e["key"]: e["value"] for e in (df["upper_bounds"] or [])}
                if len(lo.get(1, b"")) != 8 or int.from_bytes(lo[1], "little") > int.from_bytes(hi[1], "little"):
                    bad.append(f"{fp}: bounds of id")
                if st != 2:
                    live_rows[fp] = df["record_count"]
        check("python3-avro reads every manifest with the spec's fields", not bad, "; ".join(bad[:5]))

        # The current snapshot's live files hold exactly the rows braid returns.
        final = scenario["versions"][-1]
        _, lrecs = read_avro(next(p for p in lists if str(final["snapshot"]) in os.path.basename(p)))
        total = 0
        for m in lrecs:
            _, recs = read_avro(m["manifest_path"].removeprefix("file://"))
            total += sum(r["data_file"]["record_count"] for r in recs if r["status"] != 2)
        check("row counts in the current manifests match braid's scan", total == len(final["rows"]),
              f"{total} vs {len(final['rows'])}")

        check("scenario keeps the frontier through compaction", scenario["frontier"] == "kept")
        reverse_direction(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
