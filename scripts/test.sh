#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian 12 machine (as root),
# start dockerd and PostgreSQL on loopback, build the local test image (the pull tests
# start their own Docker registries, tests/registry.py), then run
# lint, type checks and the whole test suite: unit tests first, so they fail fast.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

scripts/install-deps.sh docker postgres promtool registry ui chromium

# PostgreSQL on loopback for the store suite (idempotent).
pg_version="$(ls /etc/postgresql | sort -V | tail -n 1)"
pg_ctlcluster "$pg_version" main start 2>/dev/null || true
for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 && break; sleep 0.5; done
pg_isready -h 127.0.0.1
psql_admin() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtAc \"$1\""; }
if [ -z "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname='cloudai'")" ]; then
  psql_admin "CREATE ROLE cloudai LOGIN SUPERUSER PASSWORD 'cloudai'"
fi
if [ -z "$(psql_admin "SELECT 1 FROM pg_database WHERE datname='cloudai_test'")" ]; then
  su postgres -c "createdb -O cloudai cloudai_test"
fi
export CLOUDAI_TEST_POSTGRES_URL="postgresql+psycopg://cloudai:cloudai@127.0.0.1:5432/cloudai_test"

scripts/build-test-image.sh
scripts/build-ui.sh  # the dashboard: served by the e2e master, typed by its generated client

py=.venv/bin
echo "== lint and types"
"$py/ruff" check src tests scripts
"$py/ruff" format --check src tests scripts
"$py/mypy"
echo "== import contracts (the layering; pyproject.toml [tool.importlinter])"
"$py/lint-imports" --no-cache
echo "== unit tests"
"$py/pytest" tests/unit -q -p no:cacheprovider
echo "== integration and end-to-end tests (SQLite, PostgreSQL, real dockerd)"
"$py/pytest" tests/integration tests/e2e tests/chaos -q -p no:cacheprovider
echo "== dashboard: component tests (Vitest) and end-to-end (Playwright on Chromium)"
(cd ui && npm test --silent && npm run --silent e2e)
