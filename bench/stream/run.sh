#!/usr/bin/env bash
# Live stream: 1,000 concurrent SSE streams spread over two instances; notifications made at a steady rate by the
# product's Notifier (commit, then publish) to random users; publish-to-receive latency p50/p99 and the RSS growth
# per open stream, beside a bare Redis pub/sub round trip at the same rate and a bare ASP.NET Core SSE endpoint holding
# as many idle streams (the memory floor), measured in the same run.
# Loads only 127.0.0.1, stops by itself and drops its database (about 1 minute).
#
#   bench/stream/run.sh          STREAMS=1000 RATE=200 DURATION=15 IDLE_SECONDS=10
#   SERVICE_ENV="DOTNET_gcServer=0" bench/stream/run.sh   passes settings to both instances (GC experiments)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
STREAMS=${STREAMS:-1000}
RATE=${RATE:-200}
SECONDS_STEADY=${DURATION:-15}
work="$root/.local/bench/stream"
mkdir -p "$work"

# shellcheck source=../lib.sh
. bench/lib.sh
use_dev_servers
dotnet build Service.csproj -c Release -v quiet -nologo >/dev/null
dotnet build bench/stream/StreamBench.csproj -c Release -v quiet -nologo >/dev/null
app="$root/bin/Release/net10.0/Service.dll"

create_bench_database bench_stream "$app" 16

pids=()
ports=()
cleanup() {
  stop_started
  drop_bench_database
}
trap cleanup EXIT

channel="bench-stream-$$"
# shellcheck disable=SC2086 # SERVICE_ENV holds several NAME=value words
start_instances "$app" 2 DATABASE_URL="$bench_url" Stream__Channel="$channel" Stream__KeyPrefix="$channel" ${SERVICE_ENV:-}
secret=$deployment_secret

bench_dll=bench/stream/bin/Release/net10.0/StreamBench.dll
bare_port=$(free_port)
dotnet "$bench_dll" --bare-sse "$bare_port" >"$work/bare.log" 2>&1 &
pids+=("$!")
bare_pid=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$bare_port/" && break; sleep 0.1; done

dotnet "$bench_dll" "$bench_conn" "$REDIS_URL" "$secret" "$channel" "$STREAMS" "$RATE" "$SECONDS_STEADY" \
  "http://127.0.0.1:${ports[0]}" "${pids[0]}" "http://127.0.0.1:${ports[1]}" "${pids[1]}" "http://127.0.0.1:$bare_port" "$bare_pid"
