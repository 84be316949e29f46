#!/usr/bin/env bash
# Install what CloudAI needs on Debian 12 (run as root), idempotently:
#   scripts/install-deps.sh [docker] [postgres] [promtool] [registry] [ui] [chromium]
# Always: a Python virtual environment in .venv with CloudAI, its PostgreSQL driver and
#         its dev tools.
# docker:   Debian's docker.io + busybox-static, and a running dockerd
#           (--bridge=none --iptables=false: task containers use network "none").
# postgres: Debian's PostgreSQL server.
# promtool: Debian's prometheus package, for its promtool (the test suite checks the
#           master's /metrics output with `promtool check metrics`).
# registry: Debian's docker-registry (distribution registry v2), for its binary only: the
#           pull tests start their own registries on loopback (tests/registry.py).
# ui:       Debian's nodejs and npm, when node or npm is missing (the dashboard's build, ui/).
# chromium: Debian's Chromium and fonts-liberation (the dashboard's Playwright tests).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

want_docker=0 want_postgres=0 want_promtool=0 want_registry=0 want_ui=0 want_chromium=0
for arg in "$@"; do
  case "$arg" in
    docker) want_docker=1 ;;
    postgres) want_postgres=1 ;;
    promtool) want_promtool=1 ;;
    registry) want_registry=1 ;;
    ui) want_ui=1 ;;
    chromium) want_chromium=1 ;;
    *) echo "unknown component: $arg" >&2; exit 2 ;;
  esac
done

packages=(python3-venv curl)  # curl: the README walkthrough, which a test runs
[ "$want_docker" = 1 ] && packages+=(docker.io busybox-static)
[ "$want_postgres" = 1 ] && packages+=(postgresql)
[ "$want_promtool" = 1 ] && packages+=(prometheus)
[ "$want_registry" = 1 ] && packages+=(docker-registry)
if [ "$want_ui" = 1 ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi
[ "$want_chromium" = 1 ] && packages+=(chromium fonts-liberation)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "== installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$want_registry" = 1 ] && command -v systemctl >/dev/null 2>&1; then
    # The package enables a system-wide registry on :5000; the tests need none of it.
    systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
  fi
  if [ "$want_promtool" = 1 ] && command -v systemctl >/dev/null 2>&1; then
    # Likewise the Prometheus server on :9090: only its promtool is wanted.
    systemctl disable --now prometheus.service prometheus-node-exporter.service \
      >/dev/null 2>&1 || true
  fi
fi

if [ "$want_docker" = 1 ] && ! docker info >/dev/null 2>&1; then
  echo "== starting dockerd"
  nohup dockerd --bridge=none --iptables=false --ip6tables=false \
    >/var/log/cloudai-dockerd.log 2>&1 &
  for _ in $(seq 1 120); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  if ! docker info >/dev/null 2>&1; then
    echo "error: dockerd did not start; its log:" >&2
    tail -n 40 /var/log/cloudai-dockerd.log >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# The [postgres] extra is the PostgreSQL driver (--db postgresql+psycopg://…, the store suite).
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev,postgres]'
