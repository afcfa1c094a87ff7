#!/usr/bin/env bash
# Starts (or stops) a private single-node Slurm for the integration test, everything under DIR:
# munged, slurmctld, slurmd -N localhost (checked on Debian bookworm, Slurm 22.05).
#   slurm_cluster.sh start DIR   -> prints SLURM_CONF=<DIR>/slurm.conf on success; exit 1 + reason
#   slurm_cluster.sh stop DIR
# Installs the packages with scripts/install-slurm.sh if they are missing (root only).
set -u
cmd=$1
dir=$2
here=$(cd "$(dirname "$0")" && pwd)

stop() {
  for p in slurmd slurmctld munged; do
    [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null
  done
  sleep 1
  for p in slurmd slurmctld munged; do
    [ -f "$dir/$p.pid" ] && kill -9 "$(cat "$dir/$p.pid")" 2>/dev/null
  done
  return 0
}
if [ "$cmd" = stop ]; then stop; exit 0; fi

fail() { echo "slurm unavailable: $*" >&2; stop; exit 1; }
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "slurmctld/munged not installed and not root (run scripts/install-slurm.sh)"
  "$here/../../scripts/install-slurm.sh" >&2 || fail "scripts/install-slurm.sh failed"
fi
[ "$(id -u)" = 0 ] || fail "the test cluster runs its daemons as root (SlurmUser=root)"
mkdir -p "$dir/state" "$dir/spool" "$dir/munge/run" "$dir/munge/lib" "$dir/munge/log"
chmod 0700 "$dir/munge/lib"; chmod 0755 "$dir/munge/run"
key=/etc/munge/munge.key
[ -f "$key" ] || fail "no munge key at $key"
cp "$key" "$dir/munge/munge.key"; chmod 0400 "$dir/munge/munge.key"
sock="$dir/munge/run/munge.socket"
munged --force -S "$sock" --key-file="$dir/munge/munge.key" --pid-file="$dir/munged.pid" \
  --log-file="$dir/munge/log/munged.log" --seed-file="$dir/munge/lib/seed" 2>"$dir/munged.err" \
  || fail "munged did not start: $(cat "$dir/munged.err")"
cpus=$(nproc)
cat > "$dir/slurm.conf" <<CONF
ClusterName=gpastest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=30,socket=$sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=$((16817 + RANDOM % 1000))
SlurmdPort=$((17817 + RANDOM % 1000))
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
MinJobAge=300
JobRequeue=1
NodeName=localhost CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF" 2>"$dir/slurmctld.err" || fail "slurmctld did not start: $(cat "$dir/slurmctld.err")"
slurmd -N localhost -f "$SLURM_CONF" 2>"$dir/slurmd.err" || fail "slurmd did not start: $(cat "$dir/slurmd.err")"
for _ in $(seq 1 60); do
  state=$(sinfo -h -o %T 2>/dev/null | head -n 1)
  [ "$state" = idle ] && { echo "SLURM_CONF=$SLURM_CONF"; exit 0; }
  sleep 1
done
fail "node never became idle (sinfo: ${state:-nothing}); logs in $dir: $(tail -n 5 "$dir/slurmctld.log" 2>/dev/null)"
