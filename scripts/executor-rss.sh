#!/usr/bin/env bash
# Memory of the command executor while it runs a task (README, benchmarks:
# "memory: idle agent and a command executor running `sleep`").
#
#   scripts/executor-rss.sh [RUNS]      (default: 3 runs of each variant)
#
# Starts a master and an agent (release builds, loopback, posix launcher),
# runs `sleep 30` with mesos-execute, waits until the task runs, and prints
# VmRSS (and the thread count) of the mesos-executor that runs it: once for
# the v0 command executor and once with the agent's
# --http_command_executor (the v1 HTTP variant). Then stops everything it
# started and removes its directories.
#
# It does not build: build first with
#   cargo build --release -p mesos-executor -p mesos-agent -p mesos-master -p mesos-tools
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/target/release"
RUNS="${1:-3}"

for binary in mesos-master mesos-agent mesos-executor mesos-execute; do
    if [ ! -x "$BIN/$binary" ]; then
        echo "executor-rss.sh: $BIN/$binary is missing; build with:" >&2
        echo "  cargo build --release -p mesos-executor -p mesos-agent -p mesos-master -p mesos-tools" >&2
        exit 1
    fi
done

DIR="$(mktemp -d /tmp/executor-rss.XXXXXX)"
PIDS=()

cleanup() {
    # Newest first: the framework, then the agent, then the master; any
    # executor or task left behind (found by the work directory in its
    # environment) goes last.
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        kill "${PIDS[i]}" 2>/dev/null || true
    done
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        wait "${PIDS[i]}" 2>/dev/null || true
    done
    PIDS=()
    local pid
    for pid in $(ours); do
        kill -9 "$pid" 2>/dev/null || true
    done
}
# The directory (with the logs) stays when something failed.
trap 'status=$?; cleanup; if [ "$status" = 0 ]; then rm -rf "$DIR"; fi' EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Processes started under this run's directory: the executors and their
# tasks (the agent gives each its sandbox in MESOS_DIRECTORY).
ours() {
    local pid
    for pid in $(pgrep -x "mesos-executor|sleep"); do
        if tr '\0' '\n' 2>/dev/null <"/proc/$pid/environ" | grep -q "^MESOS_DIRECTORY=$DIR/"; then
            echo "$pid"
        fi
    done 2>/dev/null
}

wait_for() {
    local what="$1"
    shift
    for _ in $(seq 200); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    echo "executor-rss.sh: timed out waiting for $what (logs in $DIR)" >&2
    return 1
}

agent_registered() {
    curl -sf "http://127.0.0.1:$MASTER_PORT/master/slaves" | grep -q '"active":true'
}

# The executor's pid once its task (`sh -c 'sleep 30'`) runs as its child.
executor_with_task() {
    local pid
    for pid in $(ours); do
        if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$BIN/mesos-executor" ] &&
            pgrep -P "$pid" >/dev/null; then
            EXECUTOR="$pid"
            return 0
        fi
    done
    return 1
}

measure() {
    local variant="$1" run="$2"
    shift 2
    local work="$DIR/$variant-$run"
    mkdir -p "$work/master" "$work/agent" "$work/runtime"
    MASTER_PORT="$(free_port)"
    local agent_port
    agent_port="$(free_port)"
    "$BIN/mesos-master" --ip=127.0.0.1 --port="$MASTER_PORT" --work_dir="$work/master" \
        >"$work/master.log" 2>&1 &
    PIDS+=($!)
    "$BIN/mesos-agent" --master="127.0.0.1:$MASTER_PORT" --ip=127.0.0.1 --port="$agent_port" \
        --work_dir="$work/agent" --runtime_dir="$work/runtime" --launcher=posix \
        --isolation=posix/cpu,posix/mem "$@" >"$work/agent.log" 2>&1 &
    PIDS+=($!)
    wait_for "the agent to register" agent_registered
    "$BIN/mesos-execute" --master="127.0.0.1:$MASTER_PORT" --name=t --command='sleep 30' \
        >"$work/execute.log" 2>&1 &
    PIDS+=($!)
    wait_for "the task to run" executor_with_task
    # Let the executor settle after its TASK_RUNNING update.
    sleep 1
    local rss threads
    rss="$(awk '/^VmRSS:/ {print $2}' "/proc/$EXECUTOR/status")"
    threads="$(awk '/^Threads:/ {print $2}' "/proc/$EXECUTOR/status")"
    printf '%-28s run %d: VmRSS %5d kB (%.2f MB), %d threads\n' \
        "$variant" "$run" "$rss" "$(echo "$rss / 1024" | bc -l)" "$threads"
    cleanup
}

for run in $(seq "$RUNS"); do
    measure "command executor (v0)" "$run"
done
for run in $(seq "$RUNS"); do
    measure "command executor (v1 HTTP)" "$run" --http_command_executor
done
