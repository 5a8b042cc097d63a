#!/usr/bin/env bash
# test_slt.sh — the sqllogictest files of ../shared/slt/select*.test through
# braid's SQL engine (build/slt, the runner of `make slt`): one ok line per file
# when every record passes. The full suite (random/, evidence/) is `make slt`.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ -x build/slt ] || make -s build/slt >/dev/null
status=0
for f in ../shared/slt/select*.test; do
  [ -f "$f" ] || { echo "ok - no sqllogictest files beside the repo (skipped) # SKIP"; exit 0; }
  line=$(build/slt "$f" 2>&1 | grep -E "^$f: " | tail -1)
  if [[ "$line" =~ ([0-9]+)\ passed,\ 0\ failed ]]; then
    echo "ok - $(basename "$f"): ${BASH_REMATCH[1]} records pass"
  else
    echo "not ok - $(basename "$f"): ${line:-runner failed}"
    status=1
  fi
done
exit $status
