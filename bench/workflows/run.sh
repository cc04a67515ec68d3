#!/usr/bin/env bash
# Workflows, in one run (about 3 minutes with the defaults):
#   1. run throughput of a 3-step workflow (condition, webhook to a local receiver, notify) on three instances of
#      WORKERS workers each, against a bare HttpClient loop making the same signed calls at the same total concurrency;
#   2. ingest throughput with 20 enabled event-triggered workflows in the org, against the same ingest with none;
#   3. SCHEDULES workflows firing every second across three instances for DURATION seconds: fire lag p50/p99,
#      duplicates, misses.
# Loads only 127.0.0.1, stops by itself and drops its database.
#
#   bench/workflows/run.sh          RUNS=3000 SCHEDULES=200 DURATION=60 INGEST_SECONDS=10
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
RUNS=${RUNS:-3000}
SCHEDULES=${SCHEDULES:-200}
SECONDS_SCHEDULED=${DURATION:-60}
INGEST_SECONDS=${INGEST_SECONDS:-10}
WORKERS=${WORKERS:-16}
work="$root/.local/bench/workflows"
mkdir -p "$work"

# shellcheck source=../lib.sh
. bench/lib.sh
use_dev_servers
dotnet build Service.csproj -c Release -v quiet -nologo >/dev/null
dotnet build bench/workflows/WorkflowBench.csproj -c Release -v quiet -nologo >/dev/null
app="$root/bin/Release/net10.0/Service.dll"

create_bench_database bench_workflows "$app" 32

pids=()
ports=()
cleanup() {
  stop_started
  drop_bench_database
}
trap cleanup EXIT

# Staging, not Production: the receiver listens on loopback, which only an allowed private network may reach.
start_instances "$app" 3 DATABASE_URL="$bench_url" ENVIRONMENT=staging Integrations__AllowedPrivateNetworks=127.0.0.1/32 \
  Workflows__WorkersPerInstance="$WORKERS" Workflows__MaxRunningPerOrg=64
urls=()
for port in "${ports[@]}"; do urls+=("http://127.0.0.1:$port"); done

dotnet bench/workflows/bin/Release/net10.0/WorkflowBench.dll "$bench_conn" "$RUNS" "$WORKERS" "$SCHEDULES" "$SECONDS_SCHEDULED" "$INGEST_SECONDS" "${urls[@]}"
