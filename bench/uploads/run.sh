#!/usr/bin/env bash
# Upload throughput: one large file (SIZE_MIB, default 200) uploaded through the service (multipart/form-data,
# streamed to S3 in parts) and straight to the same s3rver with the same part size, alternating over ROUNDS
# rounds; prints MiB/s, the ratio and the service's resident-memory growth during each upload (target < 64 MiB).
# Loads only 127.0.0.1 and stops by itself (about 2 minutes).
#
#   bench/uploads/run.sh            SIZE_MIB=200 ROUNDS=5 PART_SIZE=8388608 to change it
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
SIZE_MIB=${SIZE_MIB:-200}
ROUNDS=${ROUNDS:-5}
PART_SIZE=${PART_SIZE:-8388608}
work="$root/.local/bench/uploads"
mkdir -p "$work"

# shellcheck source=../lib.sh
. bench/lib.sh
use_dev_servers
dotnet build Service.csproj -c Release -v quiet -nologo >/dev/null
dotnet build bench/uploads/UploadBench.csproj -c Release -v quiet -nologo >/dev/null
app="$root/bin/Release/net10.0/Service.dll"
dotnet "$app" migrate >/dev/null

pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

port=$(free_port)
start_service "$app" "$port" "$work/service.log" \
  Uploads__MaxSizeBytes=$(( (SIZE_MIB + 1) * 1024 * 1024 )) Uploads__PartSizeBytes="$PART_SIZE"
pid=$service_pid

dotnet bench/uploads/bin/Release/net10.0/UploadBench.dll "http://127.0.0.1:$port" "$pid" "$S3_ENDPOINT" "$S3_BUCKET" \
  "$SIZE_MIB" "$PART_SIZE" "$ROUNDS" "$work"
