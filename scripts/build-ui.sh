#!/usr/bin/env bash
# Build the web dashboard (ui/) into src/cloudai/api/static/ui/, which the master serves
# at `/`. Needs Node 20 and npm (scripts/install-deps.sh ui). Installs the pinned
# packages of ui/package-lock.json with `npm ci`, unless node_modules already matches it.
set -euo pipefail
cd "$(dirname "$0")/../ui"
if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is missing: run scripts/install-deps.sh ui" >&2
  exit 1
fi
stamp=node_modules/.cloudai-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "== npm ci (ui/)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi
echo "== building the dashboard"
npm run --silent build
