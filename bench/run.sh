#!/usr/bin/env bash
# bench/run.sh — the produce benchmark (`make bench`): builds the librdkafka
# drivers into build/bench/, measures the disk's raw sequential write speed, starts
# build/braid on a free port with a fresh data dir on that same disk, runs the
# throughput (100 B and 1 KiB records) and latency (fixed rate) benchmarks RUNS
# times, prints medians and the ratio to the disk, and stops braid.
#
# Knobs (environment): RUNS (3), COUNT_SMALL (3000000), COUNT_LARGE (1000000),
# LAT_RATE (50000), LAT_SECONDS (10), DD_MB (512), PARTITIONS (1),
# BENCH_DIR (build/bench/run; the data dir and the dd file live under it),
# BRAID_ARGS (extra flags for `braid serve`), KEEP=1 keeps the data dir,
# SKIP_PARQUET=1 / SKIP_TIER=1 / SKIP_SQL=1 leave out the later benchmarks,
# PROFILE=1 records braid with perf during the first throughput runs and prints
# the hottest symbols (build/bench/perf.data stays for `perf report`).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
COUNT_SMALL=${COUNT_SMALL:-3000000}
COUNT_LARGE=${COUNT_LARGE:-1000000}
LAT_RATE=${LAT_RATE:-50000}
LAT_SECONDS=${LAT_SECONDS:-10}
DD_MB=${DD_MB:-512}
PARTITIONS=${PARTITIONS:-1}
BENCH_DIR=${BENCH_DIR:-build/bench/run}
OUT=build/bench

if ! pkg-config --exists rdkafka; then
	echo "bench: librdkafka-dev is missing (apt-get install librdkafka-dev)" >&2
	exit 1
fi
[ -x build/braid ] || { echo "bench: build/braid missing (run make)" >&2; exit 1; }
mkdir -p "$OUT" "$BENCH_DIR"
for t in produce_bench latency_bench; do
	cc -std=c11 -O2 -Wall -Wextra -Werror -o "$OUT/$t" "bench/$t.c" $(pkg-config --cflags --libs rdkafka) -lpthread
done

DATA=$(mktemp -d "$BENCH_DIR/data.XXXXXX")
BRAID_PID=
cleanup() {
	if [ -n "$BRAID_PID" ] && kill -0 "$BRAID_PID" 2>/dev/null; then
		kill -TERM "$BRAID_PID" 2>/dev/null || true
		wait "$BRAID_PID" 2>/dev/null || true
	fi
	rm -f "$BENCH_DIR"/dd*.bin
	[ "${KEEP:-0}" = 1 ] || rm -rf "$DATA"
}
trap cleanup EXIT INT TERM

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "nan"}'; }
json_field() { sed -n "s/.*\"$1\":\([-0-9.]*\).*/\1/p"; }

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r), disk of $BENCH_DIR: $(df -h "$BENCH_DIR" | awk 'NR==2 {print $1}')"

# Raw sequential write speed of the same disk: dd with fdatasync so the page cache
# cannot flatter it. The files are kept until all RUNS are written: this virtual
# disk absorbs a first burst of ~0.5-1 GB much faster than it sustains, and the
# benchmarks write several GB, so the median of back-to-back runs is the fair figure.
dd_mbps=()
for i in $(seq "$RUNS"); do
	line=$(dd if=/dev/zero of="$BENCH_DIR/dd$i.bin" bs=1M count="$DD_MB" conv=fdatasync 2>&1 | tail -1)
	# "N bytes (...) copied, S s, ..." -> MB/s = N / S / 1e6
	mbps=$(echo "$line" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^copied,?$/) {print $1 / $(i+1) / 1e6; exit}}')
	dd_mbps+=("$mbps")
done
rm -f "$BENCH_DIR"/dd*.bin
DD=$(printf '%s\n' "${dd_mbps[@]}" | median)
echo "dd sequential write (${DD_MB} MiB, conv=fdatasync): ${dd_mbps[*]} MB/s -> median $DD MB/s"
# the floor under acks=all latency: one fdatasync of a small append on this disk
cc -std=c11 -O2 -Wall -Werror -o "$OUT/fsync_latency" bench/fsync_latency.c
FSYNC=$("$OUT/fsync_latency" "$BENCH_DIR/fsync.bin" 2000 8192)
echo "$FSYNC"

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
build/braid serve --data "$DATA" --kafka "127.0.0.1:$PORT" ${BRAID_ARGS:-} >"$BENCH_DIR/braid.log" 2>&1 &
BRAID_PID=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	kill -0 "$BRAID_PID" 2>/dev/null || { echo "bench: braid exited:" >&2; cat "$BENCH_DIR/braid.log" >&2; exit 1; }
	sleep 0.1
done
B=127.0.0.1:$PORT
echo "braid pid $BRAID_PID on $B, data $DATA"

small_rps=(); small_mb=(); large_rps=(); large_mb=(); p50=(); p99=()
for i in $(seq "$RUNS"); do
	PERF_PID=
	if [ "${PROFILE:-0}" = 1 ] && [ "$i" = 1 ]; then
		perf record -q -F 1999 -g -p "$BRAID_PID" -o "$OUT/perf.data" >/dev/null 2>&1 &
		PERF_PID=$!
		sleep 0.5
	fi
	j=$("$OUT/produce_bench" --brokers "$B" --topic "small-$i" --partitions "$PARTITIONS" --count "$COUNT_SMALL" --size 100 --json)
	echo "run $i 100 B : $j"
	small_rps+=("$(echo "$j" | json_field records_per_s)"); small_mb+=("$(echo "$j" | json_field mb_per_s)")
	j=$("$OUT/produce_bench" --brokers "$B" --topic "large-$i" --partitions "$PARTITIONS" --count "$COUNT_LARGE" --size 1024 --json)
	echo "run $i 1 KiB: $j"
	large_rps+=("$(echo "$j" | json_field records_per_s)"); large_mb+=("$(echo "$j" | json_field mb_per_s)")
	if [ -n "$PERF_PID" ]; then
		kill -INT "$PERF_PID"; wait "$PERF_PID" || true
		echo "== braid profile (throughput runs, self time)"
		perf report -i "$OUT/perf.data" --no-children --sort comm,dso,symbol --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -25 || true
	fi
	j=$("$OUT/latency_bench" --brokers "$B" --topic "lat-$i" --rate "$LAT_RATE" --seconds "$LAT_SECONDS" --json)
	echo "run $i latency: $j"
	p50+=("$(echo "$j" | json_field p50_ms)"); p99+=("$(echo "$j" | json_field p99_ms)")
done

S_RPS=$(printf '%s\n' "${small_rps[@]}" | median); S_MB=$(printf '%s\n' "${small_mb[@]}" | median)
L_RPS=$(printf '%s\n' "${large_rps[@]}" | median); L_MB=$(printf '%s\n' "${large_mb[@]}" | median)
P50=$(printf '%s\n' "${p50[@]}" | median); P99=$(printf '%s\n' "${p99[@]}" | median)
RATIO=$(awk -v a="$L_MB" -v b="$DD" 'BEGIN {printf "%.0f", (b > 0 ? 100 * a / b : 0)}')
echo
echo "== summary (median of $RUNS runs; MB/s counts value bytes, 1 MB = 10^6 B)"
printf '%-44s %12s %10s\n' "benchmark" "records/s" "MB/s"
printf '%-44s %12.0f %10.1f\n' "produce 100 B, acks=all, linger 5 ms" "$S_RPS" "$S_MB"
printf '%-44s %12.0f %10.1f\n' "produce 1 KiB, acks=all, linger 5 ms" "$L_RPS" "$L_MB"
printf '%-44s %12s %10.1f\n' "dd sequential write, fdatasync" "" "$DD"
echo "1 KiB produce / dd = ${RATIO}%   (target >= 70%)"
echo "100 B produce = ${S_RPS} records/s   (target >= 1000000)"
echo "latency at ${LAT_RATE}/s: p50 ${P50} ms, p99 ${P99} ms   (target p99 < 5 ms)"
echo "disk floor: $FSYNC"
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on these $(nproc) cores skews every figure)"

# Issue 3: braid's Parquet writer/reader beside DuckDB on the same 10M Nexmark bids
if [ "${SKIP_PARQUET:-0}" != 1 ]; then
	echo
	echo "== Parquet: braid vs DuckDB (BENCH_ROWS=${BENCH_ROWS:-10000000})"
	node bench/parquet_bench.mjs
fi

# Issue 4: tiering JSON records into an Iceberg table beside DuckDB's read_json -> Parquet
if [ "${SKIP_TIER:-0}" != 1 ]; then
	echo
	echo "== tiering: braid vs DuckDB (TIER_ROWS=${TIER_ROWS:-1000000})"
	/usr/bin/python3 bench/tier_bench.py "${TIER_ROWS:-1000000}" 2>&1 | grep -v '|rdkafka#'
fi

# Issue 5: a join + group-by materialized view under 1,000-row deltas, and the same
# query as one batch, beside DuckDB recomputing it (SQL_ROWS, SQL_DELTAS)
if [ "${SKIP_SQL:-0}" != 1 ]; then
	echo
	echo "== SQL: braid vs DuckDB (SQL_ROWS=${SQL_ROWS:-1000000 10000000})"
	node bench/sql_bench.mjs
fi
