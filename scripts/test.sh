#!/usr/bin/env bash
# Runs every test against real servers: installs and starts PostgreSQL, Redis and s3rver on the test ports
# (scripts/services.sh, profile "test"), runs `dotnet test` for the whole solution and exits with its result.
# The servers it started are stopped afterwards; KEEP_SERVICES=1 leaves them running for faster reruns.
set -euo pipefail
cd "$(dirname "$0")/.."

was_running=$(./scripts/services.sh status test | grep -c ': up' || true)
./scripts/services.sh start test
if [ "${KEEP_SERVICES:-0}" != 1 ] && [ "$was_running" -eq 0 ]; then
  trap './scripts/services.sh stop test >/dev/null 2>&1' EXIT
fi
eval "$(./scripts/services.sh env test)"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet test Service.slnx "$@"
