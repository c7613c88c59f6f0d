#!/usr/bin/env bash
# Installs the Debian packages hoist needs to build and test; installs only
# what is missing, so it is cheap to run again. Debian 12, as root (or sudo).
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config git
  libssl-dev libarchive-dev libzstd-dev zlib1g-dev libisal-dev libgit2-dev
  libcpp-httplib-dev libboost1.81-dev nlohmann-json3-dev catch2 libcli11-dev libyaml-cpp-dev libcrypt-dev libjwt-dev libxml2-dev libsodium-dev libsqlite3-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc)
TEST_PKGS=(curl jq python3 xz-utils bzip2 docker-registry skopeo umoci busybox-static apache2-utils zstd proot uidmap
  openssl python3-cryptography python3-nacl rpm clang libclang-rt-dev prometheus chromium
  ceph-mon ceph-osd radosgw ceph-common)
# `./dev run` (hoist up on examples/): the offline base image and RUN's
# sandbox (newuidmap for subordinate ids, proot where namespaces are blocked).
RUN_PKGS=(busybox-static uidmap proot)
BENCH_PKGS=(wrk hyperfine pigz buildah debootstrap)

want=("${BUILD_PKGS[@]}")
case "${1:-test}" in
  build) ;;
  run) want+=("${RUN_PKGS[@]}") ;;
  test) want+=("${TEST_PKGS[@]}") ;;
  bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
  *) echo "usage: setup.sh [build|run|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "setup: installing ${#missing[@]} Debian package(s) from Debian's mirror (a few minutes on a fresh machine): ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
started=$SECONDS
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
  { echo "setup: updating the package lists first" >&2 &&
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
echo "setup: installed in $((SECONDS - started)) s" >&2
