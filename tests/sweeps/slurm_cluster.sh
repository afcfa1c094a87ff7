#!/usr/bin/env bash
# Starts (or stops) a private Slurm for the integration tests, everything under DIR: munged,
# slurmctld, slurmd -N localhost (checked on Debian bookworm, Slurm 22.05). With NODES=2: nodes n1, n2,
# two slurmd on this host (NodeAddr 127.0.0.1, a port and spool each; the cores shared between them).
#   slurm_cluster.sh start DIR [NODES]  -> prints SLURM_CONF=<DIR>/slurm.conf on success; exit 1 + reason
#   slurm_cluster.sh stop DIR
# Installs the packages with scripts/install-slurm.sh if they are missing (root only).
set -u
cmd=$1
dir=$2
nodes=${3:-1}
here=$(cd "$(dirname "$0")" && pwd)

stop() {
  for sig in TERM KILL; do
    for f in "$dir"/slurmd*.pid "$dir/slurmctld.pid" "$dir/munged.pid"; do
      [ -f "$f" ] && kill -s $sig "$(cat "$f")" 2>/dev/null
    done
    [ $sig = TERM ] && sleep 1
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
case $nodes in
  1) spool=$dir/spool; per=""
     node_lines="NodeName=localhost CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP" ;;
  2) spool=$dir/spool/%n; per=.%n  # one spool, pid and log per slurmd
     port=$((18817 + RANDOM % 1000)); share=$(( cpus / 2 > 0 ? cpus / 2 : 1 ))
     node_lines="NodeName=n1 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$port CPUs=$share State=UNKNOWN
NodeName=n2 NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((port + 1)) CPUs=$share State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP"
     mkdir -p "$dir/spool/n1" "$dir/spool/n2" ;;
  *) fail "NODES must be 1 or 2, not '$nodes'" ;;
esac
cat > "$dir/slurm.conf" <<CONF
ClusterName=gpastest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=30,socket=$sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd$per.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd$per.log
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
$node_lines
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF" 2>"$dir/slurmctld.err" || fail "slurmctld did not start: $(cat "$dir/slurmctld.err")"
if [ "$nodes" = 1 ]; then names=localhost; else names="n1 n2"; fi
for n in $names; do
  slurmd -N "$n" -f "$SLURM_CONF" 2>"$dir/slurmd.$n.err" || fail "slurmd -N $n did not start: $(cat "$dir/slurmd.$n.err")"
done
for _ in $(seq 1 60); do
  state=$(sinfo -h -N -o %T 2>/dev/null | sort -u | tr '\n' ' ')
  [ "$state" = "idle " ] && [ "$(sinfo -h -N -o %N | wc -l)" = "$nodes" ] && { echo "SLURM_CONF=$SLURM_CONF"; exit 0; }
  sleep 1
done
fail "$nodes node(s) never became idle (sinfo: ${state:-nothing}); logs in $dir: $(tail -n 5 "$dir/slurmctld.log" 2>/dev/null)"
