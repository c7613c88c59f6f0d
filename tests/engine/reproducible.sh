#!/usr/bin/env bash
# Reproducibility: the same Dockerfile and files in two directories, built
# at different times (other file mtimes, other stores, nothing cached)
# give byte-identical images, with and without SOURCE_DATE_EPOCH and with
# zstd layers.
source "$(dirname "${BASH_SOURCE[0]}")/engine_lib.sh"

start_registry
push_base

cp -a "$BUILD_TESTDATA/repro" "$T/a"
cp -a "$BUILD_TESTDATA/repro" "$T/b"
find "$T/b" -exec touch -h -d '2001-02-03 04:05:06' {} +

# build NAME DIR OUT ARGS...: a cold build of DIR in a store of its own.
build() {
  local name=$1 dir=$2 out=$3
  shift 3
  HOIST_HOME="$T/home-$name" hb "$T/build-$name.log" --build-arg "BASE=$BASE" \
    --output "oci:$out:img" "$@" "$dir"
}

a=$(build a "$T/a" "$T/out-a")
sleep 1.2
b=$(build b "$T/b" "$T/out-b")
expect "digest of the same build in two directories" "$b" "$a"
compare_layouts "$T/out-a" img "$T/out-b" img
cfg=$(layout_blob "$T/out-a" "$(jq -r .config.digest "$(layout_blob "$T/out-a" "$a")")")
expect "created without SOURCE_DATE_EPOCH (the base image's)" "$(jq -r .created "$cfg")" "1970-01-01T00:00:00Z"

# A warm rebuild (everything cached) gives the same image too.
again=$(build a "$T/a" "$T/out-a2")
expect "digest of a cached rebuild" "$again" "$a"
grep -q ' 0 step(s) run, 3 cached' "$T/build-a.log" || fail "the rebuild ran steps: $(tail -n 1 "$T/build-a.log")"

# SOURCE_DATE_EPOCH: other digests, still equal between the directories.
export SOURCE_DATE_EPOCH=1700000000
sa=$(build sa "$T/a" "$T/out-sa")
sleep 1.2
sb=$(build sb "$T/b" "$T/out-sb")
unset SOURCE_DATE_EPOCH
expect "digest with SOURCE_DATE_EPOCH in two directories" "$sb" "$sa"
[ "$sa" != "$a" ] || fail "SOURCE_DATE_EPOCH did not change the image"
m=$(layout_blob "$T/out-sa" "$sa")
expect "created annotation" "$(jq -r '.annotations["org.opencontainers.image.created"]' "$m")" \
  "2023-11-14T22:13:20Z"
scfg=$(layout_blob "$T/out-sa" "$(jq -r .config.digest "$m")")
expect "config created" "$(jq -r .created "$scfg")" "2023-11-14T22:13:20Z"
expect "history created" "$(jq -r '.history[-1].created' "$scfg")" "2023-11-14T22:13:20Z"
top=$(jq -r '.layers[-1].digest' "$m")
tar --numeric-owner --full-time -tvf "$(layout_blob "$T/out-sa" "$top")" | grep -q '2023-11-14 22:13:20 etc/app.conf$' ||
  fail "layer mtimes are not SOURCE_DATE_EPOCH"
# --source-date-epoch is the same as the variable.
fa=$(build fa "$T/a" "$T/out-fa" --source-date-epoch 1700000000)
expect "--source-date-epoch flag" "$fa" "$sa"

# zstd layers: the OCI zstd media type, and reproducible too.
za=$(build za "$T/a" "$T/out-za" --compression zstd)
sleep 1.2
zb=$(build zb "$T/b" "$T/out-zb" --compression zstd --compression-level 3)
expect "zstd digest in two directories" "$zb" "$za"
zm=$(layout_blob "$T/out-za" "$za")
expect "zstd media type" "$(jq -r '.layers[-1].mediaType' "$zm")" "application/vnd.oci.image.layer.v1.tar+zstd"
zstd -t -q "$(layout_blob "$T/out-za" "$(jq -r '.layers[-1].digest' "$zm")")" || fail "the zstd layer does not decompress"
log "OK: $a (default), $sa (SOURCE_DATE_EPOCH), $za (zstd)"
