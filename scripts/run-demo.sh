#!/usr/bin/env bash
# run-demo.sh — `make run`: starts braid on its defaults (data in ./braid-data,
# Kafka on 127.0.0.1:9092), feeds a demo topic, and says how to connect.
# Ctrl-C stops braid cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${BRAID_DATA:-./braid-data}
KAFKA=${BRAID_KAFKA:-127.0.0.1:9092}
build/braid serve --data "$DATA" --kafka "$KAFKA" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null' INT TERM EXIT
for _ in $(seq 100); do
  kcat -b "$KAFKA" -L -m 1 >/dev/null 2>&1 && break
  sleep 0.1
done
# demo data: a few hundred bids as JSON, keyed by auction, with a header
for i in $(seq 1 500); do
  printf 'a%d\t{"auction":%d,"bidder":%d,"price":%d,"channel":"web"}\n' $((i % 7)) $((i % 7)) $((1000 + i)) $((i * 13 % 997))
done | kcat -b "$KAFKA" -P -t demo-bids -K $'\t' -H source=make-run 2>/dev/null || true
cat <<EOT

braid is running (pid $pid), data in $DATA.
  list topics:        kcat -b $KAFKA -L
  read the demo:      kcat -b $KAFKA -C -t demo-bids -f '%p/%o key=%k %s\n' -e
  produce:            echo 'hello' | kcat -b $KAFKA -P -t my-topic
  Python:             /usr/bin/python3 -c "from confluent_kafka import Producer; p=Producer({'bootstrap.servers':'$KAFKA'}); p.produce('my-topic', b'hi'); p.flush()"
Ctrl-C stops it (pending writes are flushed and fsynced).
EOT
wait $pid
