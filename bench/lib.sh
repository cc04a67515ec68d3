# Sourced by the benchmarks: wrk on demand, the dev servers, free ports, and wrk output parsing.

# Installs wrk from apt when it is missing.
ensure_wrk() {
  command -v wrk >/dev/null 2>&1 && return
  echo "installing wrk" >&2
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get install -y -qq wrk >/dev/null; fi
}

# Starts (or reuses) the dev PostgreSQL, Redis and s3rver and exports their settings.
use_dev_servers() {
  ./scripts/services.sh start dev >/dev/null
  eval "$(./scripts/services.sh env dev)"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# wrk prints latencies as 812.00us / 1.23ms / 1.02s: normalise to milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

# Requests/s and the given latency percentiles (e.g. 50% 99%) from wrk --latency output on stdin.
wrk_figures() {
  local out; out=$(cat)
  local line; line=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
  local p
  for p in "$@"; do line="$line $(to_ms "$(echo "$out" | awk -v p="$p" '$1 == p { print $2 }')")"; done
  echo "$line"
}

# A database of the benchmark's own on the dev PostgreSQL, NAME, created empty and migrated by APP (the dev data
# stays as it was). Sets $bench_url (its postgres:// URL) and $bench_conn (an Npgsql connection string with a pool
# of POOL, default 32). drop_bench_database removes it; call it from the script's EXIT trap.
#   create_bench_database bench_events "$app" [POOL]
create_bench_database() {
  bench_db=$1
  bench_admin_url="${DATABASE_URL%/*}/postgres"
  bench_url="${DATABASE_URL%/*}/$bench_db"
  psql -q "$bench_admin_url" -c "DROP DATABASE IF EXISTS $bench_db" -c "CREATE DATABASE $bench_db"
  DATABASE_URL="$bench_url" dotnet "$2" migrate >/dev/null
  bench_conn=$(python3 - "$bench_url" "${3:-32}" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
print(f"Host={u.hostname};Port={u.port or 5432};Username={u.username or 'postgres'};Password={u.password or ''};Database={u.path.lstrip('/')};Maximum Pool Size={sys.argv[2]}")
PY
)
}

drop_bench_database() { psql -q "$bench_admin_url" -c "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" || true; }

# Starts the Release build in Production with rate limiting off on 127.0.0.1:PORT, logging to LOG, and waits until
# it is live. Extra settings come as NAME=value arguments. Sets $service_pid.
#   start_service "$app" "$port" "$work/service.log" Uploads__MaxSizeBytes=...
start_service() {
  local app=$1 port=$2 log=$3; shift 3
  env ENVIRONMENT=production SECRET_KEY="bench-secret-$(head -c 24 /dev/urandom | base64)" \
    ENCRYPTION_KEY="bench-encryption-$(head -c 24 /dev/urandom | base64)" CORS_ORIGINS=http://localhost:3000 \
    Storage__ForcePathStyle=true Logging__LogLevel__Default=Warning Http__ShutdownDelaySeconds=0 RateLimits__Enabled=false "$@" \
    dotnet "$app" --urls "http://127.0.0.1:$port" >"$log" 2>&1 &
  service_pid=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health/live" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "the service did not start; see $log" >&2
  exit 1
}

# Starts COUNT instances of one deployment with start_service: they share SECRET_KEY and ENCRYPTION_KEY (in
# $deployment_secret and $deployment_encryption_key, so a bench client can mint tokens) and log to $work/service-N.log.
# Appends their pids to $pids and ports to $ports; stop_started kills every pid in $pids (call it from the EXIT trap).
# Extra settings come as NAME=value arguments.
#   start_instances "$app" 3 DATABASE_URL="$bench_url" Workflows__WorkersPerInstance=16
start_instances() {
  local app=$1 count=$2 i port; shift 2
  deployment_secret=${deployment_secret:-"bench-secret-$(head -c 24 /dev/urandom | base64)"}
  deployment_encryption_key=${deployment_encryption_key:-"bench-encryption-$(head -c 24 /dev/urandom | base64)"}
  for i in $(seq 1 "$count"); do
    port=$(free_port)
    start_service "$app" "$port" "$work/service-$i.log" SECRET_KEY="$deployment_secret" ENCRYPTION_KEY="$deployment_encryption_key" "$@"
    pids+=("$service_pid")
    ports+=("$port")
  done
}

stop_started() { local p; for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; }
