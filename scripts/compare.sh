#!/usr/bin/env bash
# Side-by-side benchmark of POSIX AIO engines on one file, in one run,
# alternating the engines round by round so that drift on a noisy machine
# hits them all alike:
#
#   posixaio-glibc   fio --ioengine=posixaio on glibc's POSIX AIO
#   posixaio-ours    the same fio binary with libaio_posix.so preloaded
#   io_uring         fio --ioengine=io_uring (the baseline)
#   psync            fio --ioengine=psync (one pread at a time)
#   aio-bench        this project's load generator on the same file
#
# Workloads: 4 KiB random reads from page cache at iodepth 1 and 32, and with
# O_DIRECT at iodepth 32; random writes to page cache at iodepth 32; and a
# 70/30 random read/write mix with an fsync every 64 writes at iodepth 32.
# Each cell: IOPS, p50/p99 completion latency, CPU per op. All on one
# file under the working directory (fio runs with --invalidate=0: its default drops the file from the page cache, and
# the "page cache" rows would then read from disk). Prints a table of
# median IOPS and each engine's ratio to io_uring, and one of median
# latency and CPU per op, with the date and the machine. Installs nothing (.ci/run installs fio).
#
#   scripts/compare.sh                 # 3 rounds of 5 s per point
#   COMPARE_ROUNDS=5 COMPARE_RUNTIME=10 scripts/compare.sh
#   COMPARE_FILE=/path/on/a/real/disk scripts/compare.sh
#   COMPARE_BEFORE=/path/to/an/older/libaio_posix.so scripts/compare.sh
#                                      # adds a posixaio-before column: the
#                                      # same fio with that build preloaded,
#                                      # alternated with the others (a change's
#                                      # before and after in one run)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${COMPARE_ROUNDS:-3}"
runtime="${COMPARE_RUNTIME:-5}"
size="${COMPARE_SIZE:-256m}"
file="${COMPARE_FILE:-$PWD/target/compare.dat}"
out="${COMPARE_OUT:-target/compare}"
mkdir -p "$out" "$(dirname "$file")"

command -v fio >/dev/null || { echo "compare.sh: fio is not installed (apt-get install fio)" >&2; exit 1; }
cargo build --release -q -p aio-posix-cabi -p aio-bench
lib="$PWD/target/release/libaio_posix.so"
bench="$PWD/target/release/aio-bench"
[ -f "$lib" ] || { echo "compare.sh: $lib was not built" >&2; exit 1; }

# The file: written once, then read whole so the page-cache runs hit.
if [ ! -f "$file" ] || [ "$(stat -c %s "$file")" -lt "$(numfmt --from=iec "${size^^}")" ]; then
  fio --name=prep --filename="$file" --size="$size" --rw=write --bs=1m --ioengine=psync \
      --end_fsync=1 --output=/dev/null
fi
cat "$file" >/dev/null

# fio_run ENGINE DEPTH DIRECT RW [env...]: prints "IOPS P50_NS P99_NS CPU_NS_PER_OP"
# for one run. RW is randread, randwrite or randrw (70% reads, an fsync
# after every 64 writes). IOPS counts reads and writes; the percentiles
# are of the completion latency (fio's clat) of the reads, or of the writes
# in the write-only row. CPU per op is fio's usr_cpu + sys_cpu (the job
# process's getrusage, so every thread of it: the preloaded library's
# workers too, and the kernel's work done in them) times the job's run
# time, over the ops: for the preloaded runs, its excess over the io_uring
# engine's figure is what the library costs per op.
fio_run() {
  local engine=$1 depth=$2 direct=$3 rw=$4; shift 4
  local json="$out/fio.json" mix=()
  [ "$rw" = randrw ] && mix=(--rwmixread=70 --fsync=64)
  env "$@" fio --name=cmp --filename="$file" --size="$size" --rw="$rw" "${mix[@]}" --bs=4k \
      --ioengine="$engine" --iodepth="$depth" --direct="$direct" --runtime="$runtime" \
      --time_based --invalidate=0 --randrepeat=0 --norandommap --group_reporting --output-format=json \
      --output="$json" >/dev/null 2>"$out/fio.err" || { cat "$out/fio.err" >&2; return 1; }
  python3 - "$json" "$rw" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
rd, wr = j["read"], j["write"]
ops = rd["total_ios"] + wr["total_ios"]
iops = rd["iops"] + wr["iops"]
lat = (wr if sys.argv[2] == "randwrite" else rd)["clat_ns"].get("percentile", {})
cpu_ns = (j["usr_cpu"] + j["sys_cpu"]) / 100.0 * j["job_runtime"] * 1e6
print(int(iops), int(lat.get("50.000000", 0)), int(lat.get("99.000000", 0)),
      int(cpu_ns / ops) if ops else 0)
PY
}

# bench_run DEPTH DIRECT RW: the same four numbers from aio-bench (its own
# latency histogram and getrusage CPU; no fsync in the mixed row: "-").
bench_run() {
  local depth=$1 direct=$2 rw=$3 spec="file:$file"
  [ "$direct" = 1 ] && spec="$spec,direct"
  if [ "$rw" = randrw ]; then echo "- - - -"; return; fi
  "$bench" --device "$spec" --rw "$rw" --bs 4k --iodepth "$depth" --jobs 1 \
      --runtime "${runtime}s" --json --no-progress \
    | python3 -c 'import json,sys; j=json.load(sys.stdin); l=j["latency_ns"]; print(int(j["iops"]), int(l["p50"]), int(l["p99"]), int(j["cpu_ns_per_op"]))'
}

# Proof that the preloaded library, not glibc, serves fio's calls.
trace="$out/trace.log"; rm -f "$trace"
fio_run posixaio 1 0 randread LD_PRELOAD="$lib" AIO_POSIX_TRACE="$trace" >/dev/null
if ! grep -q "aio_read" "$trace" 2>/dev/null; then
  echo "compare.sh: the preloaded library did not serve fio's aio_read calls" >&2
  exit 1
fi

workloads=("pagecache 1 0 randread" "pagecache 32 0 randread" "direct 32 1 randread"
           "pagecache 32 0 randwrite" "pagecache 32 0 randrw")
engines=(posixaio-glibc posixaio-ours io_uring psync aio-bench)
before="${COMPARE_BEFORE:-}"
if [ -n "$before" ]; then
  [ -f "$before" ] || { echo "compare.sh: COMPARE_BEFORE=$before does not exist" >&2; exit 1; }
  engines=(posixaio-glibc posixaio-before posixaio-ours io_uring psync aio-bench)
fi
declare -A samples lat
for ((r = 1; r <= rounds; r++)); do
  for w in "${workloads[@]}"; do
    read -r name depth direct rw <<<"$w"
    for e in "${engines[@]}"; do
      case $e in
        posixaio-glibc) v=$(fio_run posixaio "$depth" "$direct" "$rw") ;;
        posixaio-ours)  v=$(fio_run posixaio "$depth" "$direct" "$rw" LD_PRELOAD="$lib") ;;
        posixaio-before) v=$(fio_run posixaio "$depth" "$direct" "$rw" LD_PRELOAD="$before") ;;
        io_uring)       v=$(fio_run io_uring "$depth" "$direct" "$rw") ;;
        psync)          v=$(fio_run psync "$depth" "$direct" "$rw") ;;
        aio-bench)      v=$(bench_run "$depth" "$direct" "$rw") ;;
      esac
      read -r iops p50 p99 cpuop <<<"$v"
      k="$name/$depth/$rw/$e"
      samples["$k"]+="$iops "
      lat["$k/p50"]+="$p50 "; lat["$k/p99"]+="$p99 "; lat["$k/cpu"]+="$cpuop "
      printf 'round %d  %-9s qd%-3s %-9s %-15s %10s IOPS  p50 %s  p99 %s  cpu/op %s ns\n' \
        "$r" "$name" "$depth" "$rw" "$e" "$iops" "$p50" "$p99" "$cpuop" >&2
    done
  done
done

median() { tr ' ' '\n' | awk '$1 != "" && $1 != "-"' | sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }
us() { [ "$1" = - ] && { echo -; return; }; python3 -c "print(f'{$1/1000:.1f}')"; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
echo "compare.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($cpu), $(uname -sr), $(fio --version), glibc $(ldd --version | head -1 | awk '{print $NF}')"
echo "4 KiB random I/O, $size file ($file), ${runtime}s per point, median of $rounds rounds"
echo "(randrw: 70% reads, an fsync after every 64 writes)"
echo
printf '| workload | %s |\n' "$(printf '%s | ' "${engines[@]}" | sed 's/ | $//')"
printf '|---|%s\n' "$(printf -- '---:|%.0s' "${engines[@]}")"
for w in "${workloads[@]}"; do
  read -r name depth direct rw <<<"$w"
  base=$(echo "${samples[$name/$depth/$rw/io_uring]}" | median)
  row="| $name $rw qd$depth |"
  for e in "${engines[@]}"; do
    m=$(echo "${samples[$name/$depth/$rw/$e]}" | median)
    if [ "$m" = - ]; then row="$row - |"; continue; fi
    ratio=$(python3 -c "print(f'{$m/$base:.2f}' if $base else '-')")
    row="$row $(numfmt --to=si "$m") (${ratio}x) |"
  done
  echo "$row"
done
echo
echo "(IOPS, and in parentheses the ratio to io_uring; psync runs one op at a time whatever the depth)"
echo
echo "Completion latency p50 / p99 in microseconds (reads; writes in the randwrite row), and CPU per op in ns:"
echo
printf '| workload | %s |\n' "$(printf '%s | ' "${engines[@]}" | sed 's/ | $//')"
printf '|---|%s\n' "$(printf -- '---:|%.0s' "${engines[@]}")"
for w in "${workloads[@]}"; do
  read -r name depth direct rw <<<"$w"
  row="| $name $rw qd$depth |"
  for e in "${engines[@]}"; do
    k="$name/$depth/$rw/$e"
    p50=$(echo "${lat[$k/p50]}" | median); p99=$(echo "${lat[$k/p99]}" | median)
    c=$(echo "${lat[$k/cpu]}" | median)
    if [ "$p50" = - ]; then row="$row - |"; continue; fi
    row="$row $(us "$p50") / $(us "$p99"), ${c} ns |"
  done
  echo "$row"
done
