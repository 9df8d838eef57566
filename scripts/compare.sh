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
# O_DIRECT at iodepth 32, on a file under the working directory (fio runs
# with --invalidate=0: its default drops the file from the page cache, and
# the "page cache" rows would then read from disk). Prints a
# table of median IOPS and each engine's ratio to io_uring, with the date
# and the machine. Installs nothing (.ci/run installs fio).
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

# fio_iops ENGINE DEPTH DIRECT [env...]: prints the run's read IOPS.
fio_iops() {
  local engine=$1 depth=$2 direct=$3; shift 3
  local json="$out/fio.json"
  env "$@" fio --name=cmp --filename="$file" --size="$size" --rw=randread --bs=4k \
      --ioengine="$engine" --iodepth="$depth" --direct="$direct" --runtime="$runtime" \
      --time_based --invalidate=0 --randrepeat=0 --norandommap --group_reporting --output-format=json \
      --output="$json" >/dev/null 2>"$out/fio.err" || { cat "$out/fio.err" >&2; return 1; }
  python3 -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["jobs"][0]["read"]["iops"]))' "$json"
}

bench_iops() {
  local depth=$1 direct=$2 spec="file:$file"
  [ "$direct" = 1 ] && spec="$spec,direct"
  "$bench" --device "$spec" --rw randread --bs 4k --iodepth "$depth" --jobs 1 \
      --runtime "${runtime}s" --json --no-progress \
    | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["iops"]))'
}

# Proof that the preloaded library, not glibc, serves fio's calls.
trace="$out/trace.log"; rm -f "$trace"
fio_iops posixaio 1 0 LD_PRELOAD="$lib" AIO_POSIX_TRACE="$trace" >/dev/null
if ! grep -q "aio_read" "$trace" 2>/dev/null; then
  echo "compare.sh: the preloaded library did not serve fio's aio_read calls" >&2
  exit 1
fi

workloads=("pagecache 1 0" "pagecache 32 0" "direct 32 1")
engines=(posixaio-glibc posixaio-ours io_uring psync aio-bench)
before="${COMPARE_BEFORE:-}"
if [ -n "$before" ]; then
  [ -f "$before" ] || { echo "compare.sh: COMPARE_BEFORE=$before does not exist" >&2; exit 1; }
  engines=(posixaio-glibc posixaio-before posixaio-ours io_uring psync aio-bench)
fi
declare -A samples
for ((r = 1; r <= rounds; r++)); do
  for w in "${workloads[@]}"; do
    read -r name depth direct <<<"$w"
    for e in "${engines[@]}"; do
      case $e in
        posixaio-glibc) v=$(fio_iops posixaio "$depth" "$direct") ;;
        posixaio-ours)  v=$(fio_iops posixaio "$depth" "$direct" LD_PRELOAD="$lib") ;;
        posixaio-before) v=$(fio_iops posixaio "$depth" "$direct" LD_PRELOAD="$before") ;;
        io_uring)       v=$(fio_iops io_uring "$depth" "$direct") ;;
        psync)          v=$(fio_iops psync "$depth" "$direct") ;;
        aio-bench)      v=$(bench_iops "$depth" "$direct") ;;
      esac
      samples["$name/$depth/$e"]+="$v "
      printf 'round %d  %-9s qd%-3s %-15s %10s IOPS\n' "$r" "$name" "$depth" "$e" "$v" >&2
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
echo "compare.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($cpu), $(uname -sr), $(fio --version), glibc $(ldd --version | head -1 | awk '{print $NF}')"
echo "4 KiB random reads, $size file ($file), ${runtime}s per point, median of $rounds rounds"
echo
printf '| workload | %s |\n' "$(printf '%s | ' "${engines[@]}" | sed 's/ | $//')"
printf '|---|%s\n' "$(printf -- '---:|%.0s' "${engines[@]}")"
for w in "${workloads[@]}"; do
  read -r name depth direct <<<"$w"
  base=$(echo "${samples[$name/$depth/io_uring]}" | median)
  row="| $name qd$depth |"
  for e in "${engines[@]}"; do
    m=$(echo "${samples[$name/$depth/$e]}" | median)
    ratio=$(python3 -c "print(f'{$m/$base:.2f}' if $base else '-')")
    row="$row $(numfmt --to=si "$m") (${ratio}x) |"
  done
  echo "$row"
done
echo
echo "(IOPS, and in parentheses the ratio to io_uring; psync runs one op at a time whatever the depth)"
