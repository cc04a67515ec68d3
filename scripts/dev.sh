#!/usr/bin/env bash
# Runs the service locally: installs and starts PostgreSQL, Redis and s3rver (scripts/services.sh, profile "dev"),
# applies migrations and starts the API in Development. appsettings.Development.json already points at these
# servers; a .env file or environment variables override it (see .env.example).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/services.sh start dev
# Non-default ports chosen through PG_PORT / REDIS_PORT / S3_PORT: point the app at them.
if [ -n "${PG_PORT:-}${REDIS_PORT:-}${S3_PORT:-}" ]; then eval "$(./scripts/services.sh env dev)"; fi

export ASPNETCORE_ENVIRONMENT="${ASPNETCORE_ENVIRONMENT:-Development}" DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
port="${PORT:-5080}"
dotnet build Service.csproj -v quiet -nologo
dotnet run --no-build --project Service.csproj -- migrate

cat <<INFO

  API        http://127.0.0.1:$port/api/v1
  OpenAPI    http://127.0.0.1:$port/openapi/v1.json
  Reference  http://127.0.0.1:$port/docs   (interactive API reference; Docs__Enabled turns it on outside Development)
  Probes     http://127.0.0.1:$port/health/live  /health/ready  /health/migrations
  Stop the servers with: scripts/services.sh stop dev

INFO
exec dotnet run --no-build --project Service.csproj --urls "http://127.0.0.1:$port"
