#!/usr/bin/env bash
# The three reaping modes of aio-bench --mode posix side by side (issue 17):
# 4 KiB random reads, one job, iodepth 32 and 128, page cache and O_DIRECT,
# 5 s per cell, ROUNDS rounds (default 3) with the modes alternated; prints
# the median IOPS and p99 per cell as a Markdown table.
#
#   scripts/reap.sh            ROUNDS=5 scripts/reap.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p aio-bench
B=target/release/aio-bench
F=target/reap.dat
ROUNDS=${ROUNDS:-3}
[ -f $F ] || dd if=/dev/urandom of=$F bs=1M count=256 status=none
cat $F > /dev/null
out=target/reap_raw.txt
: > $out
for r in $(seq $ROUNDS); do
  for dev in "file:$F" "file:$F,direct"; do
    for qd in 32 128; do
      for reap in suspend waitcomplete fd; do
        j=$($B --mode posix --device "$dev" --reap $reap --jobs 1 --iodepth $qd --rw randread --bs 4k --runtime 5s --json --no-progress)
        echo "$r $dev $qd $reap $(echo "$j" | python3 -c 'import json,sys; v=json.load(sys.stdin); print(int(v["iops"]), v["latency_ns"]["p99"], v["errors"], int(v["cpu_ns_per_op"]))')" | tee -a $out
      done
    done
  done
done
python3 - <<'PY'
import collections,statistics
d=collections.defaultdict(list)
for l in open('target/reap_raw.txt'):
    r,dev,qd,reap,iops,p99,err,cpu=l.split()
    d[(dev.endswith('direct'),int(qd),reap)].append((int(iops),int(p99),int(cpu)))
print("| file | depth | suspend IOPS / p99 µs | waitcomplete IOPS / p99 µs | fd IOPS / p99 µs |")
print("|---|---:|---:|---:|---:|")
for direct in (False,True):
    for qd in (32,128):
        cells=[]
        for reap in ("suspend","waitcomplete","fd"):
            v=d[(direct,qd,reap)]
            i=statistics.median(x[0] for x in v); p=statistics.median(x[1] for x in v)/1000
            cells.append(f"{i/1000:.0f}K / {p:.0f}")
        print(f"| {'O_DIRECT' if direct else 'page cache'} | {qd} | "+" | ".join(cells)+" |")
PY
