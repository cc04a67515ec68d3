#!/usr/bin/env bash
# Patterns, in one run (about 2 minutes with the defaults):
#   1. full detection over EVENTS events of one organization, timed against a plain scan of the same rows (the I/O
#      floor), with the detector's peak RSS;
#   2. an incremental run over NEW_EVENTS new events on top of them;
#   3. the overview's p50/p99 on those events, uncached and cached;
#   4. precision and recall of the planted patterns at each noise level of NOISE.
# Runs the detector in its own process against a database of its own on the dev servers; loads only 127.0.0.1,
# stops by itself and drops its database.
#
#   bench/patterns/run.sh          EVENTS=1000000 NEW_EVENTS=10000 NOISE=0.5,0.8,0.95 SEED=7
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
EVENTS=${EVENTS:-1000000}
NEW_EVENTS=${NEW_EVENTS:-10000}
NOISE=${NOISE:-0.5,0.8,0.95}
SEED=${SEED:-7}

# shellcheck source=../lib.sh
. bench/lib.sh
use_dev_servers
dotnet build Service.csproj -c Release -v quiet -nologo >/dev/null
dotnet build bench/patterns/PatternBench.csproj -c Release -v quiet -nologo >/dev/null
app="$root/bin/Release/net10.0/Service.dll"

create_bench_database bench_patterns "$app" 8
[ "${KEEP_DB:-}" = 1 ] || trap drop_bench_database EXIT

dotnet bench/patterns/bin/Release/net10.0/PatternBench.dll "$bench_conn" "$REDIS_URL" "$EVENTS" "$NEW_EVENTS" "$NOISE" "$SEED"
