#!/usr/bin/env bash
# Feature-gate overhead: one instance of the service (Release build, real pipeline, flags loaded from PostgreSQL
# into the in-memory snapshot) serves two routes whose handlers are identical; one is behind the EventIngest
# kill switch. wrk alternates gated/ungated over several rounds; prints requests/s, latency percentiles and the
# throughput ratio gated/ungated. Loads only 127.0.0.1 and stops by itself (about 2 minutes).
#
#   bench/features/run.sh            DURATION=10 ROUNDS=5 CONNECTIONS=32 THREADS=2 to change the load
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-5}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-8}
work="$root/.local/bench/features"
mkdir -p "$work"

# shellcheck source=../lib.sh
. bench/lib.sh
ensure_wrk
use_dev_servers
dotnet build bench/features/FeatureGateBench.csproj -c Release -v quiet -nologo >/dev/null
dotnet bin/Release/net10.0/Service.dll migrate >/dev/null 2>&1 || dotnet run --project Service.csproj -c Release -- migrate >/dev/null

port=$(free_port)
(cd bench/features/bin/Release/net10.0 && exec dotnet FeatureGateBench.dll "$port") >"$work/host.log" 2>&1 &
host=$!
cleanup() { kill "$host" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 150); do curl -fs "http://127.0.0.1:$port/health/live" >/dev/null 2>&1 && break; sleep 0.1; done
for path in gated ungated; do
  status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/bench/$path")
  [ "$status" = 200 ] || { echo "/bench/$path answered $status (is EventIngest turned off in the dev database?); see $work/host.log" >&2; exit 1; }
done

run() { # name path seconds -> "rps p50 p99"
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$3s" --latency "http://127.0.0.1:$port/bench/$2")
  echo "$out" >"$work/$1.wrk.txt"
  if echo "$out" | grep -q 'Non-2xx'; then echo "run $1 had non-2xx responses; see $work/$1.wrk.txt" >&2; exit 1; fi
  echo "$out" | wrk_figures 50% 99%
}

run warmup-gated gated "$WARMUP" >/dev/null
run warmup-ungated ungated "$WARMUP" >/dev/null

printf 'GET /bench/{gated,ungated} (anonymous, rate limiting off), wrk %s threads, %s connections, %s s per run, 127.0.0.1\n' "$THREADS" "$CONNECTIONS" "$DURATION"
printf '%-12s %10s %9s %9s\n' run req/s p50_ms p99_ms
results=()
for round in $(seq 1 "$ROUNDS"); do
  # Alternate which variant goes first: the machine's drift over a round then hits both alike.
  if [ $((round % 2)) -eq 1 ]; then order="gated ungated"; else order="ungated gated"; fi
  for variant in $order; do
    r=$(run "$variant-$round" "$variant" "$DURATION")
    results+=("$variant $round $r")
    # shellcheck disable=SC2086
    printf '%-12s %10.0f %9.3f %9.3f\n' "$variant #$round" $r
  done
done
# The verdict is the median of each round's gated/ungated ratio: the two runs of a round are adjacent in time,
# so the machine's drift (single runs of one variant differ by 10-20 % here) cancels within a pair.
printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
runs, rounds = {}, {}
for line in sys.stdin:
    name, rnd, rps, p50, p99 = line.split()
    runs.setdefault(name, []).append((float(rps), float(p50), float(p99)))
    rounds.setdefault(rnd, {})[name] = float(rps)
med = {k: [statistics.median(c) for c in zip(*v)] for k, v in runs.items()}
g, u = med["gated"], med["ungated"]
pairs = sorted(r["gated"] / r["ungated"] for r in rounds.values())
print("median req/s: gated %.0f, ungated %.0f" % (g[0], u[0]))
print("per-round throughput ratios gated/ungated: %s" % ", ".join("%.3f" % p for p in pairs))
print("throughput ratio gated/ungated (median of rounds): %.3f (target >= 0.95)" % statistics.median(pairs))
print("median latency added by the gate: p50 %+.3f ms, p99 %+.3f ms" % (g[1] - u[1], g[2] - u[2]))
'
