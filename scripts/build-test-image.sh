#!/usr/bin/env bash
# Build the tiny image the docker integration tests run: a static busybox, nothing else.
# No registry needed (there is no Docker Hub in CI): the rootfs is imported from a tar.
# Idempotent: an existing image built from the same busybox binary is kept as is;
# set FORCE=1 to rebuild anyway.
# Requires Debian's busybox-static (a dynamically linked busybox cannot run in an
# empty rootfs).
set -euo pipefail

IMAGE="${IMAGE:-cloudai-test:latest}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
LABEL="cloudai.busybox_sha256"

if [ ! -x "$BUSYBOX" ]; then
  echo "error: $BUSYBOX not found; install it with: apt-get install busybox-static" >&2
  exit 1
fi
if ldd "$BUSYBOX" >/dev/null 2>&1; then
  echo "error: $BUSYBOX is dynamically linked; install busybox-static instead" >&2
  exit 1
fi

want="$(sha256sum "$BUSYBOX" | cut -d' ' -f1)"
have="$(docker image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)"
if [ "${FORCE:-0}" != 1 ] && [ "$have" = "$want" ]; then
  echo "$IMAGE is up to date (busybox sha256 $want)"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

rm -rf "$tmp/rootfs" && mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/output" "$tmp/rootfs/tmp"
cp "$BUSYBOX" "$tmp/rootfs/bin/busybox"
for a in $("$tmp/rootfs/bin/busybox" --list); do
  [ "$a" = busybox ] || ln -s busybox "$tmp/rootfs/bin/$a"
done
chmod 1777 "$tmp/rootfs/tmp"
tar -C "$tmp/rootfs" -c . \
  | docker import -c 'ENV PATH=/bin' -c "LABEL $LABEL=$want" - "$IMAGE" >/dev/null
echo "built $IMAGE (busybox sha256 $want)"
