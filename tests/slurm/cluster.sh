#!/usr/bin/env bash
# A real, one-node SLURM cluster on localhost, for tests of the `slurm` Snakemake profile.
#
#   tests/slurm/cluster.sh start     install (if missing) and start munged, mariadbd, slurmdbd,
#                                    slurmctld and slurmd; wait until the node is idle
#   tests/slurm/cluster.sh stop      cancel all jobs, stop every daemon this script started, by PID
#   tests/slurm/cluster.sh status    daemons, node, accounting
#   tests/slurm/cluster.sh env       print the shell lines that point SLURM clients at the cluster
#
# Exit status of start: 0 up, 3 cannot run here (not root, packages missing and not installable),
# anything else a real failure (daemon logs are printed).
#
# Must run as root (the daemons run as root, SlurmUser=root).  Debian packages used:
#   slurm-wlm slurmdbd munge mariadb-server mariadb-client   (installed with apt-get if missing)
#
# All state (configuration, munge key and socket, MariaDB data, spool, logs, PIDs) lives in
# $SLURM_STATE_DIR (default: <repo>/.ci/slurm-state, git-ignored).  Nothing is written to /etc.
# Client commands find the configuration through wrappers in $SLURM_STATE_DIR/bin that set
# SLURM_CONF: the wrappers must come first on PATH ("eval $(tests/slurm/cluster.sh env)"),
# also inside jobs, because the SLURM executor plugin removes SLURM_* variables (SLURM_CONF
# included) before its inner `srun`; sbatch --export=ALL carries PATH into the job.
#
# The node has one placeholder GPU (gres.conf: Name=gpu File=/dev/null; a Count without a File
# would drain the node), so `--gpus=1` / `--gres=gpu:1` jobs are scheduled and accounted
# (AllocTRES gres/gpu=1) though no GPU exists.  Accounting goes through slurmdbd + MariaDB, so
# `sacct` works (the Snakemake SLURM plugin polls job states with sacct).  MinJobAge = 300 s.
#
# Tunables (environment): SLURM_STATE_DIR, SLURM_CI_PORT_BASE (default 16817: slurmctld,
# +1 slurmd, +2 slurmdbd, +3 MariaDB), SLURM_CI_START_TIMEOUT (s, default 120).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="${SLURM_STATE_DIR:-$REPO/.ci/slurm-state}"
PORT_BASE="${SLURM_CI_PORT_BASE:-16817}"
CTLD_PORT=$PORT_BASE
SLURMD_PORT=$((PORT_BASE + 1))
DBD_PORT=$((PORT_BASE + 2))
DB_PORT=$((PORT_BASE + 3))
START_TIMEOUT="${SLURM_CI_START_TIMEOUT:-120}"
CLUSTER=sinkganci
PARTITION=debug
DB_USER=slurm
DB_PASS=slurm-ci-only
NODE="$(hostname -s)"
APT_PACKAGES="slurm-wlm slurmdbd munge mariadb-server mariadb-client"
CLIENTS="sbatch srun salloc sacct sacctmgr squeue scancel sinfo scontrol sshare sstat"
# Daemons, in start order (stop runs in reverse).
DAEMONS="munged mariadbd slurmdbd slurmctld slurmd"

log() { printf '[cluster.sh %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds, bounded by timeout -k.
wait_for() {
    local secs=$1 what=$2; shift 2
    if ! timeout -k 5 "$secs" bash -c 'until "$@" >/dev/null 2>&1; do sleep 0.5; done' _ "$@"; then
        log "timed out after ${secs}s waiting for: $what"
        show_logs
        return 1
    fi
}

show_logs() {
    local f
    for f in "$STATE"/log/*.log; do
        [ -f "$f" ] || continue
        echo "----- tail $f" >&2
        tail -n 25 "$f" >&2 || true
    done
}

pid_of() { cat "$STATE/pids/$1.pid" 2>/dev/null || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

# launch NAME COMMAND...: run a daemon in the foreground of its own session, record its PID.
launch() {
    local name=$1; shift
    if alive "$name"; then log "$name already running (pid $(pid_of "$name"))"; return 0; fi
    setsid "$@" >>"$STATE/log/$name.out" 2>&1 </dev/null &
    echo $! >"$STATE/pids/$name.pid"
    log "started $name (pid $!)"
}

ensure_packages() {
    local missing=0 b
    for b in slurmctld slurmd slurmdbd sbatch sacct munged mungekey mariadbd mariadb-install-db mariadb; do
        command -v "$b" >/dev/null 2>&1 || missing=1
    done
    [ -e /usr/lib/x86_64-linux-gnu/slurm-wlm/accounting_storage_mysql.so ] \
        || ls /usr/lib/*/slurm-wlm/accounting_storage_mysql.so >/dev/null 2>&1 || missing=1
    [ $missing = 0 ] && return 0
    # Exit status 3: the packages are missing and cannot be installed here (tests skip on it).
    [ "$(id -u)" = 0 ] || { log "SLURM packages missing and not root; install: $APT_PACKAGES"; exit 3; }
    command -v apt-get >/dev/null 2>&1 || { log "SLURM packages missing and no apt-get; install: $APT_PACKAGES"; exit 3; }
    log "installing: $APT_PACKAGES"
    export DEBIAN_FRONTEND=noninteractive
    timeout -k 10 600 apt-get update -q >"$STATE/log/apt.log" 2>&1 \
        || { log "apt-get update failed (see $STATE/log/apt.log)"; exit 3; }
    timeout -k 10 900 apt-get install -y -q --no-install-recommends $APT_PACKAGES >>"$STATE/log/apt.log" 2>&1 \
        || { log "apt-get install failed (see $STATE/log/apt.log)"; exit 3; }
}

write_config() {
    local cpus mem_mb
    cpus=$(nproc)
    # RealMemory must not exceed what slurmd detects, or the node is drained: use 80 %.
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
    mkdir -p "$STATE"/{etc,bin,pids,log,run,munge,ctld,spool,mysql}
    chmod 755 "$STATE/munge"  # the key inside is 0400

    cat >"$STATE/etc/slurm.conf" <<EOF
# Generated by tests/slurm/cluster.sh: one-node test cluster, state in $STATE
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
AuthInfo=socket=$STATE/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$STATE/etc/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
# For slurmdbd connections the munge socket is taken from AccountingStoragePass.
AccountingStoragePass=$STATE/munge/munge.socket
AccountingStorageTRES=gres/gpu
# Keep the job comment (the plugin writes rule_<rule>_wildcards_<...> there) in sacct.
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
# The plugin polls with sacct; keep finished jobs in slurmctld for 5 minutes too.
MinJobAge=300
# Seconds between SIGTERM and SIGKILL on cancel, preemption and time limit.
KillWait=30
ReturnToService=2
SchedulerParameters=sched_interval=2
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    # Placeholder GPU: a File is required (a bare Count drains the node).
    cat >"$STATE/etc/gres.conf" <<EOF
AutoDetect=off
NodeName=$NODE Name=gpu File=/dev/null
EOF
    : >"$STATE/etc/plugstack.conf"
    cat >"$STATE/etc/cgroup.conf" <<EOF
CgroupPlugin=autodetect
EOF
    (umask 077; cat >"$STATE/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$STATE/munge/munge.socket
DbdHost=$NODE
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
EOF
    )
    # Client wrappers: SLURM_CONF survives even where SLURM_* variables are scrubbed.
    local c
    for c in $CLIENTS; do
        printf '#!/bin/sh\nSLURM_CONF=%s exec /usr/bin/%s "$@"\n' "$STATE/etc/slurm.conf" "$c" >"$STATE/bin/$c"
        chmod 755 "$STATE/bin/$c"
    done
}

start_munge() {
    if [ ! -s "$STATE/munge/munge.key" ]; then
        (umask 077; dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none)
    fi
    launch munged munged --foreground --force \
        --key-file="$STATE/munge/munge.key" --socket="$STATE/munge/munge.socket" \
        --pid-file="$STATE/run/munged.pid" --log-file="$STATE/log/munged.log" \
        --seed-file="$STATE/munge/munge.seed"
    wait_for 30 "munge socket" sh -c "munge -S '$STATE/munge/munge.socket' -n | unmunge -S '$STATE/munge/munge.socket'"
}

start_mariadb() {
    local sock="$STATE/run/mysqld.sock" fresh=0
    if [ ! -d "$STATE/mysql/mysql" ]; then
        fresh=1
        timeout -k 5 180 mariadb-install-db --no-defaults --user=root --datadir="$STATE/mysql" \
            --auth-root-authentication-method=socket --skip-test-db \
            >"$STATE/log/mariadb-install.log" 2>&1 || { tail -n 30 "$STATE/log/mariadb-install.log" >&2; die "mariadb-install-db failed"; }
    fi
    launch mariadbd mariadbd --no-defaults --user=root --datadir="$STATE/mysql" --socket="$sock" \
        --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        --pid-file="$STATE/run/mariadbd.pid" --log-error="$STATE/log/mariadbd.log" \
        --innodb-buffer-pool-size=128M --innodb-log-file-size=64M --innodb-lock-wait-timeout=900 \
        --innodb-flush-log-at-trx-commit=0 --innodb-use-native-aio=0 --skip-log-bin
    wait_for 60 "mariadbd" mariadb-admin --no-defaults --socket="$sock" -uroot ping
    if [ $fresh = 1 ]; then
        timeout -k 5 60 mariadb --no-defaults --socket="$sock" -uroot <<EOF
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
EOF
    fi
}

sl() { "$STATE/bin/$1" "${@:2}"; }

start_slurm() {
    # slurmdbd reads slurmdbd.conf from the directory of $SLURM_CONF.
    launch slurmdbd env SLURM_CONF="$STATE/etc/slurm.conf" slurmdbd -D
    wait_for 60 "slurmdbd" "$STATE/bin/sacctmgr" -n list cluster
    if ! sl sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
        timeout -k 5 30 "$STATE/bin/sacctmgr" -i add cluster "$CLUSTER" >/dev/null
    fi
    if ! sl sacctmgr -n -P list account format=account | grep -qx ci; then
        timeout -k 5 30 "$STATE/bin/sacctmgr" -i add account ci Cluster="$CLUSTER" Description=ci Organization=ci >/dev/null
        timeout -k 5 30 "$STATE/bin/sacctmgr" -i add user root Account=ci DefaultAccount=ci >/dev/null || true
    fi
    launch slurmctld env SLURM_CONF="$STATE/etc/slurm.conf" slurmctld -D -f "$STATE/etc/slurm.conf"
    wait_for 60 "slurmctld" "$STATE/bin/scontrol" ping
    launch slurmd env SLURM_CONF="$STATE/etc/slurm.conf" slurmd -D -f "$STATE/etc/slurm.conf" -N "$NODE"
    # A node that was down in a previous run may need an explicit resume.
    timeout -k 5 30 "$STATE/bin/scontrol" update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
    wait_for "$START_TIMEOUT" "node $NODE idle" sh -c "'$STATE/bin/sinfo' -h -N -n '$NODE' -o '%T' | grep -Eq '^(idle|mixed|allocated)'"
}

cmd_start() {
    [ "$(id -u)" = 0 ] || { log "must run as root (daemons run with SlurmUser=root)"; exit 3; }
    mkdir -p "$STATE/log"
    ensure_packages
    write_config
    start_munge
    start_mariadb
    start_slurm
    log "cluster $CLUSTER up: node $NODE, partition $PARTITION, $(nproc) CPUs, 1 placeholder GPU"
    log "use it with: eval \"\$($0 env)\""
}

stop_one() {
    local name=$1 p
    p=$(pid_of "$name")
    [ -n "$p" ] || return 0
    if kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p" 2>/dev/null || true
        if ! timeout -k 2 30 bash -c "while kill -0 $p 2>/dev/null; do sleep 0.2; done"; then
            log "$name (pid $p) ignored SIGTERM for 30 s; SIGKILL"
            kill -KILL "$p" 2>/dev/null || true
            timeout -k 2 10 bash -c "while kill -0 $p 2>/dev/null; do sleep 0.2; done" || true
        fi
        log "stopped $name (pid $p)"
    fi
    rm -f "$STATE/pids/$name.pid"
}

cmd_stop() {
    if alive slurmctld; then
        # Cancel what is still queued or running, so no job step outlives slurmd.
        timeout -k 5 30 "$STATE/bin/scancel" --full --quiet --partition="$PARTITION" 2>/dev/null || true
        timeout -k 5 60 bash -c "until [ -z \"\$('$STATE/bin/squeue' -h -t PD,R,CG,S -o %i 2>/dev/null)\" ]; do sleep 1; done" \
            || log "jobs still listed after 60 s"
    fi
    local d
    for d in $(echo $DAEMONS | tr ' ' '\n' | tac); do stop_one "$d"; done
}

cmd_status() {
    local d rc=0
    for d in $DAEMONS; do
        if alive "$d"; then echo "$d: running (pid $(pid_of "$d"))"; else echo "$d: not running"; rc=1; fi
    done
    if alive slurmctld; then
        sl sinfo -N -o '%N %P %T %c %m %G' || true
        sl sacctmgr -n -P list cluster format=cluster,controlhost,controlport || true
    fi
    return $rc
}

cmd_env() {
    echo "export SLURM_CONF='$STATE/etc/slurm.conf'"
    echo "export PATH='$STATE/bin':\"\$PATH\""
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
