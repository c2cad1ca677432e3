#!/usr/bin/env bash
# The main job: a local cluster (mesos-local: a master and one agent in one
# process) runs a command task submitted by mesos-execute, then stops.
#
#   scripts/run-local.sh [COMMAND]     (default: echo "Hello from Mesos")
#
# Builds the release binaries first. The task's sandbox stays under the
# printed work directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
COMMAND="${1:-echo \"Hello from Mesos\"}"

cargo build --release -q -p mesos-tools -p mesos-executor -p mesos-agent
BIN="$ROOT/target/release"

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
WORK_DIR="$(mktemp -d /tmp/mesos-local.XXXXXX)"
LOG="$WORK_DIR/mesos-local.log"

"$BIN/mesos-local" --ip=127.0.0.1 --port="$PORT" --work_dir="$WORK_DIR" \
    --resources="cpus:2;mem:1024;disk:1024;ports:[31000-32000]" >"$LOG" 2>&1 &
LOCAL=$!
trap 'kill $LOCAL 2>/dev/null || true' EXIT

for _ in $(seq 100); do
    if curl -sf "http://127.0.0.1:$PORT/master/health" >/dev/null 2>&1; then break; fi
    sleep 0.1
done
echo "mesos-local: master at 127.0.0.1:$PORT, work_dir $WORK_DIR (log: $LOG)"

STATUS=0
"$BIN/mesos-execute" --master="127.0.0.1:$PORT" --name=hello --command="$COMMAND" || STATUS=$?

SANDBOX_OUT="$(find "$WORK_DIR" -path '*/runs/*' -name stdout | head -n 1)"
if [ -n "$SANDBOX_OUT" ]; then
    echo "task stdout ($SANDBOX_OUT):"
    sed 's/^/  /' "$SANDBOX_OUT"
fi
exit "$STATUS"
