#!/usr/bin/env bash
# Rate-limiting overhead: the same authenticated GET driven by wrk against two instances of the service, one
# limiting every request through Redis (limits far above the load, so nothing is refused: this measures the
# cost of deciding) and one with limiting off. Runs alternate A/B/A/B in one go; prints requests/s, latency
# percentiles and the ratios. Loads only 127.0.0.1 and stops by itself (about a minute).
#
#   bench/ratelimit/run.sh            DURATION=10 CONNECTIONS=32 THREADS=2 to change the load
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
work="$root/.local/bench/ratelimit"
mkdir -p "$work"

# shellcheck source=../lib.sh
. bench/lib.sh
ensure_wrk
use_dev_servers
dotnet build Service.csproj -c Release -v quiet -nologo >/dev/null
app="$root/bin/Release/net10.0/Service.dll"
dotnet "$app" migrate >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

start() { # name port enabled
  ENVIRONMENT=production SECRET_KEY="bench-secret-$(head -c 24 /dev/urandom | base64)" CORS_ORIGINS=http://localhost:3000 \
  Storage__ForcePathStyle=true Logging__LogLevel__Default=Warning Http__ShutdownDelaySeconds=0 \
  RateLimits__Enabled="$3" RateLimits__KeyPrefix="bench-$$-$1" RATE_LIMIT_PER_MINUTE=1000000 RATE_LIMIT_PER_HOUR=100000000 \
    dotnet "$app" --urls "http://127.0.0.1:$2" >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$2/health/live" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "instance $1 did not start; see $work/$1.log" >&2; exit 1
}

limited_port=$(free_port); start limited "$limited_port" true
unlimited_port=$(free_port); start unlimited "$unlimited_port" false

email="bench-$$-$RANDOM@example.com"
curl -fs -X POST "http://127.0.0.1:$unlimited_port/api/v1/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"benchmark passphrase\",\"displayName\":\"Bench\"}" >/dev/null
login() { curl -fs -X POST "http://127.0.0.1:$1/api/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"benchmark passphrase\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["accessToken"])'; }
token_limited=$(login "$limited_port"); token_unlimited=$(login "$unlimited_port")

run() { # name port token seconds [connections] -> "rps p50 p90 p99"
  local out
  out=$(wrk -t"$THREADS" -c"${5:-$CONNECTIONS}" -d"$4s" --latency -H "Authorization: Bearer $3" "http://127.0.0.1:$2/api/v1/auth/me")
  echo "$out" >"$work/$1.wrk.txt"
  local non2xx; non2xx=$(echo "$out" | awk '/Non-2xx/ { print $NF }')
  if [ -n "$non2xx" ]; then echo "run $1 had $non2xx non-2xx responses; see $work/$1.wrk.txt" >&2; exit 1; fi
  echo "$out" | wrk_figures 50% 90% 99%
}

# Tiered JIT and connection pools need a while: warm both instances before measuring.
WARMUP=${WARMUP:-8}
run warmup-limited "$limited_port" "$token_limited" "$WARMUP" >/dev/null
run warmup-unlimited "$unlimited_port" "$token_unlimited" "$WARMUP" >/dev/null

# Phase 1 saturates the machine (throughput); phase 2 stays far below saturation, so latency differences are the
# cost of a decision rather than queueing.
report() { # label connections
  printf '\n%s: GET /api/v1/auth/me (authenticated), wrk %s threads, %s connections, %s s per run, 127.0.0.1\n' "$1" "$THREADS" "$2" "$DURATION"
  printf '%-14s %10s %9s %9s %9s\n' run req/s p50_ms p90_ms p99_ms
  local results=() round variant port_var token_var r
  for round in $(seq 1 "$ROUNDS"); do
    for variant in limited unlimited; do
      port_var="${variant}_port"; token_var="token_${variant}"
      r=$(run "$variant-$2-$round" "${!port_var}" "${!token_var}" "$DURATION" "$2")
      results+=("$variant $r")
      # shellcheck disable=SC2086
      printf '%-14s %10.0f %9.3f %9.3f %9.3f\n' "$variant #$round" $r
    done
  done
  # Medians over the rounds: one noisy run on a shared 2-core machine should not decide the verdict.
  printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
runs = {}
for line in sys.stdin:
    name, rps, p50, p90, p99 = line.split()
    runs.setdefault(name, []).append((float(rps), float(p50), float(p99)))
med = {k: [statistics.median(c) for c in zip(*v)] for k, v in runs.items()}
lim, unl = med["limited"], med["unlimited"]
print("median req/s: limited %.0f, unlimited %.0f; throughput ratio limited/unlimited: %.3f" % (lim[0], unl[0], lim[0] / unl[0]))
print("median latency added by limiting: p50 %+.3f ms, p99 %+.3f ms" % (lim[1] - unl[1], lim[2] - unl[2]))
'
}

ROUNDS=${ROUNDS:-3}
report "Saturated" "$CONNECTIONS"
report "Unsaturated" "${LOW_CONNECTIONS:-4}"
printf '\nTargets: throughput ratio >= 0.80 (saturated); p99 added < 1 ms (unsaturated).\n'
