#!/usr/bin/env bash
# run-demo.sh — `make run`: starts `braid serve --demo` on a fresh data
# directory (./braid-demo-data, emptied at each start). A built-in Nexmark
# generator produces persons, auctions and bids into the SQL tables of those
# names (each a topic); example views count them live. Prints how to look with psql, kcat and
# DuckDB. Ctrl-C stops braid cleanly.
#   BRAID_DATA=dir  BRAID_KAFKA=host:port  BRAID_PG=host:port  BRAID_DEMO_RATE=events/s
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${BRAID_DATA:-./braid-demo-data}
KAFKA=${BRAID_KAFKA:-127.0.0.1:9092}
PG=${BRAID_PG:-127.0.0.1:5433}
RATE=${BRAID_DEMO_RATE:-1000}
PGHOST=${PG%:*}
PGPORT=${PG##*:}

for tool in psql kcat; do
  command -v "$tool" >/dev/null || echo "note: $tool is not installed (scripts/deps.sh installs it); braid runs anyway"
done
rm -rf "$DATA"
build/braid serve --data "$DATA" --kafka "$KAFKA" --pg "$PG" --demo --demo-rate "$RATE" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' INT TERM EXIT
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/$PGHOST/$PGPORT") 2>/dev/null && break
  kill -0 $pid 2>/dev/null || { echo "braid did not start"; exit 1; }
  sleep 0.1
done
PSQL="psql -h $PGHOST -p $PGPORT -U demo braid"
cat <<EOT

braid is running (pid $pid) with the Nexmark demo: $RATE events/s into the topics
persons, auctions and bids (JSON), data in $DATA. The numbers change every 100 ms.

SQL (psql):
  $PSQL -c '\\d'                                     tables and views
  $PSQL -c 'SELECT * FROM bids_per_channel'          a count per channel
  $PSQL -c 'SELECT * FROM category_volume ORDER BY category'   bids JOIN auctions
  $PSQL -c 'SELECT * FROM bids_per_10s ORDER BY window_start DESC LIMIT 5'   10 s windows
  $PSQL -c 'SUBSCRIBE bids_per_channel'              live changes (_frontier, _weight, row); Ctrl-C ends it
  $PSQL -c 'CREATE VIEW big_bids AS SELECT channel, count(*) AS n FROM bids WHERE price > 9000 GROUP BY channel'

Kafka (kcat):
  kcat -b $KAFKA -L                                  topics
  kcat -b $KAFKA -C -t bids -o -5 -e -f '%p/%o key=%k %s\\n'   the last 5 bids
  echo '{"auction":1000,"bidder":1000,"price":1,"channel":"kcat","date_time":0}' | kcat -b $KAFKA -P -t bids
                                                     a bid of your own: channel kcat appears in bids_per_channel

Lake (Iceberg table kafka.bids, a commit every 5 s):
  build/braid table scan kafka.bids --data $DATA --limit 5
  DuckDB over the current snapshot's Parquet files:
  files=\$(build/braid table inspect kafka.bids --data $DATA | grep -o 'file://[^ ]*parquet' | sed "s|file://\(.*\)|'\1'|" | paste -sd,)
  duckdb -c "SELECT channel, count(*) FROM read_parquet([\$files]) GROUP BY 1"

Ctrl-C stops it (pending writes are flushed and fsynced).
EOT
wait $pid
