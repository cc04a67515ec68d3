#!/usr/bin/env bash
# Runs every test against real servers: installs and starts PostgreSQL, Redis and s3rver on the test ports
# (scripts/services.sh, profile "test"), installs the OpenAPI linter, the Standard Webhooks reference verifier and
# Debian's chromium (for the browser tests), runs `dotnet test` for the whole solution and exits with its result.
# The servers it started are stopped afterwards; KEEP_SERVICES=1 leaves them running for faster reruns.
set -euo pipefail
cd "$(dirname "$0")/.."

was_running=$(./scripts/services.sh status test | grep -c ': up' || true)
./scripts/services.sh start test
if [ "${KEEP_SERVICES:-0}" != 1 ] && [ "$was_running" -eq 0 ]; then
  trap './scripts/services.sh stop test >/dev/null 2>&1' EXIT
fi
eval "$(./scripts/services.sh env test)"

# The OpenAPI lint test runs @redocly/cli from .local/npm (services.sh has made sure npm is there).
REDOCLY_VERSION=2.77.0
if ! grep -qs "\"version\": \"$REDOCLY_VERSION\"" .local/npm/node_modules/@redocly/cli/package.json; then
  echo "test: installing @redocly/cli $REDOCLY_VERSION into .local/npm" >&2
  npm install --silent --no-audit --no-fund --prefix .local/npm "@redocly/cli@$REDOCLY_VERSION" >/dev/null
fi
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

# The webhook signature test verifies our signatures with the reference TypeScript implementation, run by node.
STANDARDWEBHOOKS_VERSION=1.1.1
if ! grep -qs "\"version\": \"$STANDARDWEBHOOKS_VERSION\"" .local/npm/node_modules/standardwebhooks/package.json; then
  echo "test: installing standardwebhooks $STANDARDWEBHOOKS_VERSION into .local/npm" >&2
  npm install --silent --no-audit --no-fund --prefix .local/npm "standardwebhooks@$STANDARDWEBHOOKS_VERSION" >/dev/null
fi

# The browser tests drive Debian's chromium through Playwright, which cannot download browsers of its own here.
if ! command -v chromium >/dev/null 2>&1; then
  echo "test: installing chromium (apt)" >&2
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# The cluster test runs three instances behind Debian's nginx on PostgreSQL, Redis and s3rver of their own, which it
# stops and freezes (profile "cluster"); its script installs nginx too, but installing here keeps the test's time its own.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  echo "test: installing nginx (apt)" >&2
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq nginx >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet test Service.slnx "$@"
