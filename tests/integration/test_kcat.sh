#!/usr/bin/env bash
# test_kcat.sh — kcat (librdkafka) round trip: 100,000 keyed records with headers
# to a 3-partition topic, consumed back with partition, offset, key, headers and
# timestamp; keys, values, headers and timestamps must be identical and offsets
# contiguous from 0 in every partition. kcat's producer cannot set a per-record
# timestamp, so its records carry librdkafka's CreateTime (checked to lie within
# the produce window and to never decrease within a partition), and 1,000 more
# records with explicit timestamps are produced through librdkafka's Python
# binding into the same topic and must come back with exactly those timestamps.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
braid=${BRAID_BIN:-$root/build/braid}
py=/usr/bin/python3

tmp=$(mktemp -d /tmp/braid-kcat.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

fails=0
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1"; fails=$((fails + 1)); [ $# -gt 1 ] && echo "$2" | head -20 | sed 's/^/#   /'; }

port=$($py "$here/braidtest.py" free-port)
"$braid" serve --data "$tmp/data" --kafka "127.0.0.1:$port" --pg 127.0.0.1:0 >"$tmp/braid.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  notok "braid starts" "$(tail -20 "$tmp/braid.log")"; exit 1
fi
ok "braid starts"

topic=kcat-roundtrip
if $py "$here/braidtest.py" create-topic "$port" "$topic" 3 2>"$tmp/err"; then ok "create 3-partition topic"
else notok "create 3-partition topic" "$(cat "$tmp/err")"; exit 1; fi

N=100000
# key<TAB>value; values vary in length (up to ~200 bytes) and contain spaces and '|'.
$py - "$N" >"$tmp/input.txt" <<'EOF'
import sys, random
rnd = random.Random(42)
for i in range(int(sys.argv[1])):
    print("key-%06d\tvalue %d |%s|" % (i, i, "x" * rnd.randrange(0, 200)))
EOF

t0=$(($(date +%s%N) / 1000000))
if kcat -P -b "127.0.0.1:$port" -t "$topic" -K '\t' -H "source=kcat" -H "run=r1" \
     -X linger.ms=5 -X acks=all -l "$tmp/input.txt" 2>"$tmp/produce.err"; then
  ok "kcat produced $N records"
else
  notok "kcat produced $N records" "$(tail -20 "$tmp/produce.err")"
fi
t1=$(($(date +%s%N) / 1000000))

# 1,000 records with explicit timestamps (and per-record headers) via librdkafka's Python binding.
if $py - "$port" "$topic" >"$tmp/explicit.txt" 2>"$tmp/explicit.err" <<'EOF'
import sys
from confluent_kafka import Producer
port, topic = sys.argv[1], sys.argv[2]
p = Producer({"bootstrap.servers": "127.0.0.1:" + port, "acks": "all", "linger.ms": 5})
errors = []
for i in range(1000):
    ts = 1500000000000 + i * 7919
    p.produce(topic, key=b"ts-%04d" % i, value=b"explicit %d" % i, timestamp=ts,
              headers=[("n", b"%d" % i), ("kind", b"explicit")],
              on_delivery=lambda e, m: errors.append(e) if e else None)
    print("ts-%04d\t%d" % (i, ts))
if p.flush(30) != 0 or errors:
    sys.exit("undelivered: %r" % errors[:3])
EOF
then ok "1000 records with explicit timestamps produced"
else notok "1000 records with explicit timestamps produced" "$(tail -5 "$tmp/explicit.err")"; fi

# Consume everything. Fields are separated by a byte that cannot occur in the data.
fmt=$'%p\x1f%o\x1f%k\x1f%h\x1f%T\x1f%s\n'
if timeout 120 kcat -C -b "127.0.0.1:$port" -t "$topic" -o beginning -e -q -f "$fmt" >"$tmp/out.txt" 2>"$tmp/consume.err"; then
  ok "kcat consumed to the end of every partition"
else
  notok "kcat consumed to the end of every partition" "$(tail -20 "$tmp/consume.err")"
fi

# Compare.
$py - "$tmp/input.txt" "$tmp/explicit.txt" "$tmp/out.txt" "$t0" "$t1" <<'EOF'
import sys
inp, explicit, out, t0, t1 = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
fails = 0
def check(cond, name, detail=""):
    global fails
    print(("ok - " if cond else "not ok - ") + name)
    if not cond:
        fails += 1
        for l in str(detail).splitlines()[:20]:
            print("#   " + l)
want = {}
for line in open(inp, encoding="utf-8"):
    k, v = line.rstrip("\n").split("\t", 1)
    want[k] = v
want_ts = {}
for line in open(explicit, encoding="utf-8"):
    k, ts = line.split("\t")
    want_ts[k] = int(ts)
got, parts, bad = {}, {}, []
for line in open(out, encoding="utf-8"):
    f = line.rstrip("\n").split("\x1f")
    if len(f) != 6:
        bad.append(line[:100]); continue
    p, o, k, h, ts, v = int(f[0]), int(f[1]), f[2], f[3], int(f[4]), f[5]
    if k in got:
        bad.append("duplicate key " + k)
    got[k] = (p, o, h, ts, v)
    parts.setdefault(p, []).append((o, k, ts))
check(not bad, "every consumed line parses, no key twice", "\n".join(bad[:10]))
check(len(got) == len(want) + len(want_ts), "consumed %d records, produced %d" % (len(got), len(want) + len(want_ts)))
vmis = [k for k, v in want.items() if k not in got or got[k][4] != v]
check(not vmis, "kcat records: identical keys and values", vmis[:10])
hmis = [k for k in want if k in got and got[k][2] != "source=kcat,run=r1"]
check(not hmis, "kcat records: identical headers", [(k, got[k][2]) for k in hmis[:5]])
tmis = [k for k in want if k in got and not (t0 - 1000 <= got[k][3] <= t1 + 1000)]
check(not tmis, "kcat records: CreateTime timestamps within the produce window", [(k, got[k][3], t0, t1) for k in tmis[:5]])
emis = [k for k, ts in want_ts.items() if k not in got or got[k][3] != ts or got[k][4] != "explicit " + str(int(k[3:]))
        or got[k][2] != "n=%d,kind=explicit" % int(k[3:])]
check(not emis, "explicit-timestamp records: identical timestamps, values and headers", [(k, got.get(k)) for k in emis[:5]])
check(sorted(parts) == [0, 1, 2] and all(len(v) > 10000 for v in parts.values()),
      "records spread over the 3 partitions by key", {p: len(v) for p, v in parts.items()})
gaps = {p: [o for o, _, _ in v] for p, v in parts.items()}
check(all(offs == list(range(len(offs))) for offs in gaps.values()), "offsets contiguous from 0 in every partition",
      {p: (offs[:3], len(offs)) for p, offs in gaps.items()})
dec = []
for p, v in parts.items():
    last = 0
    for o, k, ts in v:
        if k.startswith("key-"):
            if ts < last:
                dec.append((p, o, ts, last))
            last = ts
check(not dec, "kcat records: timestamps never decrease within a partition", dec[:5])
sys.exit(1 if fails else 0)
EOF
[ $? -eq 0 ] || fails=$((fails + 1))

# Clean shutdown.
kill -TERM "$pid"
for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then notok "SIGTERM stops braid" "$(tail -5 "$tmp/braid.log")"
else wait "$pid"; rc=$?; pid=; [ $rc -eq 0 ] && ok "SIGTERM stops braid (exit 0)" || notok "SIGTERM stops braid (exit 0)" "exit $rc"; fi

[ $fails -eq 0 ]
