#!/usr/bin/env bash
# Runs the foreign agent (tests/foreign/agent.py, Python grpcio with stubs
# generated from proto/ here) against a real jetbackd on its embedded
# default, after some rows were written through the CLI.
# Usage: agent_test.sh JETBACKD JETBACK PROTO_DIR
set -euo pipefail
jetbackd=$1 jetback=$2 proto=$3
here=$(cd "$(dirname "$0")" && pwd)
# Debian's interpreter: its python3-grpcio is the one bootstrap installs.
py=/usr/bin/python3
work=$(mktemp -d /tmp/jetback-foreign.XXXXXX)
pid=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/stubs" "$work/state"
"$py" -m grpc_tools.protoc -I"$proto" --python_out="$work/stubs" \
  --grpc_python_out="$work/stubs" jetback/v1/backup.proto \
  jetback/v1/errors.proto google/rpc/status.proto
export JETBACK_STATE_DIR=$work/state
"$jetbackd" 2>"$work/jetbackd.log" &
pid=$!
until "$jetback" health >/dev/null 2>&1; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/jetbackd.log" >&2; exit 1; }
  sleep 0.05
done
# JSON-like rows, so the database compresses on the wire.
for i in $(seq 1 40); do
  "$jetback" put --instance demo "user$i" \
    "{\"id\":$i,\"name\":\"user-$i\",\"email\":\"user$i@example.com\",\"active\":true}" >/dev/null
done
"$py" "$here/agent.py" "$work/stubs" "$work/state/jetbackd.sock" demo
