#!/usr/bin/env bash
# Install CloudAI on Debian 12 (as root) and run `cloudai up`. Docker is installed and
# dockerd started when possible; when Docker cannot be had, CloudAI still starts and says
# clearly that it runs tasks as plain local processes, without a sandbox.
# Extra arguments go to `cloudai up` (e.g. --workers 2 --http-port 9090).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! scripts/install-deps.sh docker; then
  echo "warning: Docker could not be installed or started; tasks will run UNSANDBOXED" >&2
  scripts/install-deps.sh
fi
scripts/build-test-image.sh 2>/dev/null || true  # the tiny local image the examples use
# The web dashboard, served at / (Node 20 and npm; Debian's are installed if missing).
command -v npm >/dev/null 2>&1 || scripts/install-deps.sh ui || true
if ! scripts/build-ui.sh; then
  echo "WARNING: the web dashboard could not be built; the API works, / says how to build it" >&2
fi
exec .venv/bin/cloudai up "$@"
