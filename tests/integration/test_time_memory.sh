#!/usr/bin/env bash
# test_time_memory.sh — the quick form of issue 6's bounded-memory proof (the
# full one, 20M events, is `make bench`): 2,000,000 generated bids through a
# tumbling-window aggregate (1 s windows, on_window_close) and through an
# interval join, flow operators fed by the watermark tracker
# (bench/window_bench.c, built here against build/libbraid.a). Resident memory
# at 2M events must stay within 10% (+4 MB of allocator slack) of its value at
# 200k: state of closed windows and of joined rows past their interval is
# released. A few seconds of CPU.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d /tmp/braid-timemem.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP

if [ ! -f "$root/build/libbraid.a" ]; then echo "not ok - build/libbraid.a missing (run make)"; exit 1; fi
if ! cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -I"$root/src" -o "$tmp/window_bench" \
	"$root/bench/window_bench.c" "$root/build/libbraid.a" $(pkg-config --libs jansson libxxhash) -lm 2>"$tmp/cc.log"; then
  echo "not ok - build bench/window_bench.c"; sed 's/^/#   /' "$tmp/cc.log"; exit 1
fi
echo "ok - build bench/window_bench.c"

fails=0
for mode in tumble join; do
  out=$(TUMBLE_S=1 "$tmp/window_bench" "$mode" 2000000 2>&1) || { echo "not ok - $mode: exit $?"; echo "$out" | sed 's/^/#   /'; fails=$((fails + 1)); continue; }
  warm=$(echo "$out" | sed -n 's/.*"events":200000,"rss_mb":\([0-9.]*\).*/\1/p')
  max=$(echo "$out" | sed -n 's/.*"rss_max_mb":\([0-9.]*\).*/\1/p')
  state=$(echo "$out" | sed -n 's/.*"state":\([0-9-]*\).*/\1/p')
  if [ -n "$warm" ] && [ -n "$max" ] && awk -v w="$warm" -v m="$max" 'BEGIN { exit !(m <= w * 1.10 + 4) }'; then
    echo "ok - $mode: resident memory flat from 200k to 2M events (${warm} MB -> max ${max} MB; state held at the end: $state)"
  else
    echo "not ok - $mode: resident memory grew from ${warm:-?} MB at 200k events to ${max:-?} MB at 2M"
    echo "$out" | sed 's/^/#   /'
    fails=$((fails + 1))
  fi
done
[ "$fails" -eq 0 ]
