#!/usr/bin/env bash
# test_time_psql.sh — event time through psql (libpq) against braid's
# PostgreSQL listener: a table with event_time / watermark_delay / lateness
# options, TUMBLE and SESSION windows, a view with emit = 'on_window_close'
# that shows each window once, final, when the watermark passes its end, a late
# row dropped, SHOW WATERMARKS, EXPLAIN, and the errors for bad options.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
braid=${BRAID_BIN:-$root/build/braid}
py=/usr/bin/python3

tmp=$(mktemp -d /tmp/braid-time.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fails=0
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; fails=$((fails + 1)); [ $# -gt 1 ] && echo "$2" | head -30 | sed 's/^/#   /'; }
check() { # name, got, want
  if [ "$2" == "$3" ]; then ok "$1"; else notok "$1" "$(diff <(echo "$3") <(echo "$2"))"; fi
}

port=$($py "$here/braidtest.py" free-port)
"$braid" serve --data "$tmp/data" --kafka 127.0.0.1:0 --pg "127.0.0.1:$port" >"$tmp/braid.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
export PGCONNECT_TIMEOUT=10
q() { psql -X -At -h 127.0.0.1 -p "$port" -U tester -d braid "$@"; }
if ! q -c "SELECT 1" >/dev/null 2>&1; then notok "braid listens" "$(tail -20 "$tmp/braid.log")"; exit 1; fi
ok "braid starts with --pg"

out=$(q -c "CREATE TABLE bids (auction bigint, ts bigint, price bigint) WITH (event_time = 'ts', watermark_delay = '2 seconds')" 2>&1)
check "CREATE TABLE with time options" "$out" "CREATE TABLE"

out=$(q -c "CREATE MATERIALIZED VIEW per10 WITH (emit = 'on_window_close') AS
  SELECT window_start, window_end, auction, count(*) AS n, max(price) AS top
  FROM TUMBLE(bids, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end, auction" 2>&1)
check "CREATE MATERIALIZED VIEW ... WITH (emit = 'on_window_close')" "$out" "CREATE MATERIALIZED VIEW"

q -c "INSERT INTO bids VALUES (1, 1000000, 10), (2, 3000000, 20), (1, 9999999, 30)" >/dev/null
out=$(q -c "SELECT count(*) FROM per10" 2>&1)
check "nothing emitted before the window closes" "$out" "0"

q -c "INSERT INTO bids VALUES (1, 11000000, 5)" >/dev/null   # watermark 9 s: [0,10) still open
q -c "INSERT INTO bids VALUES (2, 9600000, 7)" >/dev/null    # out of order, within the delay (watermark 9 s)
q -c "INSERT INTO bids VALUES (2, 12500000, 1)" >/dev/null   # watermark 10.5 s: [0,10) closes
out=$(q -c "SELECT window_start, window_end, auction, n, top FROM per10 ORDER BY auction" 2>&1)
want='0|10000000|1|2|30
0|10000000|2|2|20'
check "closed window emitted once, final" "$out" "$want"

q -c "INSERT INTO bids VALUES (1, 5000000, 99)" >/dev/null   # late: below the watermark
out=$(q -c "SELECT count(*) FROM bids" 2>&1)
check "late row dropped (lateness = drop)" "$out" "6"

out=$(q -c "SHOW WATERMARKS" 2>&1)
check "SHOW WATERMARKS" "$out" "bids|0|10500000|12500000|f|6|0|1|0"

out=$(q -c "SELECT auction, window_start, window_end, count(*) FROM SESSION(bids, ts, INTERVAL '3' SECOND, auction)
  GROUP BY auction, window_start, window_end ORDER BY auction, window_start" 2>&1)
want='1|1000000|4000000|1
1|9999999|14000000|2
2|3000000|6000000|1
2|9600000|15500000|2'
check "SESSION windows per key" "$out" "$want"

out=$(q -c "EXPLAIN SELECT window_start, window_end, count(*) FROM HOP(bids, ts, INTERVAL '5' SECOND, INTERVAL '10' SECOND) GROUP BY 1, 2" 2>&1)
case "$out" in
  *"hop col=1 slide=5000000us size=10000000us"*"window aggregate groups=2 aggs=1"*) ok "EXPLAIN shows hop + window aggregate" ;;
  *) notok "EXPLAIN shows hop + window aggregate" "$out" ;;
esac

out=$(q -c "CREATE TABLE t2 (ts bigint) WITH (event_time = 'ts', watermark_delay = 'soon')" 2>&1)
case "$out" in
  *"watermark_delay"*) ok "bad interval is an error" ;;
  *) notok "bad interval is an error" "$out" ;;
esac

kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=
[ "$fails" -eq 0 ]
