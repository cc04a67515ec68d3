#!/usr/bin/env bash
# Webhooks: deliveries per second through the whole pipeline (outbox rows -> the service's delivery workers ->
# signed POSTs to a local receiver) against a bare HttpClient loop posting the same signed payloads at the same
# concurrency, in one run; then enqueue-to-received latency (p50/p99) at a steady rate, one message per transaction.
# Loads only 127.0.0.1, stops by itself and drops its database (about 1 minute).
#
#   bench/webhooks/run.sh          MESSAGES=10000 CONCURRENCY=32 RATE=200 DURATION=15
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
MESSAGES=${MESSAGES:-10000}
CONCURRENCY=${CONCURRENCY:-32}
RATE=${RATE:-200}
SECONDS_STEADY=${DURATION:-15}
work="$root/.local/bench/webhooks"
mkdir -p "$work"

# shellcheck source=../lib.sh
. bench/lib.sh
use_dev_servers
dotnet build Service.csproj -c Release -v quiet -nologo >/dev/null
dotnet build bench/webhooks/WebhookBench.csproj -c Release -v quiet -nologo >/dev/null
app="$root/bin/Release/net10.0/Service.dll"

create_bench_database bench_webhooks "$app" 64

pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  drop_bench_database
}
trap cleanup EXIT

# Staging, not Production: the receiver listens on loopback, which only an allowed private network may reach.
port=$(free_port)
start_service "$app" "$port" "$work/service.log" DATABASE_URL="$bench_url" ENVIRONMENT=staging \
  Integrations__AllowedPrivateNetworks=127.0.0.1/32 \
  Integrations__DeliveryConcurrency="$CONCURRENCY" Integrations__PollIntervalMilliseconds=1000
pid=$service_pid

dotnet bench/webhooks/bin/Release/net10.0/WebhookBench.dll "http://127.0.0.1:$port" "$bench_conn" "$MESSAGES" "$CONCURRENCY" "$RATE" "$SECONDS_STEADY"
