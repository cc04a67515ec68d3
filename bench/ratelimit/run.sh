#!/usr/bin/env bash
# Rate-limiting overhead: the same authenticated GET driven by wrk against three instances of the service that differ
# only in rate limiting (bench/ratelimit/RateLimitBench.csproj hosts the real service in one mode each):
#   ours     our limiter: one Redis script call per request deciding a minute and an hour window, exactly;
#   anchor   RedisRateLimiting.AspNetCore 1.2.1's sliding window (one window), what a .NET user would pick instead;
#   off      no rate limiting.
# Limits are far above the load, so nothing is refused: this measures the cost of deciding. Runs alternate the three
# variants in every round (order rotated); prints requests/s, latency percentiles, medians and the ratios. Loads
# only 127.0.0.1 and stops by itself (about 4 minutes).
#
#   bench/ratelimit/run.sh            DURATION=10 ROUNDS=3 CONNECTIONS=32 LOW_CONNECTIONS=4 THREADS=2 WARMUP=8
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-8}
work="$root/.local/bench/ratelimit"
mkdir -p "$work"

# shellcheck source=../lib.sh
. bench/lib.sh
ensure_wrk
use_dev_servers
dotnet build bench/ratelimit/RateLimitBench.csproj -c Release -v quiet -nologo >/dev/null
dotnet "$root/bin/Release/net10.0/Service.dll" migrate >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

variants=(ours anchor off)
declare -A port token pid
start() { # variant
  port[$1]=$(free_port)
  ENVIRONMENT=production SECRET_KEY="bench-secret-$(head -c 24 /dev/urandom | base64)" \
  ENCRYPTION_KEY="bench-encryption-$(head -c 24 /dev/urandom | base64)" CORS_ORIGINS=http://localhost:3000 \
  Storage__ForcePathStyle=true Logging__LogLevel__Default=Warning Http__ShutdownDelaySeconds=0 \
  RateLimits__KeyPrefix="bench-$$-$1" RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_PER_HOUR=100000000 \
    bash -c 'cd bench/ratelimit/bin/Release/net10.0 && exec dotnet RateLimitBench.dll "$0" "$1"' "${port[$1]}" "$1" >"$work/$1.log" 2>&1 &
  pids+=($!); pid[$1]=$!
  for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:${port[$1]}/health/live" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "instance $1 did not start; see $work/$1.log" >&2; exit 1
}
for v in "${variants[@]}"; do start "$v"; done

email="bench-$$-$RANDOM@example.com"
curl -fs -X POST "http://127.0.0.1:${port[off]}/api/v1/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"benchmark passphrase\",\"displayName\":\"Bench\"}" >/dev/null
login() { curl -fs -X POST "http://127.0.0.1:$1/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"benchmark passphrase\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])'; }
for v in "${variants[@]}"; do token[$v]=$(login "${port[$v]}"); done

# CPU time (utime + stime, clock ticks) a process has used so far: where a variant's cost lands, app or Redis.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
redis_pid=$(cat "$root/.local/dev/redis/redis.pid")
tick_us=$((1000000 / $(getconf CLK_TCK)))

run() { # label variant seconds connections -> "rps p50 p90 p99 app_cpu_us_per_request redis_cpu_us_per_request"
  local out app0 redis0 app1 redis1 requests
  app0=$(cpu_ticks "${pid[$2]}"); redis0=$(cpu_ticks "$redis_pid")
  out=$(wrk -t"$THREADS" -c"$4" -d"$3s" --latency -H "Authorization: Bearer ${token[$2]}" "http://127.0.0.1:${port[$2]}/api/v1/auth/me")
  app1=$(cpu_ticks "${pid[$2]}"); redis1=$(cpu_ticks "$redis_pid")
  echo "$out" >"$work/$1.wrk.txt"
  local non2xx; non2xx=$(echo "$out" | awk '/Non-2xx/ { print $NF }')
  if [ -n "$non2xx" ]; then echo "run $1 had $non2xx non-2xx responses; see $work/$1.wrk.txt" >&2; exit 1; fi
  requests=$(echo "$out" | awk '/requests in/ { print $1 }')
  echo "$(echo "$out" | wrk_figures 50% 90% 99%) $(( (app1 - app0) * tick_us / requests )) $(( (redis1 - redis0) * tick_us / requests ))"
}

# Tiered JIT, connection pools and Redis scripts need a while: warm every instance before measuring.
for v in "${variants[@]}"; do run "warmup-$v" "$v" "$WARMUP" "$CONNECTIONS" >/dev/null; done

# Phase 1 saturates the machine (throughput); phase 2 stays far below saturation, so latency differences are the
# cost of a decision rather than queueing.
report() { # label connections
  printf '\n%s: GET /api/v1/auth/me (authenticated), wrk %s threads, %s connections, %s s per run, 127.0.0.1\n' "$1" "$THREADS" "$2" "$DURATION"
  printf '%-12s %10s %9s %9s %9s %11s %13s\n' run req/s p50_ms p90_ms p99_ms app_us/req redis_us/req
  local results=() round i v r
  for round in $(seq 1 "$ROUNDS"); do
    for i in 0 1 2; do
      v=${variants[$(( (i + round) % 3 ))]} # rotate the order: no variant always runs first or last
      r=$(run "$v-$2-$round" "$v" "$DURATION" "$2")
      results+=("$round $v $r")
      # shellcheck disable=SC2086
      printf '%-12s %10.0f %9.3f %9.3f %9.3f %11d %13d\n' "$v #$round" $r
    done
  done
  # The verdict is the median of per-round ratios: the runs of one round are adjacent in time, so the machine's
  # drift cancels within a round (single runs vary by +-30 % here).
  printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
rounds = {}
for line in sys.stdin:
    rnd, name, rps, p50, p90, p99, app, redis = line.split()
    rounds.setdefault(rnd, {})[name] = (float(rps), float(p50), float(p99), float(app), float(redis))
med = {v: [statistics.median(r[v][i] for r in rounds.values()) for i in range(5)] for v in ("ours", "anchor", "off")}
ratio = lambda a, b: statistics.median(r[a][0] / r[b][0] for r in rounds.values())
print("median req/s: ours %.0f, anchor %.0f, off %.0f" % (med["ours"][0], med["anchor"][0], med["off"][0]))
print("throughput ratios (median of per-round ratios): ours/off %.3f, anchor/off %.3f, ours/anchor %.3f"
      % (ratio("ours", "off"), ratio("anchor", "off"), ratio("ours", "anchor")))
print("median latency added against off: ours p50 %+.3f ms p99 %+.3f ms; anchor p50 %+.3f ms p99 %+.3f ms"
      % (med["ours"][1] - med["off"][1], med["ours"][2] - med["off"][2], med["anchor"][1] - med["off"][1], med["anchor"][2] - med["off"][2]))
print("median CPU per request, app + Redis: ours %.0f + %.0f us, anchor %.0f + %.0f us, off %.0f + %.0f us"
      % (med["ours"][3], med["ours"][4], med["anchor"][3], med["anchor"][4], med["off"][3], med["off"][4]))
'
}

report "Saturated" "$CONNECTIONS"
report "Unsaturated" "${LOW_CONNECTIONS:-4}"
printf '\nTargets: ours/off >= 0.80 and ours/anchor >= 1.00 (saturated); p99 added < 1 ms (unsaturated).\n'
