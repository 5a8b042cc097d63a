#!/usr/bin/env bash
# test_psql.sh — psql (libpq) against braid's PostgreSQL listener: CREATE
# TABLE, INSERT, SELECT with psql's aligned output compared byte for byte,
# several statements in one Query, errors with SQLSTATE and caret position
# (VERBOSITY=verbose), ON_ERROR_STOP in a script, psql variables, the
# SSLRequest refusal (sslmode=prefer falls back, sslmode=require fails),
# SCRAM-SHA-256 passwords, and hostile bytes on the socket (garbage startup,
# oversized message, unknown message type, cancel with a wrong key) that must
# end in an error or a closed connection while the server keeps serving.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
braid=${BRAID_BIN:-$root/build/braid}
py=/usr/bin/python3

tmp=$(mktemp -d /tmp/braid-psql.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do
    if kill -0 "$p" 2>/dev/null; then kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; fi
  done
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

# start NAME PGPORT [extra args]: braid on a free Kafka port, waits for the pg port
start() {
  local name=$1 port=$2; shift 2
  "$braid" serve --data "$tmp/$name" --kafka 127.0.0.1:0 --pg "127.0.0.1:$port" "$@" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  notok "braid ($name) listens on $port" "$(tail -20 "$tmp/$name.log")"
  exit 1
}

port=$($py "$here/braidtest.py" free-port)
start main "$port"
ok "braid starts with --pg"
export PGCONNECT_TIMEOUT=10
q() { psql -X -h 127.0.0.1 -p "$port" -U tester -d braid "$@"; }

out=$(q -c "CREATE TABLE bids (id bigint, bidder text, price double precision, won boolean)" 2>&1)
check "CREATE TABLE" "$out" "CREATE TABLE"

out=$(q -c "INSERT INTO bids VALUES (1, 'ada', 10.5, true), (2, 'bob', 7, false), (3, 'cy', NULL, NULL)" 2>&1)
check "INSERT" "$out" "INSERT 0 3"

out=$(q -At -c "DESCRIBE bids" 2>&1)
check "DESCRIBE (braid's own statement, not split by libpg_query)" "$out" "id|bigint
bidder|text
price|double precision
won|boolean"
out=$(q -At -c "SHOW TABLES" 2>&1)
check "SHOW TABLES" "$out" "bids"

out=$(q -c "SELECT id, bidder, price, won FROM bids ORDER BY id" 2>&1)
want=' id | bidder | price | won 
----+--------+-------+-----
  1 | ada    |  10.5 | t
  2 | bob    |     7 | f
  3 | cy     |       | 
(3 rows)'
check "SELECT aligned output" "$out" "$want"

out=$(q -c "SELECT bidder, count(*) AS n, sum(price) AS total FROM bids GROUP BY bidder HAVING count(*) > 0 ORDER BY bidder DESC LIMIT 2" 2>&1)
want=' bidder | n | total 
--------+---+-------
 cy     | 1 |      
 bob    | 1 |     7
(2 rows)'
check "aggregate with GROUP BY / ORDER BY / LIMIT" "$out" "$want"

# several statements in one Query message: psql shows each result
out=$(q -At -c "INSERT INTO bids VALUES (4, 'di', 1e20, true); SELECT price FROM bids WHERE id = 4; SELECT 0.1 + 0.2, 1.0/3" 2>&1)
want='INSERT 0 1
1e+20
0.30000000000000004|0.3333333333333333'
check "several statements in one Query; float text format" "$out" "$want"

# errors: SQLSTATE, message and caret
out=$(q -v VERBOSITY=verbose -c "SELECT * FROM nosuch" 2>&1)
want='ERROR:  42P01: relation "nosuch" does not exist
LINE 1: SELECT * FROM nosuch
                      ^'
check "undefined table: 42P01 with position" "$out" "$want"

out=$(q -v VERBOSITY=verbose -c "SELECT bidder, nosuchcol FROM bids" 2>&1)
want='ERROR:  42703: column "nosuchcol" does not exist
LINE 1: SELECT bidder, nosuchcol FROM bids
                       ^'
check "undefined column: 42703 with position" "$out" "$want"

out=$(q -v VERBOSITY=verbose -c "SELECT 1 FROM bids WHERE" 2>&1)
want='ERROR:  42601: syntax error at end of input
LINE 1: SELECT 1 FROM bids WHERE
                                ^'
check "syntax error: 42601 with position" "$out" "$want"

out=$(q -v VERBOSITY=verbose -c "SELECT 'x'::bigint" 2>&1)
case "$out" in
  "ERROR:  22P02: invalid input syntax for type bigint"*) ok "invalid text representation: 22P02" ;;
  *) notok "invalid text representation: 22P02" "$out" ;;
esac

out=$(q -v VERBOSITY=verbose -c "SELECT 1/0" 2>&1)
check "division by zero: 22012" "$(echo "$out" | head -1)" "ERROR:  22012: division by zero"

# a syntax error anywhere in a Query runs none of its statements
out=$(q -At -c "INSERT INTO bids VALUES (5, 'ed', 1, true); SELEC 1" 2>&1; q -At -c "SELECT count(*) FROM bids WHERE id = 5")
check "syntax error in a multi-statement Query runs nothing" "$(echo "$out" | tail -1)" "0"

# a script with ON_ERROR_STOP: stops at the error, exit status 3
cat >"$tmp/script.sql" <<'EOF'
\set ON_ERROR_STOP on
\set who 'bob'
SELECT bidder FROM bids WHERE bidder = :'who';
INSERT INTO bids VALUES (6, 'fay', 2, false);
SELECT * FROM nosuch;
INSERT INTO bids VALUES (7, 'gus', 3, false);
EOF
out=$(q -At -f "$tmp/script.sql" 2>&1); rc=$?
want="bob
INSERT 0 1
psql:$tmp/script.sql:5: ERROR:  relation \"nosuch\" does not exist
LINE 1: SELECT * FROM nosuch;
                      ^"
check "ON_ERROR_STOP script output" "$out" "$want"
check "ON_ERROR_STOP exit status" "$rc" "3"
out=$(q -At -c "SELECT count(*) FROM bids WHERE id >= 6")
check "statements after the error did not run" "$out" "1"

# without ON_ERROR_STOP the script goes on after the error
printf 'SELECT * FROM nosuch;\nSELECT 42;\n' >"$tmp/go_on.sql"
out=$(q -At -f "$tmp/go_on.sql" 2>/dev/null)
check "script continues after an error by default" "$out" "42"

# transaction statements: accepted with PostgreSQL's tags and a WARNING
out=$(q -c "BEGIN" -c "COMMIT" 2>&1)
want='WARNING:  braid runs every statement as its own transaction; BEGIN has no effect
BEGIN
WARNING:  braid runs every statement as its own transaction; COMMIT has no effect
COMMIT'
check "BEGIN/COMMIT tags with a WARNING notice" "$out" "$want"

# empty and comment-only queries
out=$(q -At -c "-- nothing here" 2>&1)
check "comment-only query" "$out" ""

# SSL: refused with 'N'; prefer falls back to clear text, require fails cleanly
out=$(psql -X "host=127.0.0.1 port=$port user=tester dbname=braid sslmode=prefer" -At -c "SELECT 'clear'" 2>&1)
check "sslmode=prefer falls back" "$out" "clear"
if psql -X "host=127.0.0.1 port=$port user=tester dbname=braid sslmode=require" -At -c "SELECT 1" >"$tmp/ssl.out" 2>&1; then
  notok "sslmode=require refused" "$(cat "$tmp/ssl.out")"
else
  case "$(cat "$tmp/ssl.out")" in
    *"does not support SSL"*) ok "sslmode=require refused (server does not support SSL)" ;;
    *) notok "sslmode=require refused" "$(cat "$tmp/ssl.out")" ;;
  esac
fi

# many rows through psql
out=$(q -At -c "SELECT count(*) FROM bids a, bids b, bids c, bids d" 2>&1)
check "cross join count" "$out" "625"

# hostile bytes: each must end in an error or a close, and the server must live on
$py - "$port" >"$tmp/raw.out" 2>&1 <<'EOF'
import socket, struct, sys
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s
def recv_all(s):
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b: break
            data += b
    except socket.timeout:
        pass
    return data
def startup(s):
    body = struct.pack("!i", 196608) + b"user\0x\0\0"
    s.sendall(struct.pack("!i", len(body) + 4) + body)
    data = b""
    while not data.endswith(b"Z\0\0\0\x05I"):
        b = s.recv(65536)
        if not b: raise SystemExit("closed during startup")
        data += b
results = []
# 1. garbage instead of a startup packet (huge length)
s = conn(); s.sendall(b"\xff\xff\xff\xff garbage"); d = recv_all(s); s.close()
results.append(("garbage startup -> FATAL 08P01 and close", d[:1] == b"E" and b"08P01" in d))
# 2. a message with a hostile length after startup
s = conn(); startup(s); s.sendall(b"Q\x7f\xff\xff\xff"); d = recv_all(s); s.close()
results.append(("oversized message length -> FATAL 08P01 and close", d[:1] == b"E" and b"08P01" in d))
# 3. an unknown message type
s = conn(); startup(s); s.sendall(b"?\0\0\0\x04"); d = recv_all(s); s.close()
results.append(("unknown message type -> FATAL 08P01 and close", d[:1] == b"E" and b"08P01" in d))
# 4. Query without its terminating NUL
s = conn(); startup(s); s.sendall(b"Q\0\0\0\x08abcd"); d = recv_all(s); s.close()
results.append(("unterminated Query string -> error and close", d[:1] == b"E"))
# 5. Bind with a parameter length past the message end: error, then Sync recovers
s = conn(); startup(s)
parse = b"\0SELECT $1::bigint\0\0\0"
bind = b"\0\0" + b"\0\0" + b"\0\x01" + struct.pack("!i", 1000) + b"12"
msgs = b"P" + struct.pack("!i", len(parse) + 4) + parse + b"B" + struct.pack("!i", len(bind) + 4) + bind
msgs += b"S\0\0\0\x04"
s.sendall(msgs)
d = b""
while not d.endswith(b"Z\0\0\0\x05I"):
    b = s.recv(65536)
    if not b: break
    d += b
ok5 = d.startswith(b"1\0\0\0\x04") and b"08P01" in d and d.endswith(b"Z\0\0\0\x05I")
q = b"SELECT 7\0"
s.sendall(b"Q" + struct.pack("!i", len(q) + 4) + q)
d = b""
while not d.endswith(b"Z\0\0\0\x05I"):
    b = s.recv(65536)
    if not b: break
    d += b
s.close()
results.append(("malformed Bind -> 08P01, Sync recovers, next Query answers", ok5 and b"SELECT 1" in d and b"\x00\x017" in d.replace(b"\0\0\0\x01", b"\0\x01")))
# 6. cancel request with a wrong key: closed without an answer
s = conn(); s.sendall(struct.pack("!iiii", 16, 80877102, 1, 12345)); d = recv_all(s); s.close()
results.append(("cancel with a wrong key -> closed silently", d == b""))
# 7. cancel with the right key reaches its connection; that connection lives on
a = conn()
body = struct.pack("!i", 196608) + b"user\0x\0\0"
a.sendall(struct.pack("!i", len(body) + 4) + body)
d = b""
while not d.endswith(b"Z\0\0\0\x05I"):
    b = a.recv(65536)
    if not b: break
    d += b
k = d.find(b"K\0\0\0\x0c")
pid, key = struct.unpack("!ii", d[k + 5:k + 13]) if k >= 0 else (0, 0)
s = conn(); s.sendall(struct.pack("!iiii", 16, 80877102, pid, key)); d2 = recv_all(s); s.close()
q = b"SELECT 8\0"
a.sendall(b"Q" + struct.pack("!i", len(q) + 4) + q)
d = b""
while not d.endswith(b"Z\0\0\0\x05I"):
    b = a.recv(65536)
    if not b: break
    d += b
a.close()
results.append(("cancel with the right key: closed, target connection still answers", k >= 0 and d2 == b"" and b"SELECT 1" in d))
for name, good in results:
    print(("ok - " if good else "not ok - ") + name)
EOF
while read -r line; do
  case "$line" in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) notok "${line#not ok - }" ;;
    *) notok "raw protocol driver" "$line" ;;
  esac
done <"$tmp/raw.out"
out=$(q -At -c "SELECT count(*) FROM bids" 2>&1)
check "server still serves after hostile input" "$out" "5"

# psql's catalog commands, answered from braid's real tables and views
q -c "CREATE TABLE auctions (id bigint, category bigint)" -c "CREATE VIEW per_bidder AS SELECT bidder, count(*) AS n, sum(price) AS total FROM bids GROUP BY bidder" >/dev/null 2>&1
out=$(q -c '\dt' 2>&1)
want='         List of relations
 Schema |   Name   | Type  | Owner  
--------+----------+-------+--------
 public | auctions | table | tester
 public | bids     | table | tester
(2 rows)'
check '\dt lists the tables' "$out" "$want"
out=$(q -At -c '\d' 2>&1)
want='public|auctions|table|tester
public|bids|table|tester
public|per_bidder|view|tester'
check '\d lists tables and views' "$out" "$want"
out=$(q -At -c '\dv' 2>&1)
check '\dv lists the views' "$out" "public|per_bidder|view|tester"
out=$(q -At -c '\dt b*' 2>&1)
check '\dt with a pattern' "$out" "public|bids|table|tester"
out=$(q -c '\d bids' 2>&1)
want='                    Table "public.bids"
 Column |       Type       | Collation | Nullable | Default 
--------+------------------+-----------+----------+---------
 id     | bigint           |           |          | 
 bidder | text             |           |          | 
 price  | double precision |           |          | 
 won    | boolean          |           |          | '
check '\d TABLE: its columns and types' "$out" "$want"
out=$(q -c '\d per_bidder' 2>&1)
want='                  View "public.per_bidder"
 Column |       Type       | Collation | Nullable | Default 
--------+------------------+-----------+----------+---------
 bidder | text             |           |          | 
 n      | bigint           |           |          | 
 total  | double precision |           |          | '
check '\d VIEW: its columns and types' "$out" "$want"
out=$(q -At -c '\d+ bids' 2>&1 | tail -2)
check '\d+ TABLE: storage column, no access method' "$out" "price|double precision||||plain|||
won|boolean||||plain|||"
out=$(q -c '\d nothing_here' 2>&1)
check '\d of a missing relation' "$out" 'Did not find any relation named "nothing_here".'
out=$(q -At -c '\l' 2>&1 | cut -d'|' -f1-3)
check '\l lists the database' "$out" "braid|tester|UTF8"
out=$(q -At -c '\dn' 2>&1)
check '\dn lists the schema' "$out" "public|tester"
out=$(q -c "SELECT relname FROM pg_catalog.pg_class" 2>&1)
case "$out" in
  *"ERROR:  unsupported: this query on PostgreSQL's system catalog"*) ok "an unknown catalog query is refused, not guessed" ;;
  *) notok "an unknown catalog query is refused, not guessed" "$out" ;;
esac

out=$(q -At -c "SET application_name = 'tool'" -c "SHOW application_name" -c "SHOW TimeZone" -c "SET extra_float_digits = 3" 2>&1)
check "SET / SHOW of run-time parameters" "$out" "SET
tool
UTC
SET"
out=$(q -c "SET TimeZone = 'Europe/Paris'" 2>&1)
check "SET of a fixed parameter to another value is refused" "$out" "ERROR:  unsupported: braid's TimeZone is fixed at 'UTC'"

# SUBSCRIBE: psql prints the COPY stream as it arrives (stdbuf: line-buffered
# stdout into a file); rows inserted by another session show up with weights
sub_wait() { # file, pattern: waits up to 10 s for a line
  for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
stdbuf -oL psql -X -h 127.0.0.1 -p "$port" -U tester -d braid -c "SUBSCRIBE per_bidder" >"$tmp/sub1.out" 2>&1 &
subpid=$!
pids+=($subpid)
if sub_wait "$tmp/sub1.out" "	1	ada	1	10.5"; then ok "SUBSCRIBE sends the snapshot (+1 rows)"; else notok "SUBSCRIBE sends the snapshot (+1 rows)" "$(cat "$tmp/sub1.out")"; fi
q -c "INSERT INTO bids VALUES (10, 'ada', 2, true)" >/dev/null
if sub_wait "$tmp/sub1.out" "	1	ada	2	12.5" && grep -q "	-1	ada	1	10.5" "$tmp/sub1.out"; then
  ok "SUBSCRIBE streams an insert from another session as -1/+1 rows"
else notok "SUBSCRIBE streams an insert from another session as -1/+1 rows" "$(cat "$tmp/sub1.out")"; fi
q -c "INSERT INTO bids VALUES (12, 'ada', 1, true)" >/dev/null
if sub_wait "$tmp/sub1.out" "	1	ada	3	13.5" && grep -q "	-1	ada	2	12.5" "$tmp/sub1.out"; then
  ok "SUBSCRIBE streams the next change (retraction of the row it replaces)"
else notok "SUBSCRIBE streams the next change (retraction of the row it replaces)" "$(cat "$tmp/sub1.out")"; fi
stdbuf -oL psql -X -h 127.0.0.1 -p "$port" -U tester -d braid -c "COPY (SUBSCRIBE TO per_bidder WITH (snapshot = false)) TO STDOUT" >"$tmp/sub2.out" 2>&1 &
sub2=$!
pids+=($sub2)
# the subscription starts when psql is connected: insert until a change shows
for i in $(seq 1 50); do
  q -c "INSERT INTO bids VALUES (11, 'zed$i', 1, true)" >/dev/null
  grep -q "zed" "$tmp/sub2.out" 2>/dev/null && break
  sleep 0.2
done
if sub_wait "$tmp/sub2.out" "	1	zed[0-9]*	1	1" && ! grep -q "ada" "$tmp/sub2.out"; then
  ok "COPY (SUBSCRIBE ... WITH (snapshot = false)) TO STDOUT: changes only"
else notok "COPY (SUBSCRIBE ... WITH (snapshot = false)) TO STDOUT: changes only" "$(cat "$tmp/sub2.out")"; fi
kill "$subpid" "$sub2" 2>/dev/null; wait "$subpid" "$sub2" 2>/dev/null
out=$(q -At -c "SELECT n FROM per_bidder WHERE bidder = 'zed1'" 2>&1)
check "the server serves on after subscribers disconnect" "$out" "1"
out=$(q -c "SUBSCRIBE bids" 2>&1)
check "SUBSCRIBE of a table is refused" "$out" 'ERROR:  "bids" is a table: SUBSCRIBE streams a view'"'"'s changes (CREATE VIEW v AS SELECT * FROM bids)'

# SCRAM-SHA-256
port2=$($py "$here/braidtest.py" free-port)
start scram "$port2" --pg-password 'pa ss'
out=$(PGPASSWORD='pa ss' psql -X -h 127.0.0.1 -p "$port2" -U someone -d db -At -c "SELECT 'in'" 2>&1)
check "SCRAM-SHA-256 with the right password" "$out" "in"
out=$(PGPASSWORD='wrong' psql -X -h 127.0.0.1 -p "$port2" -U someone -d db -At -c "SELECT 'in'" 2>&1)
case "$out" in
  *'password authentication failed for user "someone"'*) ok "wrong password refused" ;;
  *) notok "wrong password refused" "$out" ;;
esac

# clean shutdown with connections open
psql -X -h 127.0.0.1 -p "$port" -U tester -d braid -c "SELECT pg_sleep_does_not_exist()" >/dev/null 2>&1
kill -TERM "${pids[0]}"
for _ in $(seq 1 100); do kill -0 "${pids[0]}" 2>/dev/null || break; sleep 0.1; done
if kill -0 "${pids[0]}" 2>/dev/null; then notok "SIGTERM stops braid"; else
  wait "${pids[0]}"; rc=$?
  check "SIGTERM stops braid cleanly" "$rc" "0"
fi

if [ "$fails" -eq 0 ]; then echo "# psql: all passed"; exit 0; fi
echo "# psql: $fails failed"; exit 1
