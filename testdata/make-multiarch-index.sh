#!/usr/bin/env bash
# make-multiarch-index.sh OUTDIR [TAG]
#
# An OCI layout whose index.json names, under TAG, a 2-platform image index
# (linux/amd64 and linux/arm64/v8): the same busybox layer under two config
# blobs, hence two manifests. No arm64 binary is involved; registries and
# copy tools only see the metadata. See make-base-image.sh.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/make-base-image.sh" \
  --platforms linux/amd64,linux/arm64/v8 "${1:?usage: make-multiarch-index.sh OUTDIR [TAG]}" \
  "${2:-latest}"
