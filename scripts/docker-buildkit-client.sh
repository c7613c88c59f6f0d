#!/usr/bin/env bash
# Prints the path of a docker CLI whose built-in BuildKit client speaks
# the Engine API's session protocol (POST /session, /build?version=2), for
# tests and benchmarks of `hoist engine`'s BuildKit path. Newer docker
# CLIs hand BuildKit builds to the buildx plugin, which Debian 12 does not
# ship; Debian's docker.io (20.10) has it built in. Only the client binary
# is taken from that package (no daemon is installed): the .deb is fetched
# from Debian's mirror with apt and unpacked once.
set -euo pipefail
DEST=${HOIST_DOCKER_BUILDKIT_DIR:-/usr/local/lib/hoist-test/docker-20.10}
if [ ! -x "$DEST/docker" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "docker-buildkit-client: unpacking the docker client of Debian's docker.io into $DEST" >&2
  (cd "$tmp" && apt-get download -qq docker.io 2>/dev/null) ||
    (apt-get update -qq && cd "$tmp" && apt-get download -qq docker.io 2>/dev/null)
  dpkg-deb -x "$tmp"/docker.io_*.deb "$tmp/x"
  mkdir -p "$DEST"
  install -m 0755 "$tmp/x/usr/bin/docker" "$DEST/docker.tmp"
  mv "$DEST/docker.tmp" "$DEST/docker"
fi
echo "$DEST/docker"
