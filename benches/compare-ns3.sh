#!/usr/bin/env bash
# Runs the canonical workloads W1-W4 with tcpsim and with the ns-3 reference
# programs side by side, in one session, and prints a table of ratios.
#
#   benches/compare-ns3.sh NS3_DIR [RUNS]
#
# NS3_DIR holds the user-built ns-3 programs `bulk`, `dumbbell` and `churn`
# (the anchors' ns-3 sources built against ns-3.37; this repository ships no
# ns-3 code or binaries). RUNS (default 5) is the number of timed runs per
# program; the two tools alternate run by run, so a machine shared with
# other work slows both alike. TCPSIM (default target/release/tcpsim) is the
# binary measured; build it first with `cargo build --release -p scenarios`.
# W4_TOTAL (default 20000) is W4's connection count for both tools.
#
# Every figure is of the whole process, set-up included, measured with
# /usr/bin/time: the median wall seconds, the median user+system CPU
# seconds, and the median peak RSS. W4 is compared in connections per
# wall second (W4_TOTAL / wall). Ratios are ns-3 / tcpsim (above 1: tcpsim
# is faster or smaller).
set -euo pipefail
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 NS3_DIR [RUNS]   (NS3_DIR holds the built bulk, dumbbell and churn)" >&2
  exit 2
fi
ns3=$(cd "$1" && pwd)
runs=${2:-5}
case $runs in '' | *[!0-9]* | 0) echo "RUNS: a positive whole number, not $runs" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")/.." && pwd)
tcpsim=${TCPSIM:-$here/target/release/tcpsim}
total=${W4_TOTAL:-20000}
for p in "$ns3/bulk" "$ns3/dumbbell" "$ns3/churn" "$tcpsim"; do
  [ -x "$p" ] || { echo "$p: not found or not executable" >&2; exit 2; }
done
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed (apt-get install time)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# timed FILE CMD...: appends "wall cpu rss_kib" of one run of CMD to FILE;
# fails loudly (with the program's output) if CMD fails.
timed() {
  local file=$1; shift
  local t; t=$(mktemp -p "$work")
  if ! /usr/bin/time -o "$t" -f "%e %U %S %M" "$@" > "$work/last.out" 2>&1; then
    echo "failed: $*" >&2; cat "$work/last.out" >&2; exit 1
  fi
  awk '{ printf "%s %.3f %s\n", $1, $2 + $3, $4 }' "$t" >> "$file"
}

# median FILE COLUMN
median() {
  sort -g -k"$2","$2" "$1" | awk -v c="$2" '{ v[NR] = $c }
    END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# pair NAME "NS3 CMD" "TCPSIM CMD": one untimed warm-up each, then RUNS
# alternating timed runs.
names=()
pair() {
  local name=$1 a=$2 b=$3
  names+=("$name")
  : > "$work/$name.ns3"; : > "$work/$name.tcpsim"
  $a > /dev/null 2>&1 || true
  $b > /dev/null 2>&1 || true
  for _ in $(seq "$runs"); do
    timed "$work/$name.ns3" $a
    timed "$work/$name.tcpsim" $b
  done
  echo "$name: done ($runs runs each)" >&2
}

pair W1 "$ns3/bulk" "$tcpsim bench W1"
pair W2 "$ns3/bulk --loss=0.01 --seed=1 --run=1" "$tcpsim bench W2"
pair W2-sack "$ns3/bulk --loss=0.01 --seed=1 --run=1 --sack=1" "$tcpsim bench W2 --sack"
pair W3 "$ns3/dumbbell --routing=static --weakEs=0" "$tcpsim bench W3"
pair W4 "$ns3/churn --total=$total" "$tcpsim bench W4 --total $total"

echo
echo "medians of $runs runs each, whole process (W4: $total connections, conn/s = $total / wall)"
printf '| %-8s | %10s | %10s | %8s | %9s | %9s | %8s | %10s | %10s | %8s |\n' \
  workload "ns-3 wall" "tcpsim wall" "wall x" "ns-3 cpu" "tcpsim cpu" "cpu x" "ns-3 MiB" "tcpsim MiB" "mem x"
printf '|%s|\n' "----------|------------|-------------|----------|-----------|------------|----------|------------|------------|----------"
for n in "${names[@]}"; do
  nw=$(median "$work/$n.ns3" 1); tw=$(median "$work/$n.tcpsim" 1)
  nc=$(median "$work/$n.ns3" 2); tc=$(median "$work/$n.tcpsim" 2)
  nr=$(median "$work/$n.ns3" 3); tr=$(median "$work/$n.tcpsim" 3)
  awk -v n="$n" -v nw="$nw" -v tw="$tw" -v nc="$nc" -v tc="$tc" -v nr="$nr" -v tr="$tr" 'BEGIN {
    m = (tw > 0) ? tw : 0.005; c = (tc > 0) ? tc : 0.005
    printf "| %-8s | %8.2f s | %9.3f s | %7.1fx | %7.2f s | %8.3f s | %7.1fx | %10.1f | %10.1f | %7.2fx |\n",
      n, nw, tw, nw / m, nc, tc, nc / c, nr / 1024, tr / 1024, nr / tr }'
done
nw=$(median "$work/W4.ns3" 1); tw=$(median "$work/W4.tcpsim" 1)
awk -v t="$total" -v nw="$nw" -v tw="$tw" 'BEGIN {
  printf "W4 connections per wall second: ns-3 %.0f, tcpsim %.0f, ratio %.1fx\n", t / nw, t / tw, nw / tw }'
