#!/usr/bin/env bash
# A one-node SLURM cluster on localhost, for the executor test; this script is the recipe.
#   local_slurm.sh install          apt-get slurm-wlm and munge (root, Debian)
#   local_slurm.sh start DIR        munged + slurmctld + slurmd with state under DIR
#   local_slurm.sh stop DIR         kill the daemons from their pid files, remove the config
# Partitions "cpu" (default) and "gpu" share the node, so profiles/slurm runs unchanged (its GPU
# rules go to "gpu"). The config must sit at /etc/slurm/slurm.conf: the jobstep plugin drops
# SLURM_CONF inside jobs.
set -euo pipefail
action=$1

case "$action" in
install)
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
    fi
    ;;
start)
    dir=$(realpath "$2")
    mkdir -p "$dir"/{munge,state,spool,log}
    chmod 755 "$dir" "$dir/munge"  # munged refuses a socket folder others cannot traverse
    mungekey --create --keyfile="$dir/munge/munge.key" --force
    munged -S "$dir/munge/sock" --key-file="$dir/munge/munge.key" --log-file="$dir/munge/munged.log" \
        --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed"
    host=$(hostname -s)
    memory=$(( $(free -m | awk '/^Mem:/ {print $2}') - 200 ))
    cat > "$dir/slurm.conf" <<CONF
ClusterName=trainlens-test
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=$(nproc) RealMemory=$memory State=UNKNOWN
PartitionName=cpu Nodes=$host Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$host Default=NO MaxTime=INFINITE State=UP
CONF
    mkdir -p /etc/slurm
    ln -sf "$dir/slurm.conf" /etc/slurm/slurm.conf
    slurmctld -i
    slurmd
    for _ in $(seq 60); do
        state=$(sinfo -h -o %t -p cpu 2>/dev/null || true)
        [ "$state" = "idle" ] && exit 0
        sleep 0.5
    done
    echo "the test cluster did not become idle: $(sinfo 2>&1)" >&2
    exit 1
    ;;
stop)
    dir=$(realpath "$2")
    for pid in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
        [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    rm -f /etc/slurm/slurm.conf
    ;;
*)
    echo "usage: $0 install | start DIR | stop DIR" >&2
    exit 2
    ;;
esac
