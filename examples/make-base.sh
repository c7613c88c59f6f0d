#!/usr/bin/env bash
# make-base.sh [--platforms LIST] [OUTDIR]
#
# The example's base image, made offline: testdata/make-base-image.sh
# (busybox from Debian's busybox-static) as an OCI image layout in OUTDIR
# (default .hoist/base next to this script, which hoist.yaml imports), tag
# "latest". hoist.yaml also runs it as a command image with OUTDIR set to
# $HOIST_OUTPUT.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
platforms=()
if [ "${1:-}" = --platforms ]; then
  platforms=(--platforms "${2:?--platforms needs a value}")
  shift 2
fi
out=${1:-$here/.hoist/base}
mkdir -p "$(dirname "$out")"
exec bash "$here/../testdata/make-base-image.sh" "${platforms[@]}" "$out" latest
