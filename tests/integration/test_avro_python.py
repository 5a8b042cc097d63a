#!/usr/bin/python3
"""test_avro_python.py — python3-avro (Debian's reference Avro implementation)
reads every manifest list and manifest braid writes, and finds in them what the
Iceberg spec requires: field ids on every field, v2 header metadata, sequence
numbers (explicit or inherited), and data files that exist with the row counts
braid reports. braid builds the table through `build/tests/test_iceberg
--scenario DIR` (appends, a delete, schema evolution, compaction)."""
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
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
