#!/usr/bin/env bash
# Proves `tcpsim sweep --shard` on a real Slurm: installs Debian's slurm-wlm
# and munge, starts a single-node cluster (munged, slurmctld, slurmd, as
# root, on private sockets and ports so nothing else on the machine is
# touched), submits a sweep in 4 shards with `sbatch --array`, waits,
# merges the shard reports, checks the merge is byte for byte the report
# one machine writes, and stops the daemons it started.
#
# Usage: .ci/slurm.sh [SEEDS]   (default 4000 seeds of the handshake under swarm faults)
set -euo pipefail
cd "$(dirname "$0")/.."

SEEDS="${1:-4000}"
SHARDS=4
SCENARIO="${SLURM_SWEEP_SCENARIO:-handshake}"
FAULTS="${SLURM_SWEEP_FAULTS:-swarm}"

if [ "$(id -u)" -ne 0 ]; then
  echo "slurm.sh: needs root (it starts munged, slurmctld and slurmd)" >&2
  exit 2
fi

echo "== slurm: packages"
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurm-wlm munge >/dev/null
fi
slurmctld -V

echo "== slurm: build"
cargo build --release -q -p scenarios
BIN="$PWD/target/release/tcpsim"

WORK="$(mktemp -d /tmp/tcpsim-slurm.XXXXXX)"
chmod 0700 "$WORK"
PIDS=()
cleanup() {
  # Stop only the daemons this script started, by their process ids.
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "${KEEP_SLURM_WORK:-0}" != 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo "== slurm: munged"
# A key of our own (cluster authentication only; the simulation never
# reads OS randomness).
dd if=/dev/urandom of="$WORK/munge.key" bs=1024 count=1 status=none
chmod 0400 "$WORK/munge.key"
mkdir -m 0700 "$WORK/munge"
munged --force --foreground \
  --key-file="$WORK/munge.key" \
  --socket="$WORK/munge/munge.socket" \
  --pid-file="$WORK/munge/munged.pid" \
  --log-file="$WORK/munge/munged.log" \
  --seed-file="$WORK/munge/munged.seed" >"$WORK/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$WORK/munge/munge.socket" ] && break; sleep 0.1; done
munge -S "$WORK/munge/munge.socket" -n | unmunge -S "$WORK/munge/munge.socket" >/dev/null

echo "== slurm: slurmctld and slurmd"
NODE="$(hostname -s)"
CPUS="$(nproc)"
mkdir -p "$WORK/state" "$WORK/spool" "$WORK/out"
export SLURM_CONF="$WORK/slurm.conf"
cat >"$SLURM_CONF" <<EOF
ClusterName=tcpsim-ci
SlurmctldHost=$NODE
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$WORK/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
NodeName=$NODE CPUs=$CPUS State=UNKNOWN
PartitionName=ci Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -D -i -f "$SLURM_CONF" >"$WORK/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" >"$WORK/slurmd.out" 2>&1 &
PIDS+=($!)
up=0
for _ in $(seq 120); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then up=1; break; fi
  sleep 0.5
done
if [ "$up" != 1 ]; then
  echo "slurm.sh: the node did not come up" >&2
  sinfo || true
  tail -n 20 "$WORK/slurmctld.log" "$WORK/slurmd.log" >&2 || true
  exit 1
fi
sinfo

echo "== slurm: sbatch --array=0-$((SHARDS - 1)), $SEEDS seeds of $SCENARIO under $FAULTS"
cat >"$WORK/shard.sbatch" <<EOF
#!/usr/bin/env bash
#SBATCH --job-name=tcpsim-sweep
#SBATCH --array=0-$((SHARDS - 1))
#SBATCH --cpus-per-task=1
#SBATCH --output=$WORK/out/shard-%a.log
# The shard index comes from SLURM_ARRAY_TASK_ID (--shard N).
exec "$BIN" sweep --scenario "$SCENARIO" --seeds 1..=$SEEDS --faults "$FAULTS" \\
  --shard $SHARDS --jobs 1 --json "$WORK/out/shard-\$SLURM_ARRAY_TASK_ID.json"
EOF
started=$(date +%s)
timeout 420 sbatch --wait --parsable "$WORK/shard.sbatch"
echo "array done in $(($(date +%s) - started)) s"
for i in $(seq 0 $((SHARDS - 1))); do
  if [ ! -s "$WORK/out/shard-$i.json" ]; then
    echo "slurm.sh: shard $i wrote no report" >&2
    cat "$WORK/out/shard-$i.log" >&2 || true
    exit 1
  fi
done

echo "== merge and compare with one machine"
"$BIN" merge "$WORK"/out/shard-*.json --json "$WORK/merged.json" | head -n 3
"$BIN" sweep --scenario "$SCENARIO" --seeds "1..=$SEEDS" --faults "$FAULTS" \
  --json "$WORK/one-machine.json" >/dev/null 2>&1
if cmp "$WORK/merged.json" "$WORK/one-machine.json"; then
  echo "slurm: the merge of $SHARDS shards equals the one-machine report ($SEEDS seeds)"
else
  echo "slurm.sh: the merged report differs from the one-machine report" >&2
  diff <(head -c 4000 "$WORK/merged.json") <(head -c 4000 "$WORK/one-machine.json") >&2 || true
  exit 1
fi
