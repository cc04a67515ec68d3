#!/usr/bin/env bash
# Local PostgreSQL, Redis and S3 (s3rver) for development and tests, without Docker.
#
#   scripts/services.sh start|stop|status|env [dev|test|cluster] [pg|redis|s3]
#   scripts/services.sh pids [dev|test|cluster] pg|redis|s3      (every process of one server, for SIGSTOP)
#
# Installs what is missing (apt: postgresql, redis-server; npm: s3rver into .local/npm), keeps all data
# under the git-ignored .local/<profile>/ and binds every server to 127.0.0.1. Idempotent: starting a
# running service is a no-op. The "test" and "cluster" (bench/cluster, which stops and freezes its servers)
# profiles use other ports than "dev" so all can run at once. A third argument starts or stops one server only.
# Ports can be overridden with PG_PORT, REDIS_PORT and S3_PORT.
set -euo pipefail

cmd=${1:-start}
profile=${2:-${SERVICES_PROFILE:-dev}}
root=$(cd "$(dirname "$0")/.." && pwd)
local_dir="$root/.local"
state="$local_dir/$profile"

case "$profile" in
  dev)  : "${PG_PORT:=15432}" "${REDIS_PORT:=16379}" "${S3_PORT:=14569}" ;;
  test) : "${PG_PORT:=15433}" "${REDIS_PORT:=16380}" "${S3_PORT:=14570}" ;;
  cluster) : "${PG_PORT:=15434}" "${REDIS_PORT:=16381}" "${S3_PORT:=14571}" ;;
  *) echo "unknown profile '$profile' (dev, test or cluster)" >&2; exit 2 ;;
esac
S3RVER_VERSION=3.7.1
DB_NAME=workflow
S3_BUCKET=workflow-uploads

log() { echo "services[$profile]: $*" >&2; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  echo "$dir"
}

apt_updated=0
apt_install() {
  if [ $apt_updated -eq 0 ]; then as_root apt-get update -qq >/dev/null; apt_updated=1; fi
  # Keep apt from starting the distribution's own service instances.
  as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq "$@" >/dev/null
}

install_missing() {
  if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then log "installing postgresql"; apt_install postgresql; fi
  if ! command -v redis-server >/dev/null 2>&1; then log "installing redis-server"; apt_install redis-server; fi
  if [ ! -x "$local_dir/npm/node_modules/.bin/s3rver" ]; then
    command -v npm >/dev/null 2>&1 || { log "installing nodejs and npm"; apt_install nodejs npm; }
    log "installing s3rver $S3RVER_VERSION into .local/npm"
    mkdir -p "$local_dir/npm"
    npm install --silent --no-audit --no-fund --prefix "$local_dir/npm" "s3rver@$S3RVER_VERSION" >/dev/null
  fi
}

# PostgreSQL refuses to run as root: run its tools as the postgres user when we are root.
pg_user() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_running() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" >/dev/null 2>&1; }

start_pg() {
  local bin data sock
  bin=$(pg_bin); data="$state/pg/data"; sock="$state/pg/run"
  if pg_running; then return; fi
  mkdir -p "$state/pg/run"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$state/pg"; chmod 755 "$local_dir" "$state"; fi
  if [ ! -s "$data/PG_VERSION" ]; then
    log "initdb $data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  local opts="-p $PG_PORT -k $sock -c listen_addresses=127.0.0.1 -c max_connections=300"
  # Test data is disposable: skip fsync so creating a database per test class stays cheap.
  if [ "$profile" = test ]; then opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"; fi
  as_pg "$bin/pg_ctl" -D "$data" -l "$state/pg/postgres.log" -o "$opts" -w -t 60 start >/dev/null
  log "postgresql on 127.0.0.1:$PG_PORT"
  if [ "$profile" != test ]; then
    if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "select 1 from pg_database where datname='$DB_NAME'" | grep -q 1; then
      "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$DB_NAME"
    fi
  fi
}

stop_pg() {
  local data="$state/pg/data"
  if [ -s "$data/postmaster.pid" ]; then as_pg "$(pg_bin)/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true; log "postgresql stopped"; fi
}

redis_running() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

start_redis() {
  if redis_running; then return; fi
  mkdir -p "$state/redis"
  # Persistent (append-only file, synced every second) as a production Redis must be: the rate limiter's windows
  # outlive a restart, or every client would get a fresh allowance. The test profile's Redis is thrown away.
  local persistence=(--appendonly yes --appendfsync everysec)
  [ "$profile" = test ] && persistence=(--appendonly no)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' "${persistence[@]}" --daemonize yes \
    --dir "$state/redis" --pidfile "$state/redis/redis.pid" --logfile "$state/redis/redis.log"
  for _ in $(seq 1 50); do redis_running && break; sleep 0.1; done
  redis_running || { log "redis did not start: see $state/redis/redis.log"; exit 1; }
  log "redis on 127.0.0.1:$REDIS_PORT"
}

stop_redis() {
  if redis_running; then redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true; log "redis stopped"; fi
}

s3_running() { curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" 2>/dev/null; }

start_s3() {
  if s3_running; then return; fi
  mkdir -p "$state/s3/data"
  nohup node "$local_dir/npm/node_modules/s3rver/bin/s3rver.js" -d "$state/s3/data" -p "$S3_PORT" -a 127.0.0.1 \
    --configure-bucket "$S3_BUCKET" "$root/scripts/s3-cors.xml" >"$state/s3/s3rver.log" 2>&1 &
  echo $! >"$state/s3/s3rver.pid"
  for _ in $(seq 1 100); do s3_running && break; sleep 0.1; done
  s3_running || { log "s3rver did not start: see $state/s3/s3rver.log"; exit 1; }
  log "s3rver on 127.0.0.1:$S3_PORT (bucket $S3_BUCKET)"
}

stop_s3() {
  if [ -s "$state/s3/s3rver.pid" ]; then kill "$(cat "$state/s3/s3rver.pid")" 2>/dev/null || true; rm -f "$state/s3/s3rver.pid"; log "s3rver stopped"; fi
}

print_env() {
  if [ "$profile" = test ]; then
    # The tests create a database per test class: they get the server's admin database, not an app database.
    cat <<VARS
export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres
export TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export TEST_S3_BUCKET=$S3_BUCKET
VARS
    return
  fi
  cat <<VARS
export DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/$DB_NAME
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export S3_BUCKET=$S3_BUCKET
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=S3RVER
export AWS_SECRET_ACCESS_KEY=S3RVER
VARS
}

only=${3:-all}
pids() {
  case "$1" in
    pg) local main; main=$(head -n 1 "$state/pg/data/postmaster.pid" 2>/dev/null || true)
        [ -n "$main" ] && { echo "$main"; pgrep -P "$main" || true; } ;;
    redis) cat "$state/redis/redis.pid" 2>/dev/null || true ;;
    s3) cat "$state/s3/s3rver.pid" 2>/dev/null || true ;;
  esac
}

case "$cmd" in
  start)
    mkdir -p "$state"; install_missing
    case "$only" in all) start_pg; start_redis; start_s3 ;; pg) start_pg ;; redis) start_redis ;; s3) start_s3 ;; esac ;;
  stop) case "$only" in all) stop_s3; stop_redis; stop_pg ;; pg) stop_pg ;; redis) stop_redis ;; s3) stop_s3 ;; esac ;;
  pids) pids "$only" ;;
  status)
    pg_running && echo "postgresql: up (127.0.0.1:$PG_PORT)" || echo "postgresql: down"
    redis_running && echo "redis: up (127.0.0.1:$REDIS_PORT)" || echo "redis: down"
    s3_running && echo "s3rver: up (127.0.0.1:$S3_PORT)" || echo "s3rver: down" ;;
  env) print_env ;;
  *) echo "usage: scripts/services.sh start|stop|status|env|pids [dev|test|cluster] [pg|redis|s3]" >&2; exit 2 ;;
esac
