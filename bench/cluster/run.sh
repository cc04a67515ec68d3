#!/usr/bin/env bash
# The cluster under fire: three instances of the Release build behind nginx (Debian's package, installed when absent)
# on PostgreSQL, Redis and s3rver of the "cluster" profile (their own ports, since this script stops and freezes
# them). A checked workload runs throughout (agents ingesting batches with clientEventIds and Idempotency-Keys and
# retrying as agents do, users paging events, a user uploading, a tenant at its export limit, workflows run every
# second, on events and by hand calling a local webhook receiver, members holding live streams); faults come one
# after another with recovery between them: Redis, PostgreSQL and s3rver each stopped and then hung (SIGSTOP) for
# PHASE_SECONDS, one instance SIGTERMed and restarted, one SIGKILLed and restarted; then an operator's kill-switch
# drill. Prints a table per fault, throughput per second and a summary. Loopback only; stops by itself.
#
#   bench/cluster/run.sh        PHASE_SECONDS=10 WARMUP_SECONDS=30 AGENTS=6 READERS=4 STREAM_USERS=50 STREAMS_PER_USER=4
#   FAULTS=redis-hung,sigkill   some faults only (redis-|pg-|s3-stopped|hung, sigterm, sigkill), to look at one closely
#   PROFILE=short: one fault of each kind (Redis stopped, PostgreSQL hung, an instance SIGTERMed, one SIGKILLed),
#   small load, judged on what must never happen only; the test suite runs it with APP set to its own build.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
work="$root/.local/bench/cluster"
mkdir -p "$work"

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq nginx >/dev/null
  else sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq nginx >/dev/null; fi
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

was_running=$(./scripts/services.sh status cluster | grep -c ': up' || true)
./scripts/services.sh start cluster >/dev/null
[ "$was_running" -eq 0 ] && trap './scripts/services.sh stop cluster >/dev/null 2>&1' EXIT
eval "$(./scripts/services.sh env cluster)"
[ -z "${APP:-}" ] && dotnet build Service.csproj -c Release -v quiet -nologo >/dev/null
app=${APP:-"$root/bin/Release/net10.0/Service.dll"}
dotnet build bench/cluster/ClusterBench.csproj -c Release -v quiet -nologo >/dev/null
client="$root/bench/cluster/bin/Release/net10.0/ClusterBench.dll"
# A fresh database each run: what the summary counts is this run's only.
psql -q "${DATABASE_URL%/*}/postgres" -c "DROP DATABASE IF EXISTS cluster WITH (FORCE)" -c "CREATE DATABASE cluster"
export DATABASE_URL="${DATABASE_URL%/*}/cluster"
dotnet "$app" migrate >/dev/null

dotnet "$client" "$root" "$app" "$nginx_bin" "$work" "${PHASE_SECONDS:-10}" "${AGENTS:-6}" "${READERS:-4}" "${PROFILE:-full}"
