// The build cache (DESIGN.md, "Data paths": a step's key is a digest over
// its parent key, the instruction after expansion and the digests of the
// files it reads; the value is the layer's descriptor and diff ID).
//
// Records live beside the content store, one small JSON file per key
// (paths.h: cache/<hex>.json), written atomically (temp + rename); the
// file's mtime is the record's last use (LRU). A record is a hit only
// while every blob it names is still in the store. Two kinds:
//   - "step": a layer step (COPY, ADD, WORKDIR, later RUN) -> its layer,
//     or none when the step changed nothing;
//   - "pull": a base image (reference + platform) -> the manifest pulled,
//     so eviction knows which blobs a base needs.
// Metadata instructions need no record: they are re-applied each build.
//
// Size bound: HOIST_CACHE_MAX (default 10 GiB) over the store's blobs and
// extracted root filesystems; Prune evicts least recently used records and
// rootfs extractions, then deletes blobs that no record and no local image
// (images.json) references.
//
// Safe for concurrent use by threads and processes (files are replaced
// atomically; a record pointing at a blob being pruned is simply a miss).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/store/content_store.h"
#include "common/digest.h"
#include "common/status.h"

namespace hoist::engine {

// Builds a step key: sha256 over the kind and named fields, each length-
// prefixed, so no two different field lists collide.
class CacheKeyBuilder {
 public:
  explicit CacheKeyBuilder(std::string_view kind);
  CacheKeyBuilder& Add(std::string_view name, std::string_view value);
  CacheKeyBuilder& Add(std::string_view name, const Digest& d) { return Add(name, d.str()); }
  Digest Finish() const { return DigestOf(buf_); }

 private:
  std::string buf_;
};

struct LayerRef {
  std::string media_type;
  Digest digest = Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0'));
  int64_t size = 0;
  Digest diff_id = Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0'));
  bool operator==(const LayerRef&) const = default;
};

struct CacheRecord {
  Digest key = Digest::FromHex(DigestAlgorithm::kSha256, std::string(64, '0'));
  std::string kind = "step";       // "step" | "pull"
  std::string description;         // for people: "COPY a /x", "alpine:3 linux/amd64"
  std::optional<LayerRef> layer;   // step: the layer made (none: the step changed nothing)
  std::optional<Digest> manifest;  // pull: the image manifest stored
  std::string manifest_media_type;
  std::vector<Digest> blobs;  // every blob this record keeps alive
};

class BuildCache {
 public:
  explicit BuildCache(store::ContentStore& store) : store_(store) {}
  BuildCache(const BuildCache&) = delete;
  BuildCache& operator=(const BuildCache&) = delete;

  // The record for `key` when it exists and all its blobs are stored, else
  // nullopt; marks the record used. Unreadable records are misses.
  std::optional<CacheRecord> Lookup(const Digest& key);
  // Writes (or replaces) a record. key and blobs must be set.
  Status Put(const CacheRecord& record);

 private:
  store::ContentStore& store_;
};

struct PruneOptions {
  bool all = false;  // every record and extraction; blobs only local images use survive
  // Evict least recently used entries until the store holds at most this.
  std::optional<uint64_t> keep_bytes;
  // Blobs, records and extractions younger than this are never removed
  // (another build may be about to use them). 0 for an explicit prune.
  int64_t min_age_sec = 0;
};

struct PruneReport {
  int records_removed = 0;
  int rootfs_removed = 0;
  int blobs_removed = 0;
  int run_caches_removed = 0;  // RUN --mount=type=cache directories (with `all`)
  uint64_t bytes_freed = 0;
  uint64_t bytes_kept = 0;  // blobs + extractions left
};

// Prunes the cache under `store` (see the top of this file). Without `all`
// and `keep_bytes` it only deletes unreferenced blobs and stale
// temporaries.
Result<PruneReport> Prune(store::ContentStore& store, const PruneOptions& options);

// "10GiB", "512MB", "1g", "4096" -> bytes (docker's units: k/m/g/t as
// powers of 1024, with or without "b"/"ib"). kInvalidArgument otherwise.
Result<uint64_t> ParseSize(std::string_view s);
// HOIST_CACHE_MAX parsed, or 10 GiB when unset; kInvalidArgument when malformed.
Result<uint64_t> CacheMaxBytes();

}  // namespace hoist::engine
