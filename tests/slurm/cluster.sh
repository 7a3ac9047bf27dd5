#!/usr/bin/env bash
# A one-node SLURM cluster on localhost for the integration test (tests/test_slurm.py).
#   cluster.sh install       apt-get the Debian packages (root only; about a minute)
#   cluster.sh start DIR     write DIR/slurm.conf, start munged, slurmctld and slurmd
#   cluster.sh stop DIR      stop them by their pid files
# No systemd: the daemons are started by hand. Clients find the cluster through
# SLURM_CONF=DIR/slurm.conf. Facts that make it work on Debian 12 (SLURM 22.05):
# NodeName=localhost with `slurmd -N localhost`, proctrack/linuxproc, task/none,
# select/cons_tres, DefMemPerCPU (else one job takes all memory), no accounting (so the
# Snakemake plugin must ask squeue, not sacct, for job states). It also writes
# /etc/slurm/slurm.conf, unless a config it did not write is there.
set -euo pipefail

install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
}

start() {
  local dir
  dir=$(realpath "$1")
  mkdir -p "$dir/state" "$dir/spool" /run/munge
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 3 / 4 ))
  cat >"$dir/slurm.conf" <<CONF
ClusterName=robustsweep
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6917
SlurmdPort=6918
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
DefMemPerCPU=1000
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
NodeName=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    chmod 400 /etc/munge/munge.key
  fi
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
  if ! pgrep -x munged >/dev/null; then
    munged --force --pid-file="$dir/munged.pid"
  fi
  # Job steps (srun inside a batch job) do not see SLURM_CONF: they read the default path.
  # Only a config this script wrote before is replaced there.
  if [ ! -e /etc/slurm/slurm.conf ] || grep -q '^ClusterName=robustsweep$' /etc/slurm/slurm.conf; then
    mkdir -p /etc/slurm
    cp "$dir/slurm.conf" /etc/slurm/slurm.conf
  fi
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF" -N localhost
  for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      return 0
    fi
    sleep 1
  done
  echo "slurm did not come up; see $dir/slurmctld.log and $dir/slurmd.log" >&2
  return 1
}

stop() {
  local dir
  dir=$(realpath "$1")
  for daemon in slurmd slurmctld munged; do
    if [ -s "$dir/$daemon.pid" ]; then
      kill "$(cat "$dir/$daemon.pid")" 2>/dev/null || true
    fi
  done
}

"$@"
