#!/usr/bin/env bash
# bench/run.sh — the produce benchmark (`make bench`): builds the librdkafka
# drivers into build/bench/, measures the disk's raw sequential write speed, starts
# build/braid on a free port with a fresh data dir on that same disk, runs the
# throughput (100 B and 1 KiB records) and latency (fixed rate) benchmarks RUNS
# times, prints medians and the ratio to the disk, and stops braid.
#
# Knobs (environment): RUNS (3), COUNT_SMALL (3000000), COUNT_LARGE (1000000),
# ZC_COPY_MAX (512: the 1 KiB run is repeated with librdkafka's
# message.copy.max.bytes at this value, so values over it are sent from the
# application's buffer instead of being copied into each request; empty skips it),
# SCHED (a command prefix for dd, braid and the clients, e.g. "chrt -f 10" to
# measure without other users' processes on the same cores; empty by default),
# LAT_RATE (50000), LAT_SECONDS (10), DD_MB (512), PARTITIONS (1),
# BENCH_DIR (build/bench/run; the data dir and the dd file live under it),
# BRAID_ARGS (extra flags for `braid serve`), KEEP=1 keeps the data dir,
# SKIP_PARQUET=1 / SKIP_TIER=1 / SKIP_SQL=1 / SKIP_WINDOW=1 / SKIP_NEXMARK=1 / SKIP_BACKFILL=1 / SKIP_TAIL=1
# leave out the later benchmarks,
# PROFILE=1 records braid with perf during the first throughput runs and prints
# the hottest symbols (build/bench/perf.data stays for `perf report`),
# TRACE_SLOW (5; braid's BRAID_TRACE_SLOW in ms, 0 = off): after each latency run,
# the broker's events slower than that during the run, counted by kind, and the
# client's stalls (latency_bench --stalls), so a bad p99 shows its cause.
#
# Nothing is deleted until the end: on this disk (ext4 mounted with `discard`) an
# rm of a 512 MB dd file makes the device discard its blocks, which stalled every
# fsync for 100-200 ms; the in-run dd file used to be deleted right before each
# latency run, which then measured that stall (docs/PERFORMANCE.md).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
COUNT_SMALL=${COUNT_SMALL:-3000000}
COUNT_LARGE=${COUNT_LARGE:-1000000}
ZC_COPY_MAX=${ZC_COPY_MAX-512}
SCHED=${SCHED:-}
LAT_RATE=${LAT_RATE:-50000}
LAT_SECONDS=${LAT_SECONDS:-10}
DD_MB=${DD_MB:-512}
PARTITIONS=${PARTITIONS:-1}
BENCH_DIR=${BENCH_DIR:-build/bench/run}
TRACE_SLOW=${TRACE_SLOW:-5}
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
# cannot flatter it. This virtual disk absorbs a first burst (0.5-1.5 GB, varying
# with what else runs) much faster than it sustains, and the benchmarks write
# several GB. So dd runs RUNS times back to back here (files kept until all are
# written), and once more inside every run, right after the 1 KiB produces, on
# the disk in the state they left it: the ratio uses the median of those.
dd_once() { # $1 file -> MB/s
	local line
	line=$($SCHED dd if=/dev/zero of="$1" bs=1M count="$DD_MB" conv=fdatasync 2>&1 | tail -1)
	# "N bytes (...) copied, S s, ..." -> MB/s = N / S / 1e6
	echo "$line" | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^copied,?$/) {print $1 / $(i+1) / 1e6; exit}}'
}
dd_mbps=()
for i in $(seq "$RUNS"); do
	dd_mbps+=("$(dd_once "$BENCH_DIR/dd$i.bin")")
done
DD_BEFORE=$(printf '%s\n' "${dd_mbps[@]}" | median)
echo "dd sequential write before the runs (${DD_MB} MiB, conv=fdatasync): ${dd_mbps[*]} MB/s -> median $DD_BEFORE MB/s"
# the floor under acks=all latency: one fdatasync of a small append on this disk
cc -std=c11 -O2 -Wall -Werror -o "$OUT/fsync_latency" bench/fsync_latency.c
FSYNC=$($SCHED "$OUT/fsync_latency" "$BENCH_DIR/fsync.bin" 2000 8192)
echo "$FSYNC"

PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BRAID_TRACE_SLOW=$TRACE_SLOW $SCHED build/braid serve --data "$DATA" --kafka "127.0.0.1:$PORT" --pg 127.0.0.1:0 ${BRAID_ARGS:-} >"$BENCH_DIR/braid.log" 2>&1 &
BRAID_PID=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	kill -0 "$BRAID_PID" 2>/dev/null || { echo "bench: braid exited:" >&2; cat "$BENCH_DIR/braid.log" >&2; exit 1; }
	sleep 0.1
done
B=127.0.0.1:$PORT
echo "braid pid $BRAID_PID on $B, data $DATA${SCHED:+, every process under: $SCHED}"

small_rps=(); small_mb=(); large_rps=(); large_mb=(); zc_mb=(); dd_run=(); p50=(); p99=()
for i in $(seq "$RUNS"); do
	PERF_PID=
	if [ "${PROFILE:-0}" = 1 ] && [ "$i" = 1 ]; then
		perf record -q -F 1999 -g -p "$BRAID_PID" -o "$OUT/perf.data" >/dev/null 2>&1 &
		PERF_PID=$!
		sleep 0.5
	fi
	j=$($SCHED "$OUT/produce_bench" --brokers "$B" --topic "small-$i" --partitions "$PARTITIONS" --count "$COUNT_SMALL" --size 100 --json)
	echo "run $i 100 B : $j"
	small_rps+=("$(echo "$j" | json_field records_per_s)"); small_mb+=("$(echo "$j" | json_field mb_per_s)")
	j=$($SCHED "$OUT/produce_bench" --brokers "$B" --topic "large-$i" --partitions "$PARTITIONS" --count "$COUNT_LARGE" --size 1024 --json)
	echo "run $i 1 KiB: $j"
	large_rps+=("$(echo "$j" | json_field records_per_s)"); large_mb+=("$(echo "$j" | json_field mb_per_s)")
	if [ -n "$ZC_COPY_MAX" ]; then
		j=$($SCHED "$OUT/produce_bench" --brokers "$B" --topic "largezc-$i" --partitions "$PARTITIONS" --count "$COUNT_LARGE" --size 1024 --set "message.copy.max.bytes=$ZC_COPY_MAX" --json)
		echo "run $i 1 KiB, message.copy.max.bytes=$ZC_COPY_MAX: $j"
		zc_mb+=("$(echo "$j" | json_field mb_per_s)")
	fi
	d=$(dd_once "$BENCH_DIR/dd-run$i.bin")
	echo "run $i dd: $d MB/s"
	dd_run+=("$d")
	if [ -n "$PERF_PID" ]; then
		kill -INT "$PERF_PID"; wait "$PERF_PID" || true
		echo "== braid profile (throughput runs, self time)"
		perf report -i "$OUT/perf.data" --no-children --sort comm,dso,symbol --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -25 || true
	fi
	log_from=$(wc -l <"$BENCH_DIR/braid.log")
	j=$($SCHED "$OUT/latency_bench" --brokers "$B" --topic "lat-$i" --rate "$LAT_RATE" --seconds "$LAT_SECONDS" --json \
		--stalls "$( [ "$TRACE_SLOW" = 0 ] && echo 0 || echo "$TRACE_SLOW")" 2>"$BENCH_DIR/stalls-$i.txt")
	echo "run $i latency: $j"
	if [ "$TRACE_SLOW" != 0 ]; then
		echo "run $i latency: client $(tail -1 "$BENCH_DIR/stalls-$i.txt"); broker events over $TRACE_SLOW ms, by kind:"
		tail -n +"$((log_from + 1))" "$BENCH_DIR/braid.log" | sed -n 's/^slow \([0-9.]*\) ms at mono [0-9.]*: //p' |
			sed 's/[0-9][0-9]*/N/g' | sort | uniq -c | sort -rn | head -8 | sed 's/^/    /' || true
	fi
	p50+=("$(echo "$j" | json_field p50_ms)"); p99+=("$(echo "$j" | json_field p99_ms)")
done

DD=$(printf '%s\n' "${dd_run[@]}" | median)
S_RPS=$(printf '%s\n' "${small_rps[@]}" | median); S_MB=$(printf '%s\n' "${small_mb[@]}" | median)
L_RPS=$(printf '%s\n' "${large_rps[@]}" | median); L_MB=$(printf '%s\n' "${large_mb[@]}" | median)
P50=$(printf '%s\n' "${p50[@]}" | median); P99=$(printf '%s\n' "${p99[@]}" | median)
RATIO=$(awk -v a="$L_MB" -v b="$DD" 'BEGIN {printf "%.0f", (b > 0 ? 100 * a / b : 0)}')
ZC_MB=nan; ZC_RATIO=nan
if [ -n "$ZC_COPY_MAX" ]; then
	ZC_MB=$(printf '%s\n' "${zc_mb[@]}" | median)
	ZC_RATIO=$(awk -v a="$ZC_MB" -v b="$DD" 'BEGIN {printf "%.0f", (b > 0 ? 100 * a / b : 0)}')
fi
echo
echo "== summary (median of $RUNS runs; MB/s counts value bytes, 1 MB = 10^6 B)"
printf '%-44s %12s %10s\n' "benchmark" "records/s" "MB/s"
printf '%-44s %12.0f %10.1f\n' "produce 100 B, acks=all, linger 5 ms" "$S_RPS" "$S_MB"
printf '%-44s %12.0f %10.1f\n' "produce 1 KiB, acks=all, linger 5 ms" "$L_RPS" "$L_MB"
[ -n "$ZC_COPY_MAX" ] && printf '%-44s %12s %10.1f\n' "produce 1 KiB, message.copy.max.bytes=$ZC_COPY_MAX" "" "$ZC_MB"
printf '%-44s %12s %10.1f\n' "dd sequential write, fdatasync (in the runs)" "" "$DD"
printf '%-44s %12s %10.1f\n' "dd before the runs (may include the burst)" "" "$DD_BEFORE"
echo "1 KiB produce / dd = ${RATIO}%   (target >= 70%)"
[ -n "$ZC_COPY_MAX" ] && echo "1 KiB produce (message.copy.max.bytes=$ZC_COPY_MAX) / dd = ${ZC_RATIO}%"
echo "100 B produce = ${S_RPS} records/s   (target >= 1000000)"
echo "latency at ${LAT_RATE}/s: p50 ${P50} ms, p99 ${P99} ms   (target p99 < 5 ms)"
echo "disk floor: $FSYNC"
echo "per run: 100 B ${small_rps[*]} records/s; 1 KiB ${large_mb[*]} MB/s${ZC_COPY_MAX:+; 1 KiB zero-copy client ${zc_mb[*]} MB/s}; dd in the runs ${dd_run[*]} MB/s; latency p99 ${p99[*]} ms"
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

# Issue 6: event-time operators in memory (flow only): events/s and resident
# memory while the input grows 10x after warm-up (must stay flat: state of
# closed windows and of joins past their interval is released); "plain" is the
# same GROUP BY with flow's plain aggregate (no watermark), the peer that keeps
# everything. WINDOW_EVENTS (20000000), PLAIN_EVENTS (2000000).
if [ "${SKIP_WINDOW:-0}" != 1 ]; then
	echo
	echo "== event time: windows and interval join (WINDOW_EVENTS=${WINDOW_EVENTS:-20000000})"
	cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Isrc -o "$OUT/window_bench" bench/window_bench.c \
		build/libbraid.a $(pkg-config --libs jansson libxxhash) -lm
	for m in tumble hop session join; do
		# the per-10% lines include RSS at 2M (the first) and at 20M (the last)
		"$OUT/window_bench" "$m" "${WINDOW_EVENTS:-20000000}" | sed -n '1p;$p'
	done
	"$OUT/window_bench" plain "${PLAIN_EVENTS:-2000000}" | tail -1
fi

# Issue 6: Nexmark q5/q7/q8/q11/q12 and four window shapes as SQL views over
# braid's generator, in process (bench/nexmark_bench.c): events per CPU second,
# median of RUNS, both emit modes. Single-threaded (views step on one thread).
# NEXMARK_EVENTS (2000000), NEXMARK_QUERIES, NEXMARK_EMITS.
if [ "${SKIP_NEXMARK:-0}" != 1 ]; then
	echo
	echo "== Nexmark as SQL views (NEXMARK_EVENTS=${NEXMARK_EVENTS:-2000000}, RUNS=$RUNS, events per CPU second)"
	cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -Isrc -o "$OUT/nexmark_bench" bench/nexmark_bench.c \
		build/libbraid.a $(pkg-config --libs libuv libzstd liblz4 zlib jansson libxxhash openssl snappy sqlite3 libedit) \
		-lpg_query -lm -lpthread
	for emit in ${NEXMARK_EMITS:-changelog on_window_close}; do
		for q in ${NEXMARK_QUERIES:-q5 q7 q8 q11 q12 tumble hop session ijoin}; do
			# an interval join has no window to close: changelog only
			[ "$q" = ijoin ] && [ "$emit" = on_window_close ] && continue
			rates=()
			for r in $(seq "$RUNS"); do
				line=$("$OUT/nexmark_bench" "$q" "${NEXMARK_EVENTS:-2000000}" "$emit")
				rates+=("$(echo "$line" | json_field events_per_cpu_s)")
			done
			echo "$q $emit: median $(printf '%s\n' "${rates[@]}" | median) events/cpu-s (runs: ${rates[*]}); last: $line"
		done
	done
	echo
	echo "== INSERT -> emitted window row at a SUBSCRIBE client, braid serve (bench/window_latency.mjs 200 5)"
	for r in $(seq "$RUNS"); do node bench/window_latency.mjs 200 5 | tail -2; done
fi

# Issue 7: a group-by view backfilled from BACKFILL_ROWS lake rows beside DuckDB over
# the same Parquet files, then tail latency produce -> SUBSCRIBE at TAIL_RATES events/s
# (TAIL_SECONDS each; peer: the produce acknowledgement). SKIP_BACKFILL=1 / SKIP_TAIL=1.
if [ "${SKIP_BACKFILL:-0}" != 1 ]; then
	echo
	echo "== backfill: braid vs DuckDB (BACKFILL_ROWS=${BACKFILL_ROWS:-10000000})"
	node bench/backfill_bench.mjs
fi
if [ "${SKIP_TAIL:-0}" != 1 ]; then
	echo
	echo "== tail latency: produce -> SUBSCRIBE (TAIL_RATES=${TAIL_RATES:-10000 100000})"
	for r in ${TAIL_RATES:-10000 100000}; do
		/usr/bin/python3 bench/tail_latency.py "$r" "${TAIL_SECONDS:-5}" 2>&1 | grep -v '|rdkafka#'
		/usr/bin/python3 bench/tail_latency.py "$r" "${TAIL_SECONDS:-5}" --c 2>&1 | grep -v '|rdkafka#'
	done
	echo "== produce -> event-time TUMBLE row at a SUBSCRIBE client (10000 events/s)"
	/usr/bin/python3 bench/tail_latency.py 10000 "${TAIL_SECONDS:-5}" --window 2>&1 | grep -v '|rdkafka#'
fi
