#!/usr/bin/env bash
# Events: seeds SEED (1,000,000) events into a database of the benchmark's own, then measures ingest through the
# service (batches of 500 from an agent key, concurrency 8) against raw binary COPY of the same kind of rows,
# the two candidate insert statements on the database alone, the p50/p99 of 100-item queries with filters, and
# ingest under a hash_dirs policy with 20 exclusion globs against ingest keeping paths as sent.
# Loads only 127.0.0.1, stops by itself and drops its database (about 3 minutes).
#
#   bench/events/run.sh            SEED=1000000 INGEST=50000 BATCH=500 CONCURRENCY=8 QUERY_SECONDS=5
#                                  PHASES=all, or some of ingest,statements,queries,privacy (privacy alone seeds nothing)
#                                  KEEP_DB=1 keeps the bench_events database afterwards (to EXPLAIN queries on it)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
SEED=${SEED:-1000000}
INGEST=${INGEST:-50000}
BATCH=${BATCH:-500}
CONCURRENCY=${CONCURRENCY:-8}
QUERY_SECONDS=${QUERY_SECONDS:-5}
work="$root/.local/bench/events"
mkdir -p "$work"

# shellcheck source=../lib.sh
. bench/lib.sh
use_dev_servers
dotnet build Service.csproj -c Release -v quiet -nologo >/dev/null
dotnet build bench/events/EventBench.csproj -c Release -v quiet -nologo >/dev/null
app="$root/bin/Release/net10.0/Service.dll"

# A database of its own: the dev data stays as it was, and a million rows go away with it.
create_bench_database bench_events "$app"

pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ "${KEEP_DB:-}" = 1 ] || drop_bench_database
}
trap cleanup EXIT

port=$(free_port)
start_service "$app" "$port" "$work/service.log" DATABASE_URL="$bench_url"
pid=$service_pid

dotnet bench/events/bin/Release/net10.0/EventBench.dll "http://127.0.0.1:$port" "$bench_conn" "$SEED" "$INGEST" "$BATCH" "$CONCURRENCY" "$QUERY_SECONDS" "${PHASES:-all}"
